package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.data.ByteSource;
import io.ionllama.data.EmbeddedCorpus;
import io.ionllama.train.Evaluator;
import io.ionllama.train.TrainConfig;
import io.ionllama.train.Trainer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** End-to-end learning: nano overfits 4 KB of English text to under 0.3 bits per byte. */
class ModelLearningTest {

    @Test
    void nanoOverfitsFourKilobytesOfEnglish() {
        // 4 KB of the story grammar's English (deterministic), never repeated inside the 4 KB.
        byte[] text = Arrays.copyOf(EmbeddedCorpus.generate(11, 8192), 4096);
        ByteSource data = ByteSource.of(text);
        ModelConfig c = ModelConfig.of("nano");
        try (CpuBackend cpu = new CpuBackend(2)) {
            IonLlama m = new IonLlama(c, cpu, Patcher.parse("entropy", c.maxPatch(), c.targetPatch()), false);
            m.init(1);
            int steps = 250;
            Trainer t = new Trainer(m, data, new TrainConfig(4, 128, 1, 4e-3f, 4e-4f, 20, steps, "adamw", 0f, 1f, 3, 40));
            for (int i = 0; i < steps; i++) {
                t.step();
            }
            // Evaluate on the training text itself: overfitting is the point.
            double bpb = new Evaluator(data, 8, 128, 4).run(m).bpb();
            System.out.printf("4 KB overfit: %.3f bits per byte after %d steps%n", bpb, steps);
            assertThat(bpb).isLessThan(0.3);
        }
    }
}
