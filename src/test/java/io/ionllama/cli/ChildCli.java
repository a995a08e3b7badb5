package io.ionllama.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The CLI in a child JVM (this JVM's java and class path, the Vector API module), so a test sees
 * what a user sees: the exit code, every line of both streams, and when each line came and when
 * the process ended. In-process runs cannot show a hang in System.exit or a shutdown hook.
 */
final class ChildCli implements AutoCloseable {

    /** One line of output and when it was read (System.nanoTime). */
    record Line(String text, long nanos) {}

    final Process process;
    final List<Line> out = new CopyOnWriteArrayList<>(), err = new CopyOnWriteArrayList<>();
    private final Thread outReader, errReader;
    private long exitNanos;

    private ChildCli(Process process) {
        this.process = process;
        this.outReader = reader(process.getInputStream(), out);
        this.errReader = reader(process.getErrorStream(), err);
    }

    static ChildCli start(String... args) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "-Xss4m", "-Xmx1g",
                "-cp", System.getProperty("java.class.path"), "io.ionllama.cli.Main"));
        cmd.addAll(List.of(args));
        return new ChildCli(new ProcessBuilder(cmd).start());
    }

    private static Thread reader(InputStream in, List<Line> lines) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    lines.add(new Line(l, System.nanoTime()));
                }
            } catch (IOException ignored) {
                // The process is gone: what was read is what there is.
            }
        });
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Waits up to {@code seconds} for a line of standard output matching {@code p}; null if none came. */
    Line awaitOut(Predicate<String> p, double seconds) throws InterruptedException {
        long deadline = System.nanoTime() + (long) (seconds * 1e9);
        while (System.nanoTime() < deadline) {
            for (Line l : out) {
                if (p.test(l.text())) {
                    return l;
                }
            }
            if (!process.isAlive() && !outReader.isAlive()) {
                return null;
            }
            Thread.sleep(10);
        }
        return null;
    }

    /** Waits up to {@code seconds} for the process to end; its exit code, or -1 if it is still running. */
    int awaitExit(double seconds) throws InterruptedException {
        if (!process.waitFor((long) (seconds * 1000), TimeUnit.MILLISECONDS)) {
            return -1;
        }
        exitNanos = System.nanoTime();
        outReader.join(5000);
        errReader.join(5000);
        return process.exitValue();
    }

    /** Seconds from {@code line} to the end of the process (after {@link #awaitExit}). */
    double secondsAfter(Line line) {
        return (exitNanos - line.nanos()) / 1e9;
    }

    /**
     * How soon after its last message a child must have exited: 2 s on a machine with a core to
     * spare, stretched by the load (a child that gets a fifth of a core needs five times as long
     * to run down the JVM), at most 20 s. The hang this guards against lasted 60 s.
     */
    static double exitLimitSeconds() {
        double load = java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        double perCore = load / Runtime.getRuntime().availableProcessors();
        return Math.min(20.0, 2.0 * Math.max(1.0, perCore));
    }

    /** Sends a signal by name (INT, TERM) with kill(1): Java has no portable SIGINT. */
    void signal(String name) throws IOException, InterruptedException {
        new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start().waitFor();
    }

    String errText() {
        StringBuilder sb = new StringBuilder();
        err.forEach(l -> sb.append(l.text()).append('\n'));
        return sb.toString();
    }

    String outText() {
        StringBuilder sb = new StringBuilder();
        out.forEach(l -> sb.append(l.text()).append('\n'));
        return sb.toString();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
