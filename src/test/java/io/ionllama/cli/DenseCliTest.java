package io.ionllama.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.train.Checkpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --model dense} through the CLI: train, resume, generate, chat, eval, demo and info on its checkpoint; bench step. */
class DenseCliTest {

    @TempDir
    Path dir;

    static final String[] TINY = {"--model", "dense", "--d-model", "16", "--layers", "2", "--heads", "2", "--mlp", "32",
        "--context", "64", "--batch-size", "2", "--seq-len", "32", "--sample-bytes", "8", "--no-progress", "--threads", "1"};

    static String[] train(String... more) {
        String[] a = new String[1 + TINY.length + more.length];
        a[0] = "train";
        System.arraycopy(TINY, 0, a, 1, TINY.length);
        System.arraycopy(more, 0, a, 1 + TINY.length, more.length);
        return a;
    }

    @Test
    void trainsAndEveryCommandTakesItsCheckpoint() throws Exception {
        Path out = dir.resolve("run");
        CliTest.Result r = CliTest.run(train("--max-steps", "4", "--eval-every", "2", "--log-every", "1", "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("dense d16 x2", "Muon lr 1.0e-02", "AdamW lr 1.0e-03", "sample:");
        Path latest = out.resolve("latest.safetensors");
        assertThat(Checkpoint.readMeta(latest).model()).isEqualTo("dense");
        assertThat(Checkpoint.readMeta(latest).raw()).containsEntry("train.optimizer", "muon").containsEntry("model.context", "64");
        assertThat(out.resolve("curves.png")).exists();

        CliTest.Result again = CliTest.run(train("--max-steps", "6", "--eval-every", "3", "--resume", out.toString()));
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.out()).contains("at step 4");
        assertThat(Checkpoint.readMeta(latest).step()).isEqualTo(6);

        // The dense checkpoint given to an ionllama run: one line that names the fix.
        CliTest.Result wrong = CliTest.run("train", "--resume", out.toString(), "--max-steps", "8", "--no-progress");
        assertThat(wrong.code()).isNotZero();
        assertThat(wrong.err().strip()).contains("checkpoint of the dense model, not of ionllama", "--model dense")
                .doesNotContain("\n").doesNotContain("Exception");

        CliTest.Result gen = CliTest.run("generate", "--checkpoint", out.toString(), "--prompt", "Once", "--max-new-bytes", "80",
                "--threads", "1", "--raw", "--no-echo");
        assertThat(gen.code()).as(gen.err()).isZero();

        CliHarness.Run chat = CliHarness.run("hello\n/quit\n", "chat", "--checkpoint", out.toString(), "--threads", "1",
                "--max-new-bytes", "20");
        assertThat(chat.code()).as(chat.err()).isZero();

        Path text = Files.writeString(dir.resolve("t.txt"), "the cat sat on the mat. ".repeat(20));
        CliTest.Result eval = CliTest.run("eval", "--checkpoint", latest.toString(), "--data", text.toString(), "--threads", "1");
        assertThat(eval.code()).as(eval.err()).isZero();
        assertThat(eval.out()).contains("t.txt");

        CliHarness.Run demo = CliHarness.run("", "demo", "--checkpoint", latest.toString(), "--threads", "1");
        assertThat(demo.code()).as(demo.err()).isZero();
        assertThat(demo.out()).contains("dense d16 x2 model");
    }

    @Test
    void infoPrintsTheSeedsDefaults() {
        CliTest.Result r = CliTest.run("info", "--model", "dense", "--no-tensors");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("d_model=192 layers=6 heads=8 mlp=448 context=512", "2,533,824");
        CliTest.Result tensors = CliTest.run("info", "--model", "dense", "--layers", "1");
        assertThat(tensors.out()).contains("block.0.wq", "head").doesNotContain("block.1.");
        CliTest.Result bad = CliTest.run("info", "--model", "dense", "--d-local", "8");
        assertThat(bad.code()).isNotZero();
        assertThat(bad.err()).contains("--d-local is an ionllama dimension");
        assertThat(CliTest.run("info", "--context", "64").err()).contains("--context applies to --model dense only");
        assertThat(CliTest.run("train", "--model", "dense", "--seq-len", "1024", "--context", "512").err())
                .contains("longer than the dense model's --context");
    }

    @Test
    void benchStepReportsBytesAndFlops() {
        CliTest.Result r = CliTest.run("bench", "step", "--model", "dense", "--d-model", "32", "--layers", "1", "--heads", "2",
                "--mlp", "64", "--batch-size", "2", "--seq-len", "32", "--threads", "1", "--steps", "1", "--warmup", "0");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("step: dense d_model 32", "bytes/s", "GFLOP/s", "backward blocks", "optimizer");
    }
}
