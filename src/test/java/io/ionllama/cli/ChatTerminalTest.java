package io.ionllama.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.jline.reader.LineReader;
import org.jline.terminal.Terminal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code ionllama chat} on a real pseudo-terminal: util-linux {@code script} runs the CLI (from
 * target/classes, since tests run before the jar is packaged) and the test types keystrokes into
 * it: line editing, history recall, a bad value, Ctrl-C during a reply, Ctrl-D to leave.
 */
class ChatTerminalTest {
    /** How long to wait for the terminal to show something: generous, since a loaded machine starts a JVM slowly; it is patience, not a speed claim. */
    private static final int PATIENCE_S = 60;

    @TempDir
    Path dir;

    private final StringBuffer screen = new StringBuffer();

    @Test
    @Timeout(300)
    void replOnAPseudoTerminal() throws Exception {
        Path script = Path.of("/usr/bin/script");
        assumeThat(Files.isExecutable(script)).as("util-linux 'script' is needed to run a pseudo-terminal: not found, test skipped").isTrue();
        Path classes = Path.of("target", "classes");
        assumeThat(Files.exists(classes.resolve("io/ionllama/cli/Main.class"))).as("target/classes not built: test skipped").isTrue();
        Path ckpt = CliHarness.tinyCheckpoint(dir.resolve("tiny.safetensors"));

        Set<String> cp = new LinkedHashSet<>();
        cp.add(classes.toAbsolutePath().toString());
        for (Class<?> c : new Class<?>[] {CommandLine.class, LineReader.class, Terminal.class}) {
            cp.add(Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString());
        }
        cp.addAll(List.of(System.getProperty("java.class.path").split(File.pathSeparator)));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // exec: otherwise the shell script(1) starts (dash on Debian) also gets the Ctrl-C and dies of it after java exits.
        String cmd = String.join(" ", "exec", q(java), "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", q(String.join(File.pathSeparator, cp)), "io.ionllama.cli.Main", "chat", "--checkpoint", q(ckpt.toString()),
                "--threads", "1", "--seed", "1", "--stop", "''");
        ProcessBuilder pb = new ProcessBuilder(script.toString(), "-qfec", cmd, "/dev/null").redirectErrorStream(true);
        pb.environment().put("TERM", "xterm");
        pb.environment().put("SHELL", "/bin/sh");
        pb.environment().put("IONLLAMA_CACHE", dir.resolve("cache").toString());
        Process p = pb.start();
        Thread reader = new Thread(() -> pump(p.getInputStream()));
        reader.setDaemon(true);
        reader.start();
        OutputStream keys = p.getOutputStream();
        try {
            awaitPrompts(1);
            type(keys, "/temp 0.3\r");
            await("temperature 0.3,");
            awaitPrompts(2);
            // History: Ctrl-P recalls the last line; Backspace, then a new last digit.
            type(keys, "\u0010\u007f4\r");
            await("temperature 0.4,");
            awaitPrompts(3);
            // Editing: Backspace mid-word, Ctrl-A to the start, insert there, Ctrl-E to the end.
            type(keys, "topk 12\u007f3\u0001/\u0005\r");
            await("top-k 13,");
            awaitPrompts(4);
            type(keys, "/temp 5\r");
            await("/temp must be between 0 and 2 (got 5)");
            awaitPrompts(5);
            type(keys, "/length 1000000\r");
            await("length 1000000");
            awaitPrompts(6);
            int before = screen.length();
            type(keys, "hello\r");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(PATIENCE_S);
            while (screen.length() < before + 200 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(p.isAlive()).as(screen.toString()).isTrue();
            type(keys, "\u0003");
            await("[stopped]");
            awaitPrompts(7);
            type(keys, "/config\r");
            await("top-k 13, top-p 0.95, length 1000000");
            awaitPrompts(8);
            type(keys, "\u0004");
            assertThat(p.waitFor(PATIENCE_S, TimeUnit.SECONDS)).as(screen.toString()).isTrue();
            assertThat(p.exitValue()).as(screen.toString()).isZero();
            assertThat(screen.toString()).contains("ionllama chat: nano model").doesNotContain("Exception").doesNotContain("WARNING: A restricted");
            assertThat(Files.readString(dir.resolve("cache").resolve("chat_history"))).contains("/temp 0.3", "/temp 0.4", "/topk 13", "hello");
        } finally {
            keys.close();
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
    }

    private static String q(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    private static void type(OutputStream keys, String s) throws IOException {
        keys.write(s.getBytes(StandardCharsets.UTF_8));
        keys.flush();
    }

    private void pump(InputStream in) {
        byte[] buf = new byte[4096];
        try {
            for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
                screen.append(new String(buf, 0, n, StandardCharsets.UTF_8));
            }
        } catch (IOException ignored) {
            // The process went away.
        }
    }

    private void await(String text) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(PATIENCE_S);
        while (!screen.toString().contains(text)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no '" + text + "' on the terminal within " + PATIENCE_S + " s; it shows:\n" + screen);
            }
            Thread.sleep(20);
        }
    }

    /** Waits until JLine has shown its prompt {@code n} times (keys typed before it would meet the tty's cooked mode). */
    private void awaitPrompts(int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(PATIENCE_S);
        while (count(screen.toString(), "> ") < n) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("prompt " + n + " did not appear within 20 s; the terminal shows:\n" + screen);
            }
            Thread.sleep(20);
        }
    }

    private static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + what.length())) {
            n++;
        }
        return n;
    }
}
