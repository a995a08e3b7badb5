package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;

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
 * Which evaluations a device backend may record and replay: each validation batch of a training
 * run is a backend step of the training group, except a run's only evaluation after its last step
 * (nothing would replay it, so it runs outside any step). The results are the same either way.
 */
class EvaluatorStepsTest {

    /** Records the kinds of the steps begun. */
    static final class StepLog extends ForwardingBackend {
        final List<String> kinds = new ArrayList<>();

        StepLog(CpuBackend cpu) {
            super(cpu);
        }

        @Override
        public void beginStep(String kind) {
            kinds.add(kind);
            super.beginStep(kind);
        }
    }

    @Test
    void aRunsOnlyEvaluationAfterItsLastStepRunsOutsideAnyStep() {
        ByteSource valid = ByteSource.of(EmbeddedCorpus.generate(EmbeddedCorpus.TRAIN_SEED + 1, 20_000));
        try (CpuBackend cpu = new CpuBackend(1)) {
            StepLog be = new StepLog(cpu);
            ModelConfig c = TrainerTest.small();
            IonLlama m = new IonLlama(c, be, Patcher.parse("entropy", c.maxPatch(), c.targetPatch()), false);
            m.init(1);
            Evaluator.Result alone = new Evaluator(valid, 2, 64, 3).run(m, true);
            assertThat(be.kinds).as("a run's only evaluation, after its last step").isEmpty();

            Evaluator eval = new Evaluator(valid, 2, 64, 3);
            Evaluator.Result during = eval.run(m, false);
            assertThat(be.kinds).as("an evaluation during training").containsExactly(
                    Evaluator.TRAINING_EVAL, Evaluator.TRAINING_EVAL, Evaluator.TRAINING_EVAL);
            Evaluator.Result last = eval.run(m, true);
            assertThat(be.kinds).as("a last evaluation after others replays too").hasSize(6).containsOnly(Evaluator.TRAINING_EVAL);
            assertThat(alone.loss()).isEqualTo(during.loss()).isEqualTo(last.loss());
        }
    }
}
