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
        assertThat(r.out()).contains("t.txt", "520"); // 520 bytes: every byte scored once, the first as a uniform guess
        assertThat(Files.readString(json)).contains("\"bpb\"", "\"bytes\": 520");

        CliTest.Result bad = CliTest.run("eval", "--checkpoint", dir.resolve("none").toString());
        assertThat(bad.code()).isNotZero();
        assertThat(bad.err().strip().lines()).hasSize(1);
        CliTest.Result badData = CliTest.run("eval", "--checkpoint", ckpt.toString(), "--data", dir.resolve("nope.txt").toString());
        assertThat(badData.code()).isNotZero();
        assertThat(badData.err()).startsWith("ionllama: ").contains("no such file");
        assertThat(badData.out()).as("no table header before the failure").isEmpty();

        // An unwritable --results fails before the evaluation, not after it.
        Path nowhere = dir.resolve("no-such-folder").resolve("results.json");
        CliTest.Result badResults = CliTest.run("eval", "--checkpoint", ckpt.toString(), "--data", text.toString(),
                "--results", nowhere.toString(), "--threads", "1");
        assertThat(badResults.code()).isEqualTo(2);
        assertThat(badResults.err().strip().lines()).hasSize(1);
        assertThat(badResults.err()).startsWith("ionllama: --results ").contains("does not exist");
        assertThat(badResults.out()).isEmpty();
        CliTest.Result onFolder = CliTest.run("eval", "--checkpoint", ckpt.toString(), "--results", dir.toString(), "--threads", "1");
        assertThat(onFolder.code()).isEqualTo(2);
        assertThat(onFolder.err()).contains("is a folder");
    }

    /** The first byte of a file has no context: it costs 8 bits (a uniform guess), so the total is every byte's. */
    @Test
    void theFirstByteIsChargedAsAUniformGuess() throws Exception {
        Path ckpt = CliHarness.tinyCheckpoint(dir.resolve("m.safetensors"));
        Path text = Files.writeString(dir.resolve("t.txt"), "abcabcabcabcabcabcabcabc");
        Path json = dir.resolve("r.json");
        CliTest.Result r = CliTest.run("eval", "--checkpoint", ckpt.toString(), "--data", text.toString(), "--seq-len", "8",
                "--results", json.toString(), "--threads", "1");
        assertThat(r.code()).as(r.err()).isZero();
        com.google.gson.JsonObject row = com.google.gson.JsonParser.parseString(Files.readString(json)).getAsJsonObject()
                .getAsJsonArray("results").get(0).getAsJsonObject();
        assertThat(row.get("bytes").getAsLong()).isEqualTo(24);
        // A file of one byte is that byte alone: exactly 8 bits, a miss.
        try (io.ionllama.backend.cpu.CpuBackend cpu = new io.ionllama.backend.cpu.CpuBackend(1)) {
            io.ionllama.train.Evaluator.Result one = io.ionllama.train.Evaluator.whole(Checkpoint.loadModel(ckpt, cpu),
                    io.ionllama.data.ByteSource.of(new byte[] {'a'}), 8, 8);
            assertThat(one.bytes()).isEqualTo(1);
            assertThat(one.bpb()).isEqualTo(8.0);
            assertThat(one.accuracy()).isZero();
        }
    }
}
