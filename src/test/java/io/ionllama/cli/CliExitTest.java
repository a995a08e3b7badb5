package io.ionllama.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.train.Checkpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The CLI as a user meets it, in a child JVM: how it ends after an error or a signal. Each error
 * is one line on standard error and the process ends within 2 seconds of its last word.
 */
class CliExitTest {

    /** The JVM's own notice when the Vector API module is added: not ours. */
    static final String INCUBATOR = "WARNING: Using incubator modules";

    @TempDir
    Path dir;

    static List<String> errLines(ChildCli c) {
        return c.err.stream().map(ChildCli.Line::text).filter(l -> !l.startsWith(INCUBATOR)).toList();
    }

    @Test
    void aTrainingErrorEndsWithinTwoSecondsOfItsMessage() throws Exception {
        Path out = dir.resolve("run");
        // A folder where latest.safetensors goes: the first save fails, after the run has started.
        Files.createDirectories(out.resolve("latest.safetensors"));
        Files.writeString(out.resolve("latest.safetensors").resolve("x"), "x");
        try (ChildCli c = ChildCli.start(TrainCommandTest.args("--max-steps", "2", "--eval-every", "100", "--out", out.toString()))) {
            int code = c.awaitExit(120);
            assertThat(code).as(c.outText() + c.errText()).isEqualTo(2);
            List<String> err = errLines(c);
            assertThat(err).as(c.errText()).hasSize(1);
            assertThat(err.get(0)).startsWith("ionllama: cannot write checkpoint ").contains("latest.safetensors")
                    .doesNotContain("Exception");
            assertThat(c.secondsAfter(c.err.get(c.err.size() - 1))).isLessThan(ChildCli.exitLimitSeconds());
        }
    }

    @ParameterizedTest
    @CsvSource({"TERM, 143", "INT, 130"})
    void aSignalFinishesTheStepSavesAndEndsWithinTwoSeconds(String signal, int expectedCode) throws Exception {
        Path out = dir.resolve("run");
        try (ChildCli c = ChildCli.start(TrainCommandTest.args("--max-steps", "100000", "--eval-every", "100000",
                "--log-every", "1", "--out", out.toString()))) {
            assertThat(c.awaitOut(l -> l.startsWith("step 2/"), 120)).as(c.outText() + c.errText()).isNotNull();
            c.signal(signal);
            ChildCli.Line stopped = c.awaitOut(l -> l.startsWith("stopped after"), 60);
            assertThat(stopped).as(c.outText() + c.errText()).isNotNull();
            int code = c.awaitExit(30);
            assertThat(code).isEqualTo(expectedCode);
            assertThat(c.secondsAfter(c.out.get(c.out.size() - 1))).isLessThan(ChildCli.exitLimitSeconds());
            assertThat(errLines(c)).as(c.errText()).isEmpty();
            // No evaluation ran: the summary says so and names no plot that was never written.
            assertThat(c.outText()).doesNotContain("Infinity", "curves.png").contains("no evaluation");
            assertThat(Checkpoint.readMeta(out.resolve("latest.safetensors")).step()).isGreaterThanOrEqualTo(2);
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "train --batch-size 2147483647 | --batch-size",
        "train --max-time -5m | --max-time",
        "train --threads 100000 | --threads",
        "eval --checkpoint NONE | no checkpoint"})
    void badArgumentsAreOneLineAndAQuickExit(String line, String mentions) throws Exception {
        String[] args = line.replace("NONE", dir.resolve("none").toString()).split(" ");
        try (ChildCli c = ChildCli.start(args)) {
            int code = c.awaitExit(60);
            assertThat(code).as(c.outText() + c.errText()).isEqualTo(2);
            List<String> err = errLines(c);
            assertThat(err).as(c.errText()).hasSize(1);
            assertThat(err.get(0)).startsWith("ionllama: ").contains(mentions).doesNotContain("Exception", "\tat ");
            assertThat(c.secondsAfter(c.err.get(c.err.size() - 1))).isLessThan(ChildCli.exitLimitSeconds());
        }
    }
}
