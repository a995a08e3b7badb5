package io.ionllama.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.generate.Generator;
import io.ionllama.generate.Sampling;
import io.ionllama.generate.StopStrings;
import io.ionllama.generate.Utf8Stream;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** {@code ionllama chat} driven through piped standard input (no terminal), and its session logic. */
class ChatCommandTest {

    @TempDir
    static Path dir;
    static Path ckpt;

    @BeforeAll
    static void checkpoint() throws Exception {
        ckpt = CliHarness.tinyCheckpoint(dir.resolve("tiny.safetensors"));
    }

    static CliHarness.Run chat(String input, String... extra) {
        List<String> a = new ArrayList<>(List.of("chat", "--checkpoint", ckpt.toString(), "--threads", "1"));
        a.addAll(List.of(extra));
        return CliHarness.run(input, a.toArray(new String[0]));
    }

    /** A first line too short to close a patch once crashed the session. */
    @Test
    void aShortFirstLineIsAnswered() {
        CliHarness.Run r = chat("On\nOnce upon\n", "--top-k", "1", "--max-new-bytes", "8", "--stop", "");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).doesNotContain("internal error");
    }

    @Test
    void commandsChangeSettingsAndBadValuesKeepTheSessionGoing() {
        String input = String.join("\n", "/help", "/temp 0.5", "/topk 7", "/topp 0.5", "/length 12", "/penalty 1.5", "/seed 9", "/config",
                "/temp 3", "/temp", "/topk 0", "/topk abc", "/topp 2", "/length 0", "/penalty 20", "/seed x", "/bogus", "/config",
                "/quit", "this line is never read") + "\n";
        CliHarness.Run r = chat(input);
        assertThat(r.code()).as(r.err()).isZero();
        String settings = "temperature 0.5, top-k 7, top-p 0.5, length 12, penalty 1.5 (window 64), seed 9, context 0/1024 bytes";
        assertThat(r.out()).contains("/temp X", "/quit").contains(settings);
        assertThat(r.out().split(java.util.regex.Pattern.quote(settings), -1)).as("shown by /config before and after the bad values")
                .hasSizeGreaterThanOrEqualTo(3);
        assertThat(r.err().lines().toList()).containsExactly(
                "/temp must be between 0 and 2 (got 3)",
                "/temp needs a value: temperature, 0 to 2",
                "/topk must be between 1 and 256 (got 0)",
                "/topk needs a whole number: top-k, 1 to 256 (got 'abc')",
                "/topp must be between 0.1 and 1 (got 2)",
                "/length must be between 1 and 10000000 (got 0)",
                "/penalty must be between 1 and 10 (got 20)",
                "/seed needs a whole number (got 'x')",
                "unknown command /bogus (try /help)");
        assertThat(r.out()).doesNotContain("\u001b").as("nothing generated: /quit came first").doesNotContain("never");
    }

    @Test
    void eachLineIsContinuedWithTheConversationAsContextUntilReset() throws Exception {
        CliHarness.Run r = chat("hello\nworld\n/reset\nworld\n", "--top-k", "1", "--max-new-bytes", "24", "--stop", "");
        assertThat(r.code()).as(r.err()).isZero();
        byte[] g1 = CliHarness.generate(ckpt, "hello", 24, Sampling.greedy(), 0, 1024);
        String context = "hello" + new String(g1, StandardCharsets.ISO_8859_1);
        String second = context + (context.endsWith("\n") ? "" : "\n") + "world";
        byte[] g2 = generate(second.getBytes(StandardCharsets.ISO_8859_1), 24);
        byte[] g3 = CliHarness.generate(ckpt, "world", 24, Sampling.greedy(), 0, 1024);
        assertThat(g3).as("context changes the reply").isNotEqualTo(g2);
        assertThat(r.out()).isEqualTo(line(g1) + line(g2) + "conversation cleared\n" + line(g3));
    }

    @Test
    void endOfInputEndsTheSessionAndOutputIsValidUtf8() {
        CliHarness.Run r = chat("/temp 2\n/topp 1\nabc\n", "--max-new-bytes", "300", "--seed", "3", "--stop", "");
        assertThat(r.code()).isZero();
        assertThat(GenerateCommandTest.validUtf8(r.stdout())).isTrue();
        assertThat(r.out()).contains("\uFFFD");
    }

    @Test
    void stopStringsReplaceTheDefault() {
        ChatCommand c = new ChatCommand();
        new CommandLine(c).parseArgs("--checkpoint", "x", "--stop", "a", "--stop", "b\\n");
        assertThat(c.stop).containsExactly("a", "b\\n");
        ChatCommand d = new ChatCommand();
        new CommandLine(d).parseArgs("--checkpoint", "x");
        assertThat(d.stop).containsExactly("\\n\\n");
        assertThat(SamplingOptions.unescape("a\\nb\\t\\\\n\\q")).isEqualTo("a\nb\t\\n\\q");
    }

    @Test
    void interruptStopsTheReplyButNotTheSession() throws Exception {
        try (CpuBackend cpu = new CpuBackend(1)) {
            Generator g = new Generator(CliHarness.tinyModel(cpu), 1024);
            ChatSession[] session = new ChatSession[1];
            ByteArrayOutputStream seen = new ByteArrayOutputStream();
            OutputStream out = new OutputStream() {
                @Override
                public void write(int b) {
                    seen.write(b);
                    if (seen.size() == 10) {
                        session[0].interrupt();
                    }
                }
            };
            StreamPrinter printer = new StreamPrinter(out, true, StopStrings.of(List.of()));
            session[0] = new ChatSession(g, printer, m -> printer.text(m + "\n"), m -> printer.text(m + "\n"), Sampling.greedy(), 100_000, 1,
                    1024);
            assertThat(session[0].handle("hello")).isTrue();
            String text = seen.toString(StandardCharsets.ISO_8859_1);
            assertThat(text).endsWith("[stopped]\n");
            assertThat(seen.size()).isLessThan(40);
            assertThat(session[0].historyBytes()).isEqualTo(5 + 10);
            assertThat(session[0].handle("/length 5")).isTrue();
            seen.reset();
            assertThat(session[0].handle("more")).isTrue();
            assertThat(seen.toString(StandardCharsets.ISO_8859_1)).doesNotContain("[stopped]");
            assertThat(session[0].handle("/quit")).isFalse();
        }
    }

    @Test
    void historyIsKeptToTheContextSize() throws Exception {
        try (CpuBackend cpu = new CpuBackend(1)) {
            Generator g = new Generator(CliHarness.tinyModel(cpu), 64);
            StreamPrinter printer = new StreamPrinter(OutputStream.nullOutputStream(), false, StopStrings.of(List.of()));
            ChatSession s = new ChatSession(g, printer, m -> { }, m -> { }, Sampling.greedy(), 50, 1, 64);
            s.handle("a");
            assertThat(s.historyBytes()).isEqualTo(51);
            s.handle("b");
            assertThat(s.historyBytes()).isEqualTo(64);
            assertThat(s.config()).contains("context 64/64 bytes");
            s.handle("/reset");
            assertThat(s.historyBytes()).isZero();
        }
    }

    @Test
    void helpShowsDefaults() {
        CliHarness.Run r = CliHarness.run("", "chat", "--help");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("Usage: ionllama chat", "/temp", "Default: 200", "Default: 0.8", "Default: 1024", "--plain");
    }

    @ParameterizedTest
    @ValueSource(strings = {"--temperature 3", "--top-k 0", "--top-p 0", "--repetition-penalty 0", "--max-new-bytes 0", "--context 0",
        "--threads 0", "--bogus"})
    void badFlagsAreOneLineAndNonZero(String bad) {
        GenerateCommandTest.assertOneLineError(chat("", bad.split(" ")));
    }

    @Test
    void badCheckpointsAreOneLineAndNonZero() throws Exception {
        GenerateCommandTest.assertOneLineError(CliHarness.run("", "chat", "--checkpoint", dir.resolve("none").toString()));
        GenerateCommandTest.assertOneLineError(CliHarness.run("", "chat", "--checkpoint", Files.createDirectories(dir.resolve("e")).toString()));
        Path junk = Files.writeString(dir.resolve("junk.safetensors"), "garbage");
        GenerateCommandTest.assertOneLineError(CliHarness.run("", "chat", "--checkpoint", junk.toString()));
        GenerateCommandTest.assertOneLineError(CliHarness.run("", "chat"));
    }

    private static byte[] generate(byte[] prompt, int n) throws Exception {
        try (CpuBackend cpu = new CpuBackend(1)) {
            io.ionllama.model.IonLlama m = io.ionllama.train.Checkpoint.loadModel(ckpt, cpu);
            int[] p = new int[prompt.length];
            for (int i = 0; i < p.length; i++) {
                p[i] = prompt[i] & 0xFF;
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            new Generator(m, 1024).generate(p, n, Sampling.greedy(), 0, b -> {
                out.write(b);
                return true;
            });
            return out.toByteArray();
        }
    }

    private static String line(byte[] generated) {
        String t = Utf8Stream.decode(generated);
        return t.endsWith("\n") ? t : t + "\n";
    }
}
