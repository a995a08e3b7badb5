package io.ionllama.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Failures the CLI turns into one line: here TornadoVM's device-memory failure, met by name. */
class ErrorsTest {

    /** Stands in for TornadoVM's exception of that name (this module is compiled without TornadoVM). */
    static final class TornadoOutOfMemoryException extends RuntimeException {
        TornadoOutOfMemoryException(String message) {
            super(message);
        }
    }

    @Test
    void deviceOutOfMemoryIsOneLineWithTheFlagToRaise() {
        // TornadoVM's own message, colours and second line included, as a cause of the step's failure.
        Exception e = new IllegalStateException("step failed", new TornadoOutOfMemoryException(
                "Unable to allocate 8388624 bytes of memory.\u001B[33m\n\tTo increase the maximum device memory, use"
                        + " -Dtornado.device.memory=<X>GB\n\u001B[0m"));
        CommandLine cmd = new CommandLine(new Main());
        StringWriter err = new StringWriter();
        cmd.setErr(new PrintWriter(err, true));
        int code = Errors.handle(e, cmd, null);
        assertThat(code).isEqualTo(3);
        assertThat(err.toString().strip().lines()).hasSize(1);
        assertThat(err.toString().strip()).isEqualTo("ionllama: the device is out of memory (Unable to allocate 8388624 bytes of"
                + " memory.); raise -Dtornado.device.memory in tornado-config/jvm.flags (within the device's memory: ionllama"
                + " devices) or use a smaller --size/--batch-size");
    }

    @Test
    void outOfMemoryNamesTheVariableTheLauncherReads() {
        java.io.PrintStream oldErr = System.err;
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        int code;
        try {
            System.setErr(new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
            code = Errors.handleOom(new OutOfMemoryError("Java heap space"));
        } finally {
            System.setErr(oldErr);
        }
        String line = err.toString(java.nio.charset.StandardCharsets.UTF_8).strip();
        assertThat(code).isEqualTo(3);
        assertThat(line.lines()).hasSize(1);
        assertThat(line).startsWith("ionllama: out of memory (Java heap space)").contains("IONLLAMA_JVM_OPTS=-Xmx")
                .doesNotContain("JAVA_OPTS");
    }

    @Test
    void otherFailuresAreNotTakenForIt() {
        assertThat(Errors.deviceOutOfMemory(new IllegalStateException("x", new RuntimeException("Unable to allocate")))).isNull();
    }
}
