package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.data.ByteSource;
import io.ionllama.data.Corpus;
import io.ionllama.data.EmbeddedCorpus;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TrainerTest {

    static ModelConfig small() {
        return new ModelConfig("nano", 48, 64, 1, 2, 1, 1, 32, 1, new int[] {3, 4, 5}, 509, 128, 128, 4, 16, 4f).validate();
    }

    /** After the entropy warm-up the calibrated patcher's mean patch length stays within 10% of the target. */
    @Test
    void calibratedPatchLengthMeetsTheTargetAfterWarmup() {
        ByteSource stories = ByteSource.of(EmbeddedCorpus.generate(3, 400_000));
        try (CpuBackend cpu = new CpuBackend(2)) {
            ModelConfig c = small();
            IonLlama m = new IonLlama(c, cpu, Patcher.parse("entropy", c.maxPatch(), c.targetPatch()), false);
            m.init(1);
            int warmup = 30;
            Trainer t = new Trainer(m, stories, new TrainConfig(4, 128, 1, 3e-3f, 3e-4f, 10, 90, "adamw", 0.1f, 1f, 7, warmup));
            List<Double> after = new ArrayList<>();
            for (int i = 0; i < 90; i++) {
                Trainer.Step s = t.step();
                if (s.step() >= warmup) {
                    after.add(s.bytesPerPatch());
                }
            }
            double mean = after.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
            assertThat(mean).as("mean bytes per patch after warm-up: %s", after).isBetween(3.6, 4.4);
            // From the first entropy-patched step on, no step strays far (the lag docs/architecture.md, section 3.3, describes).
            assertThat(after).allSatisfy(v -> assertThat(v).isBetween(2.8, 5.2));
        }
    }

    /** nano on the embedded corpus for a bounded number of steps reaches a validation BPB bound. */
    @Test
    void nanoLearnsTheEmbeddedCorpus() {
        try (CpuBackend cpu = new CpuBackend(2); Corpus corpus = Corpus.embedded()) {
            ModelConfig c = small();
            IonLlama m = new IonLlama(c, cpu, Patcher.parse("entropy", c.maxPatch(), c.targetPatch()), false);
            m.init(1);
            Trainer t = new Trainer(m, corpus.train(), new TrainConfig(8, 128, 1, 4e-3f, 4e-4f, 15, 150, "adamw", 0.1f, 1f, 7, 40));
            Evaluator eval = new Evaluator(corpus.valid(), 8, 128, 4);
            double before = eval.run(m).bpb();
            for (int i = 0; i < 150; i++) {
                t.step();
            }
            Evaluator.Result r = eval.run(m);
            System.out.printf("embedded corpus: valid BPB %.3f -> %.3f%n", before, r.bpb());
            assertThat(r.bpb()).isLessThan(1.3);
        }
    }

    @Test
    void learningRateScheduleWarmsUpThenDecaysToMin() {
        TrainConfig c = new TrainConfig(1, 8, 1, 1e-3f, 1e-4f, 10, 110, "adamw", 0f, 0f, 1, 0);
        assertThat((double) c.lrAt(0)).isCloseTo(1e-4, org.assertj.core.data.Offset.offset(1e-9));
        assertThat((double) c.lrAt(9)).isCloseTo(1e-3, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(c.lrAt(60)).isBetween(5.4e-4f, 5.6e-4f);
        assertThat((double) c.lrAt(110)).isCloseTo(1e-4, org.assertj.core.data.Offset.offset(1e-9));
    }
}
