package io.ionllama.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ionllama demo}: runs its prompts on a given or discovered checkpoint, or trains one first. */
class DemoCommandTest {

    @TempDir
    Path dir;

    @Test
    void runsEveryExampleOnAGivenCheckpoint() throws Exception {
        Path ckpt = CliHarness.tinyCheckpoint(dir.resolve("tiny.safetensors"));
        CliHarness.Run r = CliHarness.run("", "demo", "--checkpoint", ckpt.toString(), "--threads", "1");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("from " + ckpt, "== story", "Once upon a time", "12 + 34 = ", "[expected 46: ", "spell garden: ",
                "[expected g-a-r-d-e-n: ", "of 4 task answers right");
        assertThat(GenerateCommandTest.validUtf8(r.stdout())).isTrue();
        assertThat(CliHarness.run("", "demo", "--checkpoint", ckpt.toString(), "--threads", "1").stdout())
                .as("seeded: the same every time").isEqualTo(r.stdout());
    }

    @Test
    void findsTheNewestRunPreferringItsBestCheckpoint() throws Exception {
        Path old = Files.createDirectories(dir.resolve("runs/old"));
        Path recent = Files.createDirectories(dir.resolve("runs/recent"));
        Files.createDirectories(dir.resolve("runs/empty"));
        Path oldLatest = CliHarness.tinyCheckpoint(old.resolve("latest.safetensors"));
        Path recentLatest = CliHarness.tinyCheckpoint(recent.resolve("latest.safetensors"));
        Path recentBest = CliHarness.tinyCheckpoint(recent.resolve("best.safetensors"));
        Files.setLastModifiedTime(oldLatest, FileTime.fromMillis(1_000_000));
        Files.setLastModifiedTime(recentBest, FileTime.fromMillis(2_000_000));
        Files.setLastModifiedTime(recentLatest, FileTime.fromMillis(3_000_000));
        assertThat(CheckpointPaths.newest(dir.resolve("runs"))).isEqualTo(recentBest);
        assertThat(CheckpointPaths.resolve(recent)).isEqualTo(recentBest);
        assertThat(CheckpointPaths.resolve(old)).isEqualTo(oldLatest);
        Files.setLastModifiedTime(oldLatest, FileTime.fromMillis(9_000_000));
        assertThat(CheckpointPaths.newest(dir.resolve("runs"))).isEqualTo(oldLatest);
        assertThat(CheckpointPaths.newest(dir.resolve("nothing-here"))).isNull();

        CliHarness.Run r = CliHarness.run("", "demo", "--checkpoints-dir", dir.resolve("runs").toString(), "--threads", "1");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("from " + oldLatest).doesNotContain("training");
    }

    @Test
    void trainsANanoModelWhenThereIsNoCheckpoint() {
        Path runs = dir.resolve("checkpoints");
        CliHarness.Run r = CliHarness.run("", "demo", "--checkpoints-dir", runs.toString(), "--train-steps", "1", "--threads", "2");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("training a nano model on the embedded corpus", "trained 1 steps", "nano model (", "== story",
                "task answers right");
        assertThat(runs.resolve("demo/latest.safetensors")).exists();
        assertThat(r.out()).contains("from " + runs.resolve("demo/best.safetensors"));
    }

    @Test
    void helpShowsDefaults() {
        CliHarness.Run r = CliHarness.run("", "demo", "--help");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("Usage: ionllama demo", "Default: checkpoints", "Default: 300");
    }

    @Test
    void badValuesAreOneLineAndNonZero() throws Exception {
        GenerateCommandTest.assertOneLineError(CliHarness.run("", "demo", "--train-steps", "0"));
        GenerateCommandTest.assertOneLineError(CliHarness.run("", "demo", "--checkpoint", dir.resolve("missing").toString()));
        GenerateCommandTest.assertOneLineError(CliHarness.run("", "demo", "--checkpoint", Files.createDirectories(dir.resolve("e")).toString()));
        Path junk = Files.writeString(dir.resolve("junk.safetensors"), "no");
        GenerateCommandTest.assertOneLineError(CliHarness.run("", "demo", "--checkpoint", junk.toString()));
        GenerateCommandTest.assertOneLineError(CliHarness.run("", "demo", "--seed", "x"));
    }
}
