package io.ionllama.cli;

import io.ionllama.backend.Backends;
import java.io.IOException;
import java.io.UncheckedIOException;
import picocli.CommandLine;

/**
 * Turns failures into one line on standard error. Expected problems (bad input, a missing file,
 * an unavailable backend) carry their own message; anything else is a bug and says so, with the
 * stack trace only when IONLLAMA_DEBUG is set.
 */
final class Errors {
    private Errors() {}

    /** A user-facing failure: its message is the whole story. */
    static final class UserError extends RuntimeException {
        UserError(String message) {
            super(message);
        }
    }

    static int handle(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
        String device = deviceOutOfMemory(e);
        if (device != null) {
            cmd.getErr().println("ionllama: the device is out of memory (" + device + "); raise -Dtornado.device.memory in"
                    + " tornado-config/jvm.flags (within the device's memory: ionllama devices) or use a smaller --size/--batch-size");
            if (System.getenv("IONLLAMA_DEBUG") != null) {
                e.printStackTrace(cmd.getErr());
            }
            return 3;
        }
        String line;
        if (e instanceof UserError || e instanceof Backends.UnavailableException || e instanceof IllegalArgumentException
                || e instanceof io.ionllama.data.Corpus.DataException || e instanceof io.ionllama.train.Checkpoint.CheckpointException
                || e instanceof io.ionllama.train.Trainer.DivergedException) {
            line = e.getMessage();
        } else if (e instanceof java.nio.file.NoSuchFileException nf) {
            line = "no such file: " + nf.getMessage();
        } else if (e instanceof IOException || e instanceof UncheckedIOException) {
            line = "I/O error: " + e.getMessage();
        } else {
            line = "internal error: " + e;
        }
        cmd.getErr().println("ionllama: " + line);
        if (System.getenv("IONLLAMA_DEBUG") != null) {
            e.printStackTrace(cmd.getErr());
        }
        return line.startsWith("internal error") || line.startsWith("I/O error") ? 1 : 2;
    }

    /**
     * The first line of TornadoVM's message when {@code e} or a cause is its device-memory failure
     * (matched by name: this class is compiled without TornadoVM), without its terminal colours;
     * else null.
     */
    static String deviceOutOfMemory(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String name = t.getClass().getSimpleName();
            if (name.equals("TornadoOutOfMemoryException") || name.equals("TornadoMemoryException")) {
                String msg = String.valueOf(t.getMessage()).replaceAll("\u001B\\[[0-9;]*m", "").strip();
                int nl = msg.indexOf('\n');
                return nl < 0 ? msg : msg.substring(0, nl).strip();
            }
        }
        return null;
    }

    /** A bad flag or value: one line naming it, and where to look. */
    static int handleBadArguments(CommandLine.ParameterException e, String[] args) {
        CommandLine cmd = e.getCommandLine();
        cmd.getErr().println("ionllama: " + e.getMessage() + " (see '" + cmd.getCommandSpec().qualifiedName() + " --help')");
        return 2;
    }

    static int handleOom(OutOfMemoryError e) {
        System.err.println(outOfMemory(e));
        return 3;
    }

    /** The advice names the variable scripts/ionllama reads for JVM flags (it reads no JAVA_OPTS). */
    static String outOfMemory(OutOfMemoryError e) {
        return "ionllama: out of memory (" + e.getMessage() + "); use a smaller --size/--batch-size or raise the heap, e.g."
                + " IONLLAMA_JVM_OPTS=-Xmx16g scripts/ionllama ... (java -Xmx16g with java -jar)";
    }
}
