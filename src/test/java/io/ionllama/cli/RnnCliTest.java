package io.ionllama.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.train.Checkpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --model rnn} through the CLI: train, resume, generate, chat, eval, demo and info on its checkpoint; bench step. */
class RnnCliTest {

    @TempDir
    Path dir;

    static final String[] TINY = {"--model", "rnn", "--d-embed", "8", "--d-hidden", "16", "--d-context", "8", "--layers", "2",
        "--batch-size", "2", "--seq-len", "32", "--sample-bytes", "8", "--no-progress", "--threads", "1"};

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
        assertThat(r.out()).contains("rnn e8 h16 c8 x2", "lr 1.0e-03 -> 1.0e-04, adamw", "sample:");
        Path latest = out.resolve("latest.safetensors");
        Checkpoint.Meta meta = Checkpoint.readMeta(latest);
        assertThat(meta.model()).isEqualTo("rnn");
        assertThat(meta.raw()).containsEntry("train.optimizer", "adamw").containsEntry("model.d_hidden", "16");
        assertThat(out.resolve("curves.png")).exists();

        CliTest.Result again = CliTest.run(train("--max-steps", "6", "--eval-every", "3", "--resume", out.toString()));
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.out()).contains("at step 4");
        assertThat(Checkpoint.readMeta(latest).step()).isEqualTo(6);

        // The rnn checkpoint given to an ionllama run and to a dense one: one line that names the fix.
        for (String model : new String[] {"ionllama", "dense"}) {
            CliTest.Result wrong = CliTest.run("train", "--model", model, "--resume", out.toString(), "--max-steps", "8",
                    "--no-progress");
            assertThat(wrong.code()).isNotZero();
            assertThat(wrong.err().strip()).contains("checkpoint of the rnn model, not of " + model, "--model rnn")
                    .doesNotContain("\n").doesNotContain("Exception");
        }

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
        assertThat(demo.out()).contains("rnn e8 h16 c8 x2 model");
    }

    @Test
    void aDenseCheckpointGivenToAnRnnRunIsRefusedInOneLine() throws Exception {
        Path out = dir.resolve("dense");
        CliTest.Result r = CliTest.run(DenseCliTest.train("--max-steps", "1", "--eval-every", "1", "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        CliTest.Result wrong = CliTest.run(train("--max-steps", "2", "--resume", out.toString()));
        assertThat(wrong.code()).isNotZero();
        assertThat(wrong.err().strip()).contains("checkpoint of the dense model, not of rnn", "--model dense")
                .doesNotContain("\n").doesNotContain("Exception");
    }

    @Test
    void infoPrintsTheDefaults() {
        CliTest.Result r = CliTest.run("info", "--model", "rnn", "--no-tensors");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("d_embed=256 d_hidden=512 d_context=256 layers=3", "2,430,464", "768 floats");
        CliTest.Result tensors = CliTest.run("info", "--model", "rnn", "--layers", "1");
        assertThat(tensors.out()).contains("layer.0.gates", "head_b").doesNotContain("layer.1.");
        CliTest.Result bad = CliTest.run("info", "--model", "rnn", "--d-model", "8");
        assertThat(bad.code()).isNotZero();
        assertThat(bad.err()).contains("--d-model is not an rnn dimension");
        assertThat(CliTest.run("info", "--model", "rnn", "--layers", "13").err()).contains("--layers must be between 1 and 12 (got 13)");
        assertThat(CliTest.run("info", "--d-hidden", "64").err()).contains("--d-hidden applies to --model rnn only");
        assertThat(CliTest.run("info", "--model", "dense", "--d-context", "64").err()).contains("--d-context applies to --model rnn only");
        assertThat(CliTest.run("info", "--model", "lstm").err()).contains("--model must be ionllama, dense or rnn");
    }

    @Test
    void benchStepReportsBytesAndFlops() {
        CliTest.Result r = CliTest.run("bench", "step", "--model", "rnn", "--d-embed", "16", "--d-hidden", "32", "--d-context", "16",
                "--layers", "2", "--batch-size", "2", "--seq-len", "32", "--threads", "1", "--steps", "1", "--warmup", "0");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("step: rnn d_embed 16", "bytes/s", "GFLOP/s", "backward layers", "optimizer");
        assertThat(CliTest.run("bench", "step", "--d-context", "16").err()).contains("apply to --model rnn");
    }
}
