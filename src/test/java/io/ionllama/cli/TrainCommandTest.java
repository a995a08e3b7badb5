package io.ionllama.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.train.Checkpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TrainCommandTest {

    @TempDir
    Path dir;

    /** A tiny model, so a CLI run takes a second or two. */
    static final String[] TINY = {"--size", "nano", "--d-local", "16", "--d-model", "16", "--layers", "1", "--heads", "2",
        "--d-entropy", "8", "--buckets", "64", "--local-mlp", "32", "--global-mlp", "32", "--batch-size", "2",
        "--seq-len", "32", "--sample-bytes", "8", "--no-progress", "--threads", "1"};

    static String[] args(String... more) {
        List<String> a = new ArrayList<>(List.of("train"));
        a.addAll(List.of(TINY));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void trainsWritesEverythingAndResumes() throws IOException {
        Path out = dir.resolve("run");
        CliTest.Result r = CliTest.run(args("--max-steps", "6", "--eval-every", "3", "--save-every", "2", "--keep", "2",
                "--log-every", "1", "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(out.resolve("latest.safetensors")).exists();
        assertThat(out.resolve("best.safetensors")).exists();
        assertThat(out.resolve("curves.png")).exists();
        assertThat(out.resolve("step_6.safetensors")).exists();
        assertThat(out.resolve("step_4.safetensors")).exists();
        assertThat(out.resolve("step_2.safetensors")).doesNotExist(); // --keep 2
        assertThat(Files.readAllLines(out.resolve("metrics.jsonl"))).anyMatch(l -> l.contains("\"kind\":\"valid\""))
                .anyMatch(l -> l.contains("\"grad_norm\""));
        assertThat(r.out()).contains("checkpoint:", "metrics:", "plot:", "sample:");
        assertThat(Checkpoint.readMeta(out.resolve("latest.safetensors")).step()).isEqualTo(6);

        CliTest.Result again = CliTest.run(args("--max-steps", "9", "--eval-every", "3", "--resume", out.toString()));
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.out()).contains("resuming from", "at step 6");
        assertThat(Checkpoint.readMeta(out.resolve("latest.safetensors")).step()).isEqualTo(9);
    }

    /**
     * --max-time without --max-steps: the schedule runs over the time (no step limit), the run
     * stops at the budget with the rate at its floor, and --resume keeps the budget and the time spent.
     */
    @Test
    void maxTimeDrivesTheScheduleAndResumeKeepsTheBudget() throws IOException {
        Path out = dir.resolve("timed");
        CliTest.Result r = CliTest.run(args("--max-time", "3s", "--warmup", "2", "--eval-every", "1000", "--log-every", "1",
                "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("cosine over 3s of training", "time budget reached");
        Checkpoint.Meta meta = Checkpoint.readMeta(out.resolve("latest.safetensors"));
        assertThat(meta.raw().get("train.max_seconds")).isEqualTo("3.0");
        assertThat(Long.parseLong(meta.raw().get("train.max_steps"))).isEqualTo(Long.MAX_VALUE);
        double spent = Double.parseDouble(meta.raw().get("train.elapsed_s"));
        assertThat(spent).isGreaterThanOrEqualTo(3.0);
        // The last step's rate is the cosine's value past most of the budget: near --min-lr (3e-4), far below 3e-3.
        List<String> lines = Files.readAllLines(out.resolve("metrics.jsonl"));
        String last = lines.stream().filter(l -> l.contains("\"kind\":\"train\"")).reduce((a, b) -> b).orElseThrow();
        double lr = com.google.gson.JsonParser.parseString(last).getAsJsonObject().get("lr").getAsDouble();
        assertThat(lr).isLessThan(1.5e-3);

        // Resumed: the budget is spent already, so the run stops at once, the time carried on.
        CliTest.Result again = CliTest.run(args("--resume", out.toString()));
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.out()).contains("cosine over 3.0s of training", "time budget reached");
        assertThat(Double.parseDouble(Checkpoint.readMeta(out.resolve("latest.safetensors")).raw().get("train.elapsed_s")))
                .isGreaterThanOrEqualTo(spent);
    }

    @ParameterizedTest
    @ValueSource(strings = {"--data /nonexistent/file.txt", "--lr -1", "--optimizer sgd", "--max-time soon", "--batch-size 0",
        "--patcher zigzag", "--attention full", "--resume /nonexistent/run", "--model gpt5", "--clip -2", "--seq-len 2",
        "--data EMPTY", "--data SHORT", "--resume CORRUPT", "--dataset nosuchset", "--mix-tasks 1", "--mix-tasks -0.1"})
    void badInputIsOneLineAndNonZero(String bad) throws IOException {
        Path empty = Files.createFile(dir.resolve("empty.txt"));
        Path shortFile = dir.resolve("short.txt");
        Files.writeString(shortFile, "tiny");
        Path corrupt = dir.resolve("corrupt.safetensors");
        Files.writeString(corrupt, "garbage that is not a checkpoint");
        String line = bad.replace("EMPTY", empty.toString()).replace("SHORT", shortFile.toString())
                .replace("CORRUPT", corrupt.toString());
        CliTest.Result r = CliTest.run(args(line.split(" ")));
        assertThat(r.code()).isNotZero();
        assertThat(r.err().strip().lines()).as(r.err()).hasSize(1);
        assertThat(r.err()).startsWith("ionllama: ").doesNotContain("Exception", "\tat ");
    }

    /** --resume takes the run as it was: a flag that contradicts the checkpoint is named, in one line. */
    @Test
    void resumeNamesWhatContradictsItAndInheritsTheRest() throws IOException {
        Path out = dir.resolve("run");
        CliTest.Result first = CliTest.run(args("--max-steps", "2", "--eval-every", "100", "--out", out.toString()));
        assertThat(first.code()).as(first.err()).isZero();

        CliTest.Result tiny = CliTest.run("train", "--resume", out.toString(), "--size", "tiny", "--batch-size", "4",
                "--max-steps", "3", "--no-progress", "--threads", "1");
        assertThat(tiny.code()).isEqualTo(2);
        assertThat(tiny.err().strip().lines()).as(tiny.err()).hasSize(1);
        assertThat(tiny.err()).startsWith("ionllama: --resume ").contains("--size tiny (the checkpoint's is nano)",
                "--batch-size 4 (the checkpoint's is 2)");
        assertThat(tiny.out()).isEmpty();

        // Nothing given but --resume: the run goes on with its own batch, sequence length and schedule.
        CliTest.Result on = CliTest.run("train", "--resume", out.toString(), "--max-steps", "3", "--no-progress", "--threads", "1",
                "--sample-bytes", "0");
        assertThat(on.code()).as(on.err()).isZero();
        assertThat(on.out()).contains("batch 2 x 32 bytes", "at step 2");
        assertThat(Checkpoint.readMeta(out.resolve("latest.safetensors")).step()).isEqualTo(3);

        CliTest.Result done = CliTest.run("train", "--resume", out.toString(), "--no-progress", "--threads", "1");
        assertThat(done.code()).isEqualTo(2);
        assertThat(done.err().strip().lines()).as(done.err()).hasSize(1);
        assertThat(done.err()).startsWith("ionllama: nothing left to do: ").contains("at step 3", "--max-steps is 3");
        assertThat(done.out()).isEmpty();
    }

    /** --mix-tasks is recorded in the checkpoint, inherited by --resume, and a different value is a conflict. */
    @Test
    void mixTasksIsRecordedInheritedAndFixedOnResume() throws IOException {
        Path out = dir.resolve("mixed");
        CliTest.Result first = CliTest.run(args("--max-steps", "2", "--eval-every", "100", "--mix-tasks", "0.25", "--out", out.toString()));
        assertThat(first.code()).as(first.err()).isZero();
        assertThat(first.out()).contains("25.0% of windows task lines (--mix-tasks)");
        assertThat(Checkpoint.readMeta(out.resolve("latest.safetensors")).raw()).containsEntry("train.mix_tasks", "0.25");

        CliTest.Result changed = CliTest.run("train", "--resume", out.toString(), "--mix-tasks", "0.5", "--max-steps", "3",
                "--no-progress", "--threads", "1");
        assertThat(changed.code()).isEqualTo(2);
        assertThat(changed.err().strip().lines()).as(changed.err()).hasSize(1);
        assertThat(changed.err()).contains("--mix-tasks 0.5 (the checkpoint's is 0.25)");

        CliTest.Result on = CliTest.run("train", "--resume", out.toString(), "--max-steps", "3", "--no-progress", "--threads", "1",
                "--sample-bytes", "0");
        assertThat(on.code()).as(on.err()).isZero();
        assertThat(on.out()).contains("25.0% of windows task lines");
        assertThat(Checkpoint.readMeta(out.resolve("latest.safetensors")).raw()).containsEntry("train.mix_tasks", "0.25");
    }

    @Test
    void outOnAFileSaysSoBeforeAnyWork() throws IOException {
        Path file = Files.writeString(dir.resolve("taken"), "x");
        CliTest.Result r = CliTest.run(args("--max-steps", "2", "--out", file.toString()));
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip()).isEqualTo("ionllama: --out " + file + " is a file, not a folder (name a folder for the run's checkpoints)");
        assertThat(r.out()).isEmpty();
    }

    /**
     * A training process killed with SIGKILL at random moments (saving every step) always leaves
     * a loadable checkpoint, and training resumes from it.
     */
    @Test
    void killedDuringSavesLeavesALoadableCheckpoint() throws Exception {
        Path out = dir.resolve("killed");
        String java = ProcessHandle.current().info().command().orElse("java");
        SplittableRandom rnd = new SplittableRandom(4);
        for (int round = 0; round < 4; round++) {
            List<String> cmd = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"), "io.ionllama.cli.Main"));
            cmd.addAll(List.of(args("--max-steps", "100000", "--save-every", "1", "--keep", "2", "--eval-every", "1000",
                    "--out", out.toString())));
            if (round > 0) {
                cmd.addAll(List.of("--resume", out.toString()));
            }
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("log" + round).toFile()).start();
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                Path latest = out.resolve("latest.safetensors");
                long before = Files.exists(latest) ? Files.getLastModifiedTime(latest).toMillis() : 0;
                while ((!Files.exists(latest) || Files.getLastModifiedTime(latest).toMillis() == before) && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                Thread.sleep(100 + rnd.nextInt(600));
            } finally {
                p.destroyForcibly(); // SIGKILL on Linux
                p.waitFor(10, TimeUnit.SECONDS);
            }
            Checkpoint.Meta meta = Checkpoint.readMeta(out.resolve("latest.safetensors"));
            assertThat(meta.step()).isPositive();
        }
        long step = Checkpoint.readMeta(out.resolve("latest.safetensors")).step();
        CliTest.Result r = CliTest.run(args("--max-steps", Long.toString(step + 2), "--eval-every", "1000",
                "--resume", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(Checkpoint.readMeta(out.resolve("latest.safetensors")).step()).isEqualTo(step + 2);
    }
}
