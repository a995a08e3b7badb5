package io.ionllama.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code train --plot-x} and the TensorBoard events file next to metrics.jsonl. */
class TrainPlotXTest {

    @TempDir
    Path dir;

    @Test
    void timeAxisRunWritesPlotAndEventsFile() throws IOException {
        Path out = dir.resolve("run");
        CliTest.Result r = CliTest.run(TrainCommandTest.args("--max-steps", "3", "--eval-every", "3", "--plot-x", "time",
                "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(out.resolve("curves.png")).exists();
        try (Stream<Path> s = Files.list(out)) {
            assertThat(s.map(p -> p.getFileName().toString())).anyMatch(n -> n.startsWith("events.out.tfevents."));
        }
        assertThat(Files.readString(out.resolve("metrics.jsonl"))).contains("\"bytes_seen\"", "\"elapsed_s\"");
    }

    @Test
    void unknownAxisIsAOneLineError() {
        CliTest.Result r = CliTest.run(TrainCommandTest.args("--plot-x", "sideways", "--out", dir.resolve("x").toString()));
        assertThat(r.code()).isNotZero();
        assertThat(r.err().strip().lines()).as(r.err()).hasSize(1);
        assertThat(r.err()).startsWith("ionllama: ").contains("--plot-x must be step, bytes or time");
    }
}
