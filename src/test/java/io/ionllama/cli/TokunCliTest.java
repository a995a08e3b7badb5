package io.ionllama.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.ionllama.train.Checkpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ionllama tokun}: train, resume, eval (table and --results JSON with both robustness
 * experiments) and roundtrip on a nano checkpoint; the LM commands refuse a tokun checkpoint and
 * tokun refuses an LM one, in one line; bad flags are one line and exit 2.
 */
class TokunCliTest {

    @TempDir
    Path dir;

    static final String[] NANO = {"--groups", "2,4", "--dim", "8", "--heads", "2", "--mlp", "16", "--batch-size", "4",
        "--eval-bytes", "256", "--threads", "1"};

    static String[] train(String... more) {
        String[] a = new String[2 + NANO.length + more.length];
        a[0] = "tokun";
        a[1] = "train";
        System.arraycopy(NANO, 0, a, 2, NANO.length);
        System.arraycopy(more, 0, a, 2 + NANO.length, more.length);
        return a;
    }

    @Test
    void trainsResumesEvaluatesAndRoundTrips() throws Exception {
        Path out = dir.resolve("run");
        Path text = Files.writeString(dir.resolve("en.txt"), "the cat sat on the mat. ".repeat(40));
        CliTest.Result r = CliTest.run(train("--data", text.toString(), "--max-steps", "4", "--eval-every", "2",
                "--log-every", "1", "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("tokun 2x4 d8", "8 bytes per vector", "byte acc", "chunk acc", "done after 4 steps");
        Path latest = out.resolve("latest.safetensors");
        Checkpoint.Meta meta = Checkpoint.readMeta(latest);
        assertThat(meta.model()).isEqualTo("tokun");
        assertThat(meta.step()).isEqualTo(4);
        assertThat(meta.raw()).containsEntry("model.groups", "2,4").containsKey("tokun.valid_byte_accuracy");
        assertThat(Files.readAllLines(out.resolve("metrics.jsonl"))).anyMatch(l -> l.contains("\"chunk_accuracy\""));

        CliTest.Result again = CliTest.run(train("--data", text.toString(), "--max-steps", "6", "--eval-every", "3",
                "--resume", out.toString(), "--out", out.toString()));
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.out()).contains("at step 4");
        assertThat(Checkpoint.readMeta(latest).step()).isEqualTo(6);
        CliTest.Result other = CliTest.run("tokun", "train", "--groups", "4,4", "--resume", out.toString(), "--max-steps", "8");
        assertThat(other.code()).isEqualTo(2);
        assertThat(other.err().strip()).contains("holds tokun 2x4 d8", "not the tokun 4x4 d256").doesNotContain("\n");

        Path results = dir.resolve("res/tokun.json");
        CliTest.Result eval = CliTest.run("tokun", "eval", "--checkpoint", out.toString(), "--data", "en=" + text,
                "--data", text.toString(), "--noise", "0.5,1", "--results", results.toString(), "--plot", dir.resolve("res/noise.png").toString(),
                "--threads", "1");
        assertThat(eval.code()).as(eval.err()).isZero();
        assertThat(eval.out()).contains("en ", "en.txt", "robustness", "random direction");
        assertThat(dir.resolve("res/noise.png")).exists().isNotEmptyFile();
        JsonObject doc = JsonParser.parseString(Files.readString(results)).getAsJsonObject();
        assertThat(doc.get("schema").getAsString()).isEqualTo("ionllama-tokun-eval/1");
        JsonObject en = doc.getAsJsonArray("texts").get(0).getAsJsonObject();
        assertThat(en.get("name").getAsString()).isEqualTo("en");
        assertThat(en.get("bytes").getAsLong()).isEqualTo(960);
        assertThat(en.getAsJsonArray("noise")).hasSize(2);
        assertThat(en.getAsJsonArray("noise").get(1).getAsJsonObject().getAsJsonObject("random_direction")
                .get("byte_accuracy").getAsDouble()).isBetween(0.0, 1.0);

        CliTest.Result rt = CliTest.run("tokun", "roundtrip", "--checkpoint", latest.toString(), "--text", "tokun to can tok",
                "--threads", "1");
        assertThat(rt.code()).as(rt.err()).isZero();
        assertThat(rt.out()).contains("input:  tokun to can tok", "output: ", "wrong:", "score:", "chunks of 8 exact");

        // A tokun checkpoint given to the language-model commands: one line naming what to use instead.
        for (String[] cmd : new String[][] {{"generate", "--checkpoint", latest.toString(), "--prompt", "a"},
            {"eval", "--checkpoint", latest.toString(), "--data", text.toString()}}) {
            CliTest.Result wrong = CliTest.run(cmd);
            assertThat(wrong.code()).as(wrong.out()).isEqualTo(2);
            assertThat(wrong.err().strip()).contains("checkpoint of tokun", "tokun eval").doesNotContain("\n")
                    .doesNotContain("Exception");
        }
    }

    @Test
    void aLanguageModelCheckpointIsRefusedByTokunInOneLine() throws Exception {
        Path out = dir.resolve("rnn");
        CliTest.Result r = CliTest.run(RnnCliTest.train("--max-steps", "1", "--eval-every", "1", "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        for (String[] cmd : new String[][] {{"tokun", "eval", "--checkpoint", out.toString()},
            {"tokun", "roundtrip", "--checkpoint", out.toString(), "--text", "abc"},
            train("--resume", out.toString(), "--max-steps", "3")}) {
            CliTest.Result wrong = CliTest.run(cmd);
            assertThat(wrong.code()).isEqualTo(2);
            assertThat(wrong.err().strip()).contains("checkpoint of the rnn language model, not of tokun")
                    .doesNotContain("\n");
        }
    }

    @Test
    void badFlagsAreOneLineAndExitTwo() {
        String[][] bad = {
            {"tokun", "train", "--groups", "4,x"},
            {"tokun", "train", "--groups", "4,1"},
            {"tokun", "train", "--dim", "6", "--heads", "2"},
            {"tokun", "train", "--batch-size", "0"},
            {"tokun", "train", "--lr", "-1"},
            {"tokun", "eval", "--checkpoint", dir.resolve("none").toString()},
            {"tokun", "eval", "--checkpoint", dir.toString(), "--noise", "a,b"},
            {"tokun", "roundtrip", "--checkpoint", dir.resolve("none").toString(), "--text", "x"},
        };
        for (String[] args : bad) {
            CliTest.Result r = CliTest.run(args);
            assertThat(r.code()).as(String.join(" ", args) + ": " + r.err()).isEqualTo(2);
            assertThat(r.err().strip()).as(String.join(" ", args)).startsWith("ionllama: ").doesNotContain("\n");
        }
    }
}
