package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.data.Corpus;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Non-finite losses or gradients: steps are skipped and counted, a run that keeps failing stops, nothing is saved as best. */
class NonFiniteTest {

    @TempDir
    Path dir;

    static IonLlama poisoned(CpuBackend cpu) {
        ModelConfig c = new ModelConfig("nano", 16, 16, 1, 2, 1, 1, 8, 1, new int[] {3}, 31, 32, 32, 2, 8, 3f).validate();
        IonLlama m = new IonLlama(c, cpu, Patcher.parse("fixed:3", c.maxPatch(), c.targetPatch()), false);
        m.init(1);
        m.params[m.layout.get("head").off()] = Float.NaN;
        return m;
    }

    @Test
    void skipsThenStopsWithAClearMessage() {
        try (CpuBackend cpu = new CpuBackend(1); Corpus corpus = Corpus.embedded()) {
            IonLlama m = poisoned(cpu);
            float[] before = m.params.clone();
            Trainer t = new Trainer(m, corpus.train(), new TrainConfig(2, 16, 1, 1e-3f, 1e-4f, 0, 100, "adamw", 0f, 1f, 1, 0));
            for (int i = 0; i < 9; i++) {
                assertThat(t.step().skipped()).isTrue();
            }
            assertThat(t.skippedSteps).isEqualTo(9);
            assertThat(m.params).as("skipped steps change nothing").isEqualTo(before);
            assertThatThrownBy(t::step).isInstanceOf(Trainer.DivergedException.class).hasMessageContaining("non-finite");
        }
    }

    @Test
    void aNonFiniteStateIsNeverSavedAsBest() throws Exception {
        try (CpuBackend cpu = new CpuBackend(1); Corpus corpus = Corpus.embedded()) {
            IonLlama m = poisoned(cpu);
            Trainer t = new Trainer(m, corpus.train(), new TrainConfig(2, 16, 1, 1e-3f, 1e-4f, 0, 3, "adamw", 0f, 1f, 1, 0));
            TrainRun run = new TrainRun(t, corpus, new TrainRun.Options(dir, 0, 1, 1, 0, 0, 1, 0, false),
                    new PrintStream(new ByteArrayOutputStream()), Double.POSITIVE_INFINITY, 0);
            TrainRun.Summary s = run.run();
            assertThat(s.skipped()).isEqualTo(3);
            assertThat(dir.resolve("best.safetensors")).doesNotExist();
            assertThat(dir.resolve("latest.safetensors")).exists();
        }
    }
}
