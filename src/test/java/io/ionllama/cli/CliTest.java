package io.ionllama.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The CLI's contract: help and version work, bad input gives one line and a non-zero exit. */
class CliTest {

    record Result(int code, String out, String err) {}

    static Result run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void versionAndHelp() {
        assertThat(run("--version").out()).startsWith("ionllama ");
        Result help = run("--help");
        assertThat(help.code()).isZero();
        assertThat(help.out()).contains("info", "devices");
    }

    @ParameterizedTest
    @ValueSource(strings = {"info", "devices"})
    void everySubcommandHasHelp(String sub) {
        Result r = run(sub, "--help");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("Usage: ionllama " + sub);
    }

    @Test
    void infoHelpShowsDefaults() {
        assertThat(run("info", "--help").out()).contains("Default: 1024");
    }

    @ParameterizedTest
    @ValueSource(strings = {"info --bogus", "info --heads x", "frob", "info --size huge", "info --size tiny --heads 5"})
    void badInputIsOneLineAndNonZero(String line) {
        Result r = run(line.split(" "));
        assertThat(r.code()).isNotZero();
        assertThat(r.err().strip().lines()).hasSize(1);
        assertThat(r.err()).startsWith("ionllama: ").doesNotContain("Exception");
    }

    @Test
    void infoPrintsTotalsForEverySizeWithoutAllocating() {
        for (String size : io.ionllama.model.ModelConfig.SIZES) {
            Result r = run("info", "--size", size, "--no-tensors");
            assertThat(r.code()).as(size).isZero();
            assertThat(r.out()).contains("total parameters", "training step");
        }
        assertThat(run("info", "--size", "xl", "--no-tensors").out()).contains("does not fit");
    }

    /** {@code --ngrams ''} is the ablation without hashed n-grams (an empty list, not a bad number). */
    @Test
    void anEmptyNgramListMeansNone() {
        Result none = run("info", "--ngrams", "");
        assertThat(none.code()).isZero();
        assertThat(none.out()).contains("ngrams= ").doesNotContain("embed.ngram");
        assertThat(run("info", "--ngrams", "3,4").out()).contains("ngrams=3,4", "embed.ngram");
    }
}
