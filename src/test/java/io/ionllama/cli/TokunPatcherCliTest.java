package io.ionllama.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.model.IonLlama;
import io.ionllama.testing.TokunPatched;
import io.ionllama.train.Checkpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code train --patcher tokun:PATH} through the CLI: a run on a nano tokun, its checkpoint
 * (the patcher recorded, the tokun carried) taken by resume, generate and eval after the tokun
 * file is gone; a missing file, a language-model checkpoint, an empty path and a chunk longer than
 * --max-patch are each one line and exit 2.
 */
class TokunPatcherCliTest {

    @TempDir
    Path dir;

    static final String[] TINY = {"--d-local", "16", "--d-model", "16", "--layers", "1", "--heads", "2", "--n-enc", "1",
        "--n-dec", "1", "--d-entropy", "8", "--n-entropy", "1", "--ngrams", "3", "--buckets", "13", "--local-mlp", "24",
        "--global-mlp", "24", "--batch-size", "2", "--seq-len", "32", "--sample-bytes", "8", "--no-progress", "--threads", "1"};

    static String[] train(String... more) {
        String[] a = new String[1 + TINY.length + more.length];
        a[0] = "train";
        System.arraycopy(TINY, 0, a, 1, TINY.length);
        System.arraycopy(more, 0, a, 1 + TINY.length, more.length);
        return a;
    }

    /** A nano tokun (2,2: 4-byte chunks) with random weights, as a tokun checkpoint. */
    private Path tokunFile() throws Exception {
        Path f = dir.resolve("tokun.safetensors");
        try (CpuBackend cpu = new CpuBackend(1)) {
            Checkpoint.save(f, TokunPatched.tokun(cpu, 1), null, 0, Double.NaN, null);
        }
        return f;
    }

    @Test
    void trainsAndEveryCommandTakesItsCheckpointWithoutTheTokunFile() throws Exception {
        Path tokun = tokunFile(), out = dir.resolve("run");
        CliTest.Result r = CliTest.run(train("--patcher", "tokun:" + tokun, "--max-steps", "3", "--eval-every", "3",
                "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("patcher tokun:" + tokun);
        Path latest = out.resolve("latest.safetensors");
        Checkpoint.Meta meta = Checkpoint.readMeta(latest);
        assertThat(meta.patcher()).isEqualTo("tokun:" + tokun);
        assertThat(meta.raw()).containsEntry(IonLlama.TOKUN_PREFIX + "groups", "2,2");

        Files.delete(tokun); // the run's checkpoint stands alone
        CliTest.Result again = CliTest.run(train("--max-steps", "4", "--eval-every", "4", "--resume", out.toString()));
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.out()).contains("at step 3", "patcher tokun:");
        assertThat(Checkpoint.readMeta(latest).step()).isEqualTo(4);
        CliTest.Result other = CliTest.run(train("--max-steps", "5", "--resume", out.toString(), "--patcher", "fixed:4"));
        assertThat(other.code()).isEqualTo(2);
        assertThat(other.err().strip()).contains("--patcher fixed:4 (the checkpoint's is tokun:").doesNotContain("\n");

        CliTest.Result gen = CliTest.run("generate", "--checkpoint", out.toString(), "--prompt", "Once upon", "--max-new-bytes",
                "40", "--threads", "1", "--raw", "--no-echo");
        assertThat(gen.code()).as(gen.err()).isZero();
        Path text = Files.writeString(dir.resolve("t.txt"), "the cat sat on the mat. ".repeat(20));
        CliTest.Result eval = CliTest.run("eval", "--checkpoint", latest.toString(), "--data", text.toString(), "--seq-len", "64",
                "--threads", "1");
        assertThat(eval.code()).as(eval.err()).isZero();
        assertThat(eval.out()).contains("t.txt");
    }

    @Test
    void infoShowsTheLayoutOfATokunPatchedModel() throws Exception {
        Path tokun = tokunFile();
        CliTest.Result r = CliTest.run("info", "--size", "nano", "--patcher", "tokun:" + tokun);
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("a frozen tokun 2x2 d8", "not trained", "tokun.proj", "frozen tokun ", "its buffers for a batch's patches")
                .doesNotContain("enc.proj");
        CliTest.Result bad = CliTest.run("info", "--patcher", "tokun:" + dir.resolve("none.safetensors"));
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err().strip()).contains("no checkpoint at").doesNotContain("\n");
    }

    @Test
    void badTokunPatchersAreOneLineAndExitTwo() throws Exception {
        Path tokun = tokunFile();
        Path lm = CliHarness.tinyCheckpoint(dir.resolve("lm.safetensors"));
        String[][] cases = {
            {"tokun:" + dir.resolve("missing.safetensors"), "no checkpoint at"},
            {"tokun:" + lm, "language model, not of tokun"},
            {"tokun:", "needs the path of a tokun checkpoint"},
        };
        for (String[] c : cases) {
            CliTest.Result r = CliTest.run(train("--patcher", c[0], "--max-steps", "1", "--out", dir.resolve("x").toString()));
            assertThat(r.code()).as(c[0]).isEqualTo(2);
            assertThat(r.err().strip()).as(c[0]).contains(c[1]).doesNotContain("\n").doesNotContain("Exception");
        }
        CliTest.Result cap = CliTest.run(train("--patcher", "tokun:" + tokun, "--max-patch", "3", "--target-patch", "2",
                "--max-steps", "1", "--out", dir.resolve("y").toString()));
        assertThat(cap.code()).isEqualTo(2);
        assertThat(cap.err().strip()).contains("chunk (4 bytes) must fit in max-patch (3)").doesNotContain("\n");
    }
}
