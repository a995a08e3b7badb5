package io.ionllama.cli;

import org.jline.terminal.spi.SystemStream;
import org.jline.terminal.spi.TerminalProvider;

/**
 * Whether standard input and output are terminals. {@code System.console()} cannot tell any more
 * (since JDK 22 it returns a console for redirected streams too), so this asks JLine's exec
 * provider, which checks the file descriptors themselves; where that fails it falls back on
 * {@code System.console()}.
 */
final class Tty {
    private Tty() {}

    static boolean stdin() {
        return is(SystemStream.Input);
    }

    static boolean stdout() {
        return is(SystemStream.Output);
    }

    private static boolean is(SystemStream stream) {
        try {
            return TerminalProvider.load("exec").isSystemStream(stream);
        } catch (Exception | LinkageError e) {
            return System.console() != null;
        }
    }
}
