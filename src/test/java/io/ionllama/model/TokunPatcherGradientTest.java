package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.testing.CpuBackendTest;
import io.ionllama.testing.TokunPatched;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The whole-model gradient check ({@link ModelGradientTest}'s, same tolerances) of a model patched
 * by a frozen tokun: every tensor, the trainable {@code tokun.proj} included; the same check
 * rejects a wrong {@code tokun.proj} gradient; and the backward leaves the tokun's own gradients
 * untouched (no gradient flows into it).
 */
class TokunPatcherGradientTest extends CpuBackendTest {

    @Test
    void backwardMatchesFiniteDifferencesForEveryTensor() {
        IonLlama m = TokunPatched.model(cpu, 11);
        ModelGradientTest.checkAll(m, 3, 11, 601);
        assertThat(m.patchEncoder.grads).containsOnly(0f);
    }

    @Test
    void backwardMatchesFiniteDifferencesWithDropout() {
        IonLlama m = TokunPatched.model(cpu, 12);
        m.setDropout(0.3f, 99);
        ModelGradientTest.checkAll(m, 2, 13, 602);
        m.setDropout(0f, 0);
    }

    /** A mutant: tokun.proj's gradient scaled by 1.1 fails, an untouched tensor passes. */
    @Test
    void checkRejectsAWrongProjectionGradient() {
        IonLlama m = TokunPatched.model(cpu, 13);
        ParamLayout.Tensor proj = m.layout.get(Architecture.TOKUN_PROJ);
        List<String> failures = ModelGradientTest.check(m, 2, 11, 603, g -> {
            for (int i = 0; i < proj.size(); i++) {
                g[proj.off() + i] *= 1.1f;
            }
        }, name -> name.equals(Architecture.TOKUN_PROJ) || name.equals("head"));
        assertThat(failures).anyMatch(f -> f.startsWith(Architecture.TOKUN_PROJ)).noneMatch(f -> f.startsWith("head"));
    }
}
