package io.ionllama.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import io.ionllama.train.Checkpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvalCommandTest {

    @TempDir
    Path dir;

    @Test
    void scoresWholeFilesAndWritesResults() throws Exception {
        ModelConfig c = new ModelConfig("nano", 16, 16, 1, 2, 1, 1, 8, 1, new int[] {3}, 31, 32, 32, 2, 8, 3f).validate();
        Path ckpt = dir.resolve("m.safetensors");
        try (CpuBackend cpu = new CpuBackend(1)) {
            IonLlama m = new IonLlama(c, cpu, Patcher.parse("fixed:3", 8, 3f), false);
            m.init(1);
            Checkpoint.save(ckpt, m, null, 0, Double.NaN, null);
        }
        Path text = dir.resolve("t.txt");
        Files.writeString(text, "hello world, ".repeat(40));
        Path json = dir.resolve("results.json");
        CliTest.Result r = CliTest.run("eval", "--checkpoint", ckpt.toString(), "--data", text.toString(), "--seq-len", "64",
                "--results", json.toString(), "--threads", "1");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("t.txt", "519"); // 520 bytes: every byte after the first scored once
        assertThat(Files.readString(json)).contains("\"bpb\"", "\"bytes\": 519");

        CliTest.Result bad = CliTest.run("eval", "--checkpoint", dir.resolve("none").toString());
        assertThat(bad.code()).isNotZero();
        assertThat(bad.err().strip().lines()).hasSize(1);
        CliTest.Result badData = CliTest.run("eval", "--checkpoint", ckpt.toString(), "--data", dir.resolve("nope.txt").toString());
        assertThat(badData.code()).isNotZero();
        assertThat(badData.err()).startsWith("ionllama: ").contains("no such file");
    }
}
