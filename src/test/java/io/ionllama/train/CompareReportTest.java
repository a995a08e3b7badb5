package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.model.IonLlama;
import io.ionllama.testing.CpuBackendTest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** scripts/compare's report: one table row per run folder (a missing run noted), and the plot. */
class CompareReportTest extends CpuBackendTest {

    @TempDir
    Path out;

    @Test
    void summaryTableAndPlotFromRunFolders() throws Exception {
        Path run = Files.createDirectories(out.resolve("tiny"));
        IonLlama m = ResumeTest.model();
        Checkpoint.save(run.resolve("latest.safetensors"), m, null, 0, Double.NaN, null);
        Files.writeString(run.resolve("flags.txt"), "--size tiny");
        Files.writeString(run.resolve("lr.txt"), "0.003");
        Files.writeString(run.resolve("eval.json"), """
                {"checkpoint": "x", "results": [{"data": "v", "bytes": 1000, "bpb": 1.2345, "bytes_per_patch": 3.5}]}
                """);
        Files.write(run.resolve("metrics.jsonl"), List.of(
                "{\"kind\":\"train\",\"step\":1,\"bpb\":8.0,\"bytes_per_s\":900.0,\"elapsed_s\":1.0}",
                "{\"kind\":\"valid\",\"step\":1,\"bpb\":7.5,\"elapsed_s\":1.5}",
                "{\"kind\":\"train\",\"step\":50,\"bpb\":2.0,\"bytes_per_s\":1000.0,\"elapsed_s\":30.0}",
                "{\"kind\":\"valid\",\"step\":50,\"bpb\":1.9,\"bytes_seen\":31000,\"elapsed_s\":31.0}"));
        Path lr = Files.createDirectories(out.resolve("sweep/tiny/lr-0.006"));
        Files.write(lr.resolve("metrics.jsonl"), List.of("{\"kind\":\"valid\",\"step\":5,\"bpb\":2.5,\"elapsed_s\":5.0}"));
        Files.writeString(out.resolve("sweep/tiny/best.txt"), "0.006\n");
        Files.createDirectories(out.resolve("rnn"));
        Files.writeString(out.resolve("rnn/skipped.txt"), "skipped: --model rnn is not in this build");

        CompareReport.main(new String[] {out.toString(), "tiny", "rnn"});

        String md = Files.readString(out.resolve("summary.md"));
        assertThat(md).contains("| tiny | `--size tiny` | 0.003 | " + String.format(java.util.Locale.ROOT, "%,d", m.layout().total()))
                .contains("**1.2345**").contains("3.50").contains("1,000").contains("0.006: 2.500*")
                .contains("| rnn |").contains("skipped: --model rnn is not in this build");
        var png = ImageIO.read(out.resolve("valid-bpb-vs-time.png").toFile());
        assertThat(png.getWidth()).isEqualTo(1000);
    }
}
