package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.testing.Allocations;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A steady-state training step (forward and backward) allocates nothing but its small result
 * record: every buffer is kept between steps, every backend op reuses its task object.
 */
@Tag("allocation")
class StepAllocationTest {

    @Test
    void steadyStateStepAllocatesAlmostNothing() {
        ModelConfig c = ModelConfig.of("nano");
        try (CpuBackend cpu = new CpuBackend(2)) {
            IonLlama m = new IonLlama(c, cpu, Patcher.parse("fixed:4", c.maxPatch(), c.targetPatch()), false);
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
            assertThat(best / 10).as("bytes allocated per training step").isLessThan(2048);
        }
    }
}
