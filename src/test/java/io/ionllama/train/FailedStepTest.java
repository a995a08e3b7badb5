package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ionllama.backend.ForwardingBackend;
import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.data.ByteSource;
import io.ionllama.data.EmbeddedCorpus;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A training step or a validation batch that throws ends its backend step with
 * {@code abortStep}, not {@code endStep}: a device backend then neither runs what it had taken
 * (which could fail again and hide the first error) nor builds a plan from half a step. The
 * caller sees the original exception.
 */
class FailedStepTest {

    /** Throws from the matmul op once {@code failAt} is reached; records how steps end. */
    static final class Failing extends ForwardingBackend {
        final List<String> ends = new ArrayList<>();
        boolean fail;

        Failing(CpuBackend cpu) {
            super(cpu);
        }

        @Override
        public void matmulForward(float[] y, int yOff, float[] x, int xOff, float[] w, int wOff, float[] b, int bOff, int N,
                                  int in, int out) {
            if (fail) {
                throw new IllegalStateException("device lost");
            }
            super.matmulForward(y, yOff, x, xOff, w, wOff, b, bOff, N, in, out);
        }

        @Override
        public void endStep() {
            ends.add("end");
            super.endStep();
        }

        @Override
        public void abortStep() {
            ends.add("abort");
            super.abortStep();
        }
    }

    @Test
    void aThrowingStepIsAbortedAndItsErrorSurfaces() {
        ByteSource data = ByteSource.of(EmbeddedCorpus.generate(EmbeddedCorpus.TRAIN_SEED, 20_000));
        try (CpuBackend cpu = new CpuBackend(1)) {
            Failing be = new Failing(cpu);
            ModelConfig c = TrainerTest.small();
            IonLlama m = new IonLlama(c, be, Patcher.parse("entropy", c.maxPatch(), c.targetPatch()), false);
            m.init(1);
            Trainer t = new Trainer(m, data, new TrainConfig(2, 64, 1, 3e-3f, 3e-4f, 1, 4, "adamw", 0.1f, 1f, 7, 2));
            t.step();
            assertThat(be.ends).as("a step that succeeds").containsExactly("end");
            be.fail = true;
            assertThatThrownBy(t::step).isInstanceOf(IllegalStateException.class).hasMessage("device lost");
            assertThat(be.ends).as("a training step that throws").containsExactly("end", "abort");
            Evaluator eval = new Evaluator(data, 2, 64, 1);
            assertThatThrownBy(() -> eval.run(m)).isInstanceOf(IllegalStateException.class).hasMessage("device lost");
            assertThat(be.ends).as("a validation batch that throws").containsExactly("end", "abort", "abort");
        }
    }
}
