package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.ionllama.data.Corpus;
import io.ionllama.model.IonLlama;
import io.ionllama.testing.CpuBackendTest;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The time-driven schedule ({@code --max-time}) under a fake clock: linear warm-up over the first
 * steps, then a cosine over the time budget that reaches min-lr at its end; the run stops at the
 * budget; a resumed run continues the schedule from the checkpoint's elapsed training time.
 */
class TimeScheduleTest extends CpuBackendTest {

    @TempDir
    Path dir;

    static final float LR = 3e-3f, MIN_LR = 3e-4f;

    /** Time-driven: budget 100 s, 4 warm-up steps, no step limit. */
    static TrainConfig timed(double seconds) {
        return new TrainConfig(2, 48, 1, LR, MIN_LR, 4, Long.MAX_VALUE, "adamw", 0.1f, 1.0f, 42, 4, 0f, seconds);
    }

    static double cosine(double t, double budget) {
        return MIN_LR + 0.5 * (LR - MIN_LR) * (1 + Math.cos(Math.PI * Math.min(1, t / budget)));
    }

    @Test
    void scheduleIsWarmupThenCosineOverTheBudget() {
        TrainConfig c = timed(100);
        assertThat((double) c.lrAt(0, 0)).isCloseTo(LR / 4, within(1e-9));
        assertThat((double) c.lrAt(3, 0)).isCloseTo(LR, within(1e-9));
        // The step count no longer matters after warm-up: only the time.
        assertThat(c.lrAt(10, 50)).isEqualTo(c.lrAt(100_000, 50));
        assertThat((double) c.lrAt(10, 50)).isCloseTo((LR + MIN_LR) / 2, within(1e-8));
        assertThat((double) c.lrAt(10, 100)).isCloseTo(MIN_LR, within(1e-9));
        assertThat((double) c.lrAt(10, 250)).isCloseTo(MIN_LR, within(1e-9));
        // Without a budget: the step schedule, unchanged.
        TrainConfig steps = timed(0);
        assertThat(steps.lrAt(5, 50)).isEqualTo(steps.lrAt(5));
    }

    @Test
    void trainerFollowsTheClockAndResumeContinuesFromTheSavedTime() throws IOException {
        AtomicLong nanos = new AtomicLong(1_000_000_000_000L);
        IonLlama m = ResumeTest.model();
        Trainer t = new Trainer(m, ResumeTest.data, timed(100)).clock(nanos::get);
        List<Float> lrs = new ArrayList<>();
        for (int k = 0; k < 6; k++) {
            lrs.add(t.step().lr());
            nanos.addAndGet(10_000_000_000L); // 10 s per step
        }
        for (int k = 0; k < 6; k++) {
            double warm = Math.min(1.0, (k + 1) / 4.0);
            assertThat((double) lrs.get(k)).as("step %d", k).isCloseTo(warm * cosine(10 * k, 100), within(1e-9));
        }
        assertThat(t.elapsed()).isCloseTo(60, within(1e-9));
        Path file = dir.resolve("latest.safetensors");
        Checkpoint.save(file, m, t, 0, Double.NaN, null);

        // A fresh process: another clock reading entirely; the schedule continues at 60 s.
        AtomicLong other = new AtomicLong(7);
        IonLlama m2 = ResumeTest.model();
        Trainer t2 = new Trainer(m2, ResumeTest.data, timed(100)).clock(other::get);
        Checkpoint.load(file, m2, t2);
        assertThat(t2.step).isEqualTo(6);
        assertThat(t2.elapsed()).isCloseTo(60, within(1e-9));
        other.addAndGet(15_000_000_000L);
        assertThat((double) t2.step().lr()).isCloseTo(cosine(75, 100), within(1e-9));
        other.addAndGet(25_000_000_000L);
        assertThat(t2.budgetSpent()).isTrue();
        assertThat((double) t2.step().lr()).isCloseTo(MIN_LR, within(1e-9));
    }

    @Test
    void theCpuClockCountsComputeAndTheCheckpointRecordsIt() throws IOException {
        IonLlama m = ResumeTest.model();
        Trainer t = new Trainer(m, ResumeTest.data, timed(100)).clock("cpu");
        assertThat(t.clockKind()).isEqualTo("cpu");
        var threads = java.lang.management.ManagementFactory.getThreadMXBean();
        long start = threads.getCurrentThreadCpuTime();
        double sink = 0;
        while (threads.getCurrentThreadCpuTime() - start < 200_000_000L) { // 0.2 s of this thread's CPU
            sink += Math.sqrt(sink + 1);
        }
        assertThat(sink).isPositive();
        // The process's CPU time includes this thread's: at least the 0.2 s spent.
        assertThat(t.elapsed()).isGreaterThanOrEqualTo(0.19);
        Path file = dir.resolve("cpu.safetensors");
        Checkpoint.save(file, m, t, 0, Double.NaN, null);
        assertThat(Checkpoint.readMeta(file).raw()).containsEntry("train.clock", "cpu");
        assertThat(new Trainer(m, ResumeTest.data, timed(100)).clockKind()).isEqualTo("wall");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> t.clock("sundial"))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void runStopsAtTheBudgetWithTheScheduleAtMinLr() throws IOException {
        try (Corpus corpus = Corpus.embedded()) {
            IonLlama m = ResumeTest.model();
            Trainer[] holder = new Trainer[1];
            // 2 s of "training" per step taken, whatever the real time.
            Trainer t = new Trainer(m, corpus.train(), timed(20));
            holder[0] = t;
            t.clock(() -> holder[0].step * 2_000_000_000L);
            TrainRun.Options opt = new TrainRun.Options(dir.resolve("run"), 0, 4, 1, 0, 0, 1, 0, false);
            TrainRun.Summary s = new TrainRun(t, corpus, opt, new PrintStream(OutputStream.nullOutputStream()),
                    Double.POSITIVE_INFINITY, 0).run();
            assertThat(s.steps()).isEqualTo(10);
            MetricsLog log = new MetricsLog(s.metrics(), Long.MAX_VALUE);
            log.close();
            assertThat(log.valid).isNotEmpty();
            assertThat(log.valid.get(log.valid.size() - 1)[0]).as("a final evaluation at the last step").isEqualTo(10);
            assertThat(log.lastElapsed()).isCloseTo(20, within(1e-9));
            Checkpoint.Meta meta = Checkpoint.readMeta(s.checkpoint());
            assertThat(Double.parseDouble(meta.raw().get("train.elapsed_s"))).isCloseTo(20, within(1e-9));
            // The last step (index 9) ran at 18 s of 20: the cosine's value there, near the floor.
            List<String> lines = java.nio.file.Files.readAllLines(s.metrics());
            String lastTrain = lines.stream().filter(l -> l.contains("\"kind\":\"train\"")).reduce((a, b) -> b).orElseThrow();
            double lr = com.google.gson.JsonParser.parseString(lastTrain).getAsJsonObject().get("lr").getAsDouble();
            assertThat(lr).isCloseTo(cosine(18, 20), within(1e-9)).isLessThan(MIN_LR * 1.25);
        }
    }
}
