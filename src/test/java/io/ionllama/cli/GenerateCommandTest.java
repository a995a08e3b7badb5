package io.ionllama.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.generate.Sampling;
import io.ionllama.generate.Utf8Stream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code ionllama generate} on a tiny checkpoint: same bytes as {@link io.ionllama.generate.Generator}, valid UTF-8, stop strings, one-line errors. */
class GenerateCommandTest {

    @TempDir
    static Path dir;
    static Path ckpt;

    @BeforeAll
    static void checkpoint() throws Exception {
        Path run = Files.createDirectories(dir.resolve("run"));
        ckpt = CliHarness.tinyCheckpoint(run.resolve("latest.safetensors"));
    }

    static String[] args(String... extra) {
        String[] base = {"generate", "--checkpoint", ckpt.toString(), "--threads", "1"};
        String[] all = Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return all;
    }

    static boolean validUtf8(byte[] b) {
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT).decode(java.nio.ByteBuffer.wrap(b));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }

    @Test
    void greedyRawOutputIsExactlyTheGeneratorsBytesAndDeterministic() throws Exception {
        byte[] expected = CliHarness.generate(ckpt, "Once upon a time", 64, Sampling.greedy(), 0, 1024);
        CliHarness.Run a = CliHarness.run("", args("--prompt", "Once upon a time", "--top-k", "1", "--max-new-bytes", "64", "--raw", "--no-echo"));
        assertThat(a.code()).as(a.err()).isZero();
        assertThat(a.stdout()).isEqualTo(expected);
        CliHarness.Run b = CliHarness.run("", args("--prompt", "Once upon a time", "--temperature", "0", "--max-new-bytes", "64", "--raw",
                "--no-echo", "--seed", "99"));
        assertThat(b.stdout()).as("temperature 0 is greedy too, whatever the seed").isEqualTo(expected);
        assertThat(expected).as("the tiny model's greedy bytes include invalid UTF-8").satisfies(e -> assertThat(validUtf8(e)).isFalse());
    }

    /** Prompts too short to close a patch once crashed priming (the global blocks' keys did not exist yet). */
    @Test
    void everyPromptLengthFromZeroToTwentyGeneratesTheGeneratorsBytes() throws Exception {
        String text = "Once upon a time, th";
        for (int n = 0; n <= text.length(); n++) {
            String prompt = text.substring(0, n);
            byte[] expected = CliHarness.generate(ckpt, prompt, 8, Sampling.greedy(), 0, 1024);
            CliHarness.Run r = CliHarness.run("", args("--prompt", prompt, "--top-k", "1", "--max-new-bytes", "8", "--raw", "--no-echo"));
            assertThat(r.code()).as("prompt '%s': %s", prompt, r.err()).isZero();
            assertThat(r.stdout()).as("prompt '%s'", prompt).isEqualTo(expected);
        }
    }

    @Test
    void textOutputIsThePromptAndTheDecodedBytesAndAlwaysValidUtf8() throws Exception {
        byte[] gen = CliHarness.generate(ckpt, "héllo €", 64, Sampling.greedy(), 0, 1024);
        CliHarness.Run r = CliHarness.run("", args("--prompt", "héllo €", "--top-k", "1", "--max-new-bytes", "64"));
        assertThat(r.code()).isZero();
        assertThat(validUtf8(r.stdout())).isTrue();
        String text = "héllo €" + Utf8Stream.decode(gen);
        assertThat(r.out()).isEqualTo(text.endsWith("\n") ? text : text + "\n");
        assertThat(r.out()).contains("\uFFFD");
    }

    @Test
    void sampledOutputAtHighTemperatureIsValidUtf8AndReproducibleFromTheSeed() throws Exception {
        Sampling hot = new Sampling(2f, 256, 1f, 1f, 64);
        byte[] gen = CliHarness.generate(ckpt, "x", 400, hot, 5, 1024);
        String[] a = args("--prompt", "x", "--temperature", "2", "--top-p", "1", "--max-new-bytes", "400", "--seed", "5", "--no-echo");
        CliHarness.Run r = CliHarness.run("", a);
        assertThat(validUtf8(r.stdout())).isTrue();
        String text = Utf8Stream.decode(gen);
        assertThat(r.out()).isEqualTo(text.endsWith("\n") ? text : text + "\n");
        assertThat(CliHarness.run("", a).stdout()).isEqualTo(r.stdout());
        String[] raw = Arrays.copyOf(a, a.length + 1);
        raw[a.length] = "--raw";
        assertThat(CliHarness.run("", raw).stdout()).isEqualTo(gen);
    }

    @Test
    void stopEndsGenerationAndIsNotPrinted() throws Exception {
        byte[] gen = CliHarness.generate(ckpt, "Once", 200, Sampling.greedy(), 0, 1024);
        int k = 1;
        while (k < gen.length && !(gen[k] >= 0x21 && gen[k] <= 0x7E)) {
            k++;
        }
        assertThat(k).as("a printable ASCII byte in the greedy output").isLessThan(gen.length);
        String stop = String.valueOf((char) gen[k]);
        CliHarness.Run r = CliHarness.run("", args("--prompt", "Once", "--top-k", "1", "--max-new-bytes", "200", "--raw", "--no-echo",
                "--stop", "never-generated", "--stop", stop));
        assertThat(r.code()).isZero();
        assertThat(r.stdout()).isEqualTo(Arrays.copyOf(gen, k));
        // A stop string that never occurs changes nothing.
        CliHarness.Run none = CliHarness.run("", args("--prompt", "Once", "--top-k", "1", "--max-new-bytes", "200", "--raw", "--no-echo",
                "--stop", "never-generated"));
        assertThat(none.stdout()).isEqualTo(gen);
    }

    @Test
    void promptFromAFileOrStandardInputAndARunFolder() throws Exception {
        byte[] gen = CliHarness.generate(ckpt, "abc", 20, Sampling.greedy(), 0, 1024);
        Path f = Files.write(dir.resolve("prompt.txt"), "abc".getBytes(StandardCharsets.UTF_8));
        String[] common = {"generate", "--checkpoint", ckpt.getParent().toString(), "--top-k", "1", "--max-new-bytes", "20", "--raw", "--threads", "1"};
        String[] withFile = Arrays.copyOf(common, common.length + 2);
        withFile[common.length] = "--prompt-file";
        withFile[common.length + 1] = f.toString();
        byte[] expected = new byte[3 + gen.length];
        System.arraycopy("abc".getBytes(StandardCharsets.UTF_8), 0, expected, 0, 3);
        System.arraycopy(gen, 0, expected, 3, gen.length);
        assertThat(CliHarness.run("", withFile).stdout()).isEqualTo(expected);
        assertThat(CliHarness.run("abc", common).stdout()).as("prompt piped on standard input").isEqualTo(expected);
    }

    @Test
    void slidingWindowContextIsUsed() throws Exception {
        byte[] gen = CliHarness.generate(ckpt, "hello", 100, Sampling.greedy(), 0, 16);
        CliHarness.Run r = CliHarness.run("", args("--prompt", "hello", "--top-k", "1", "--max-new-bytes", "100", "--context", "16", "--raw", "--no-echo"));
        assertThat(r.stdout()).hasSize(100).isEqualTo(gen);
    }

    @Test
    void helpShowsDefaults() {
        CliHarness.Run r = CliHarness.run("", "generate", "--help");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("Usage: ionllama generate", "--max-new-bytes", "Default: 200", "Default: 0.8", "Default: 256",
                "Default: 0.95", "Default: 1.0", "Default: 64", "Default: 1024", "--stop", "--raw", "--threads");
    }

    @ParameterizedTest
    @ValueSource(strings = {"--temperature 3", "--temperature -0.1", "--temperature NaN", "--temperature abc", "--top-k 0", "--top-k 257",
        "--top-p 0.05", "--top-p 1.5", "--repetition-penalty 0.5", "--repetition-penalty 11", "--max-new-bytes 0",
        "--max-new-bytes -5", "--context 1", "--penalty-window -1", "--seed x", "--stop=", "--bogus"})
    void badValuesAreOneLineAndNonZero(String bad) {
        String[] extra = (bad + " --prompt hi").split(" ");
        assertOneLineError(CliHarness.run("", args(extra)));
    }

    @Test
    void badPromptAndCheckpointAreOneLineAndNonZero() throws Exception {
        assertThat(assertOneLineError(CliHarness.run("", args("--prompt-file", dir.resolve("nope.txt").toString()))))
                .contains("no prompt file");
        assertOneLineError(CliHarness.run("", args("--prompt", "a", "--prompt-file", ckpt.toString())));
        assertThat(assertOneLineError(CliHarness.run("", "generate", "--prompt", "a", "--checkpoint", dir.resolve("missing.safetensors").toString())))
                .contains("no checkpoint at");
        Path empty = Files.createDirectories(dir.resolve("empty-run"));
        assertThat(assertOneLineError(CliHarness.run("", "generate", "--prompt", "a", "--checkpoint", empty.toString())))
                .contains("no checkpoint in");
        Path junk = Files.writeString(dir.resolve("junk.safetensors"), "this is not a checkpoint at all, just text");
        assertOneLineError(CliHarness.run("", "generate", "--prompt", "a", "--checkpoint", junk.toString()));
        byte[] whole = Files.readAllBytes(ckpt);
        Path truncated = Files.write(dir.resolve("truncated.safetensors"), Arrays.copyOf(whole, whole.length / 2));
        assertOneLineError(CliHarness.run("", "generate", "--prompt", "a", "--checkpoint", truncated.toString()));
        Path foreign = dir.resolve("foreign.safetensors");
        io.ionllama.train.Safetensors.write(foreign, Map.of("format", "something-else"),
                java.util.List.of(io.ionllama.train.Safetensors.Tensor.of("w", new float[4], 0, 2, 2)));
        assertThat(assertOneLineError(CliHarness.run("", "generate", "--prompt", "a", "--checkpoint", foreign.toString())))
                .contains("not an ionllama");
        assertOneLineError(CliHarness.run("", "generate", "--prompt", "a"));
    }

    /** Asserts the run failed with exactly one line on standard error; returns that line. */
    static String assertOneLineError(CliHarness.Run r) {
        assertThat(r.code()).as(r.err()).isNotZero();
        assertThat(r.err().strip().lines()).as(r.err()).hasSize(1);
        assertThat(r.err()).startsWith("ionllama: ").doesNotContain("Exception").doesNotContain("internal error");
        assertThat(r.stdout()).isEmpty();
        return r.err().strip();
    }
}
