package io.ionllama.train;

import static io.ionllama.testing.GradCheck.assertClose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.kernels.Optim;
import io.ionllama.model.ParamLayout;
import io.ionllama.testing.Tensors;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * AdamW against steps computed by hand: a 3-element model (a MATRIX [1, 2] and a VECTOR [1]), two
 * consecutive updates so the bias corrections for t = 1 and t = 2 both enter, with and without
 * weight decay (which only MATRIX tensors get). The numbers are chosen so that the moments are
 * exact binary fractions; the expected values below are the formulas with those literals. Then
 * the gradient scale (applied before the moments), {@link AdamW#clipScale}, and
 * {@link AdamW#gradNorm} against a double sum, bit-identical for any thread count.
 *
 * <pre>
 *   lr = 0.1, β1 = 0.5, β2 = 0.75, eps = 1e-8 (negligible next to sqrt(v̂) ≥ 0.5)
 *   bc1 = 1 - 0.5^t  = 0.5, 0.75        bc2 = 1 - 0.75^t = 0.25, 0.4375
 *
 *            p0     g1     g2
 *   w[0]    1.0    0.5  -1.25     MATRIX
 *   w[1]   -2.0   -1.0    1.0     MATRIX
 *   b[0]    0.5    2.0    2.0     VECTOR
 *
 *   t = 1: m = 0.5 g1             = [0.25, -0.5, 1.0]
 *          v = 0.25 g1²           = [0.0625, 0.25, 1.0]
 *          m̂ = m/0.5 = g1, v̂ = v/0.25 = g1²  ⇒  update = g1/|g1| = [1, -1, 1]
 *   t = 2: m = 0.5 m + 0.5 g2     = [0.125 - 0.625, -0.25 + 0.5, 0.5 + 1.0] = [-0.5, 0.25, 1.5]
 *          v = 0.75 v + 0.25 g2²  = [0.046875 + 0.390625, 0.1875 + 0.25, 0.75 + 1.0] = [0.4375, 0.4375, 1.75]
 *          m̂ = m/0.75 = [-2/3, 1/3, 2],  v̂ = v/0.4375 = [1, 1, 4]  ⇒  update = [-2/3, 1/3, 1]
 *   p -= lr (update + wd p), wd on w only.
 * </pre>
 */
class AdamWTest {

    static final float LR = 0.1f;

    static ParamLayout layout() {
        ParamLayout l = new ParamLayout();
        l.add("w", ParamLayout.Kind.MATRIX, 1, 2);
        l.add("b", ParamLayout.Kind.VECTOR, 1);
        return l;
    }

    static final float[] P0 = {1.0f, -2.0f, 0.5f};
    static final float[] G1 = {0.5f, -1.0f, 2.0f};
    static final float[] G2 = {-1.25f, 1.0f, 2.0f};

    @Test
    void twoStepsWithWeightDecayMatchTheHandComputation() {
        ParamLayout layout = layout();
        AdamW opt = new AdamW(layout.total(), 0.5f, 0.75f, 1e-8f, 0.1f);
        float[] p = P0.clone(), g = G1.clone();
        try (CpuBackend cpu = new CpuBackend(1)) {
            opt.update(cpu, layout.tensors(), p, g, LR, 1f);
            assertThat(opt.t).isEqualTo(1);
            assertThat(opt.m).containsExactly(0.25f, -0.5f, 1.0f);
            assertThat(opt.v).containsExactly(0.0625f, 0.25f, 1.0f);
            assertClose("p after t=1", p, new double[] {
                    1.0 - 0.1 * (1 + 0.1 * 1.0),       // 0.89
                    -2.0 - 0.1 * (-1 + 0.1 * -2.0),    // -1.88
                    0.5 - 0.1 * 1,                     // 0.4: a VECTOR, no decay
            }, 1e-6, 1e-7);
            assertThat(p[2]).as("decay on the VECTOR would give 0.395").isNotCloseTo(0.395f, within(1e-4f));

            System.arraycopy(G2, 0, g, 0, 3);
            opt.update(cpu, layout.tensors(), p, g, LR, 1f);
            assertThat(opt.t).isEqualTo(2);
            assertThat(opt.m).containsExactly(-0.5f, 0.25f, 1.5f);
            assertThat(opt.v).containsExactly(0.4375f, 0.4375f, 1.75f);
            assertClose("p after t=2", p, new double[] {
                    0.89 - 0.1 * (-2.0 / 3 + 0.1 * 0.89),     // 0.94776667
                    -1.88 - 0.1 * (1.0 / 3 + 0.1 * -1.88),    // -1.89453333
                    0.4 - 0.1 * 1,                            // 0.3
            }, 1e-6, 1e-7);
        }
    }

    @Test
    void twoStepsWithoutWeightDecayMatchTheHandComputation() {
        ParamLayout layout = layout();
        AdamW opt = new AdamW(layout.total(), 0.5f, 0.75f, 1e-8f, 0f);
        float[] p = P0.clone();
        try (CpuBackend cpu = new CpuBackend(1)) {
            opt.update(cpu, layout.tensors(), p, G1.clone(), LR, 1f);
            assertClose("p after t=1", p, new double[] {1.0 - 0.1 * 1, -2.0 - 0.1 * -1, 0.5 - 0.1 * 1}, 1e-6, 1e-7);
            opt.update(cpu, layout.tensors(), p, G2.clone(), LR, 1f);
            assertClose("p after t=2", p, new double[] {
                    0.9 - 0.1 * (-2.0 / 3),     // 0.96666667
                    -1.9 - 0.1 * (1.0 / 3),     // -1.93333333
                    0.4 - 0.1 * 1,              // 0.3
            }, 1e-6, 1e-7);
        }
        // The moments do not depend on weight decay.
        assertThat(opt.m).containsExactly(-0.5f, 0.25f, 1.5f);
        assertThat(opt.v).containsExactly(0.4375f, 0.4375f, 1.75f);
    }

    @Test
    void withZeroGradientOnlyMatricesDecay() {
        // g = 0 ⇒ m = v = 0 and the Adam term is 0 / (0 + eps) = 0: what is left is the decay,
        // p ← p (1 - lr wd), on MATRIX tensors only (not EMBEDDING, not VECTOR).
        ParamLayout l = new ParamLayout();
        l.add("w", ParamLayout.Kind.MATRIX, 2, 2);
        l.add("e", ParamLayout.Kind.EMBEDDING, 3, 1);
        l.add("b", ParamLayout.Kind.VECTOR, 2);
        float[] p = {1f, -2f, 3f, -4f, 5f, 6f, 7f, 8f, 9f};
        AdamW opt = new AdamW(l.total(), 0.9f, 0.95f, 1e-8f, 0.5f);
        try (CpuBackend cpu = new CpuBackend(1)) {
            opt.update(cpu, l.tensors(), p, new float[9], 0.1f, 1f);
        }
        // 1 - 0.1 * 0.5 = 0.95
        assertClose("p", p, new double[] {0.95, -1.9, 2.85, -3.8, 5, 6, 7, 8, 9}, 1e-6, 0);
    }

    @Test
    void updatingASubsetLeavesTheOtherTensorsAlone() {
        ParamLayout layout = layout();
        AdamW opt = new AdamW(layout.total(), 0.5f, 0.75f, 1e-8f, 0.1f);
        float[] p = P0.clone();
        try (CpuBackend cpu = new CpuBackend(1)) {
            opt.update(cpu, List.of(layout.get("b")), p, G1.clone(), LR, 1f);
        }
        assertThat(p).containsExactly(1.0f, -2.0f, 0.4f);
        assertThat(opt.m).containsExactly(0f, 0f, 1.0f);
        assertThat(opt.v).containsExactly(0f, 0f, 1.0f);
    }

    @Test
    void gradScaleMultipliesTheGradientBeforeTheMoments() {
        ParamLayout layout = layout();
        AdamW opt = new AdamW(layout.total(), 0.5f, 0.75f, 1e-8f, 0.1f);
        float[] p = P0.clone();
        try (CpuBackend cpu = new CpuBackend(1)) {
            opt.update(cpu, layout.tensors(), p, G1.clone(), LR, 0.5f);
            // m = 0.5 (0.5 g1), v = 0.25 (0.5 g1)²
            assertThat(opt.m).containsExactly(0.125f, -0.25f, 0.5f);
            assertThat(opt.v).containsExactly(0.015625f, 0.0625f, 0.25f);
            // At t = 1 the update is g/|g| whatever the scale: p as in the unscaled step.
            assertClose("p after t=1", p, new double[] {0.89, -1.88, 0.4}, 1e-6, 1e-7);

            opt.update(cpu, layout.tensors(), p, G2.clone(), LR, 1f);
            // m = 0.5 m + 0.5 g2 = [0.0625 - 0.625, -0.125 + 0.5, 0.25 + 1.0]
            // v = 0.75 v + 0.25 g2² = [0.01171875 + 0.390625, 0.046875 + 0.25, 0.1875 + 1.0]
            assertThat(opt.m).containsExactly(-0.5625f, 0.375f, 1.25f);
            assertThat(opt.v).containsExactly(0.40234375f, 0.296875f, 1.1875f);
            assertClose("p after t=2", p, new double[] {
                    0.89 - 0.1 * ((-0.5625 / 0.75) / Math.sqrt(0.40234375 / 0.4375) + 0.1 * 0.89),
                    -1.88 - 0.1 * ((0.375 / 0.75) / Math.sqrt(0.296875 / 0.4375) + 0.1 * -1.88),
                    0.4 - 0.1 * ((1.25 / 0.75) / Math.sqrt(1.1875 / 0.4375)),
            }, 1e-6, 1e-7);
        }
    }

    // ------------------------------------------------------------------------ clipping

    @Test
    void clipScale() {
        assertThat(AdamW.clipScale(0.5, 1f)).as("below the threshold").isEqualTo(1f);
        assertThat(AdamW.clipScale(1.0, 1f)).as("at the threshold").isEqualTo(1f);
        assertThat(AdamW.clipScale(0.0, 1f)).as("zero gradient").isEqualTo(1f);
        assertThat(AdamW.clipScale(4.0, 1f)).isEqualTo(0.25f);
        assertThat(AdamW.clipScale(3.0, 2f)).isEqualTo((float) (2.0 / 3.0));
        assertThat(AdamW.clipScale(1e6, 0f)).as("clip 0: off").isEqualTo(1f);
        assertThat(AdamW.clipScale(1e6, -1f)).as("negative clip: off").isEqualTo(1f);
    }

    @Test
    void clippedGradientHasTheClipNorm() {
        ParamLayout layout = bigLayout();
        float[] g = Tensors.uniform(new SplittableRandom(3), (int) layout.total(), -1, 1);
        try (CpuBackend cpu = new CpuBackend(2)) {
            double norm = AdamW.gradNorm(cpu, layout, g);
            float s = AdamW.clipScale(norm, 1f);
            assertThat(norm).isGreaterThan(1.0);
            for (int i = 0; i < g.length; i++) {
                g[i] *= s;
            }
            assertThat(AdamW.gradNorm(cpu, layout, g)).isCloseTo(1.0, within(1e-6));
        }
    }

    // ------------------------------------------------------------------------ gradient norm

    /** Tensors of several Optim.BLOCKs each, and a small one, so every block path runs. */
    static ParamLayout bigLayout() {
        ParamLayout l = new ParamLayout();
        l.add("w1", ParamLayout.Kind.MATRIX, 3, Optim.BLOCK + 5);
        l.add("b1", ParamLayout.Kind.VECTOR, 7);
        l.add("e", ParamLayout.Kind.EMBEDDING, 2 * Optim.BLOCK);
        l.add("w2", ParamLayout.Kind.MATRIX, 5, Optim.BLOCK - 3);
        return l;
    }

    /** Gradients followed by huge values past the layout: reading beyond it shows. */
    static float[] gradients(ParamLayout layout, long seed) {
        int n = (int) layout.total();
        float[] g = Tensors.uniform(new SplittableRandom(seed), n + 17, -2, 2);
        for (int i = n; i < g.length; i++) {
            g[i] = 1e10f;
        }
        return g;
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3})
    void gradNormMatchesADoubleSum(int threads) {
        ParamLayout layout = bigLayout();
        float[] g = gradients(layout, 1);
        double s = 0;
        for (int i = 0; i < layout.total(); i++) {
            s += (double) g[i] * g[i];
        }
        try (CpuBackend cpu = new CpuBackend(threads)) {
            assertThat(AdamW.gradNorm(cpu, layout, g)).isCloseTo(Math.sqrt(s), within(1e-12 * Math.sqrt(s)));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 5})
    void gradNormIsBitIdenticalForAnyThreadCount(int threads) {
        ParamLayout layout = bigLayout();
        float[] g = gradients(layout, 2);
        try (CpuBackend one = new CpuBackend(1); CpuBackend many = new CpuBackend(threads)) {
            assertThat(AdamW.gradNorm(many, layout, g)).isEqualTo(AdamW.gradNorm(one, layout, g));
            for (ParamLayout.Tensor t : layout.tensors()) {
                assertThat(many.sumSquares(g, t.off(), (int) t.size())).as(t.name())
                        .isEqualTo(one.sumSquares(g, t.off(), (int) t.size()));
            }
        }
    }
}
