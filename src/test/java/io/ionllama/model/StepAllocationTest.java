package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.testing.Allocations;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A steady-state training step (forward and backward) allocates nothing but its small result
 * record, for every model: every buffer is kept between steps, every backend op reuses its task
 * object.
 */
@Tag("allocation")
class StepAllocationTest {

    @ParameterizedTest
    @ValueSource(strings = {"ionllama", "dense", "rnn"})
    void steadyStateStepAllocatesAlmostNothing(String kind) {
        Function<CpuBackend, ByteModel> make = switch (kind) {
            case "ionllama" -> (CpuBackend cpu) -> {
                ModelConfig c = ModelConfig.of("nano");
                return new IonLlama(c, cpu, Patcher.parse("fixed:4", c.maxPatch(), c.targetPatch()), false);
            };
            case "dense" -> (CpuBackend cpu) -> new DenseGpt(new DenseConfig(32, 2, 2, 64, 64), cpu);
            default -> (CpuBackend cpu) -> new ContextRnn(new RnnConfig(16, 32, 16, 2), cpu);
        };
        try (CpuBackend cpu = new CpuBackend(2)) {
            ByteModel m = make.apply(cpu);
            m.init(1);
            int B = 2, T = 64;
            int[] x = new int[B * T], y = new int[B * T];
            SplittableRandom r = new SplittableRandom(1);
            for (int i = 0; i < x.length; i++) {
                x[i] = 'a' + r.nextInt(26);
                y[i] = 'a' + r.nextInt(26);
            }
            long best = Allocations.leastPerRun(cpu, () -> {
                for (int k = 0; k < 10; k++) {
                    m.forward(x, y, B, T);
                    m.backward(1f);
                }
            }, 20, 10 * 2048);
            assertThat(best / 10).as("bytes allocated per %s training step", kind).isLessThan(2048);
        }
    }
}
