package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsLogTest {

    @Test
    void resumeKeepsEarlierRecordsAndContinuesTheClock(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("metrics.jsonl");
        Files.write(f, List.of(
                "{\"kind\":\"train\",\"step\":1,\"bpb\":8.0}", // from before bytes_seen/elapsed_s existed
                "{\"kind\":\"train\",\"step\":10,\"bpb\":4.0,\"bytes_seen\":20480,\"elapsed_s\":12.5}",
                "{\"kind\":\"valid\",\"step\":10,\"bpb\":4.2,\"bytes_seen\":20480,\"elapsed_s\":13.0}",
                "{\"kind\":\"train\",\"step\":20,\"bpb\":3.0,\"bytes_seen\":40960,\"elapsed_s\":25.0}",
                "{\"kind\":\"tr"), StandardCharsets.UTF_8);
        try (MetricsLog log = new MetricsLog(f, 10)) {
            assertThat(log.lastElapsed()).isEqualTo(13.0);
            assertThat(log.train).hasSize(2);
            assertThat(log.train.get(0)).containsExactly(1, 8.0, Double.NaN, Double.NaN);
            assertThat(log.train.get(1)).containsExactly(10, 4.0, 20480, 12.5);
            assertThat(log.valid.get(0)).containsExactly(10, 4.2, 20480, 13.0);
            log.write(Map.of("kind", "train", "step", 15L, "bpb", 3.5, "bytes_seen", 30720L, "elapsed_s", 19.0));
            assertThat(log.lastElapsed()).isEqualTo(19.0);
        }
        assertThat(Files.readAllLines(f)).hasSize(4).last().asString().contains("\"step\":15");
    }

    @Test
    void scalarTagsFollowTheRecordKind() {
        assertThat(MetricsLog.scalars(Map.of("kind", "valid", "step", 5L, "bpb", 1.5, "perplexity", 3.0, "time", 1.0)))
                .containsOnlyKeys("valid/bpb");
        assertThat(MetricsLog.scalars(Map.of("kind", "train", "bytes_per_s", 10.0, "lr", 1e-3f, "skipped", 0L)))
                .containsOnlyKeys("train/bytes_per_sec", "train/lr");
    }
}
