package io.ionllama.kernels;

import static io.ionllama.testing.GradCheck.assertClose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The optimizer units: several AdamW steps against a double reference on a sub-range at an
 * offset (everything outside untouched), the gradient scale applied before the moments, the
 * blocked sum of squares against a double sum at sizes spanning several {@link Optim#BLOCK}s,
 * and the backend's adamw and sumSquares giving the same bits for any thread count.
 * (Hand-computed AdamW steps and the weight-decay rule live in {@code train.AdamWTest}.)
 */
class OptimTest {

    static final float B1 = 0.9f, B2 = 0.95f, EPS = 1e-8f;

    /** One AdamW step in double over {@code [from, to)} of the slice at off, as Optim documents it. */
    static void adamwReference(double[] p, double[] g, double[] m, double[] v, int off, int from, int to,
                               double lr, double wd, int step, double gradScale) {
        double bc1 = 1 - Math.pow(B1, step), bc2 = 1 - Math.pow(B2, step);
        for (int i = off + from; i < off + to; i++) {
            double gi = g[i] * gradScale;
            m[i] = B1 * m[i] + (1 - B1) * gi;
            v[i] = B2 * v[i] + (1 - B2) * gi * gi;
            p[i] -= lr * ((m[i] / bc1) / (Math.sqrt(v[i] / bc2) + EPS) + wd * p[i]);
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4})
    void adamwRangeMatchesReferenceOverSeveralSteps(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int n = 5 + rnd.nextInt(40), off = 1 + rnd.nextInt(6), from = rnd.nextInt(3), to = n - rnd.nextInt(3);
        int len = off + n + 4;
        float lr = 0.01f, wd = seed % 2 == 0 ? 0.1f : 0f, scale = seed <= 2 ? 1f : 0.37f;
        float[] p = Tensors.uniform(rnd, len, -1, 1), m = new float[len], v = new float[len];
        float[] p0 = p.clone();
        double[] pd = Tensors.toDouble(p), md = new double[len], vd = new double[len];
        for (int step = 1; step <= 4; step++) {
            float[] g = Tensors.uniform(rnd, len, -2, 2);
            float bc1 = (float) (1 - Math.pow(B1, step)), bc2 = (float) (1 - Math.pow(B2, step));
            Optim.adamwRange(p, g, m, v, off, lr, B1, B2, EPS, wd, bc1, bc2, scale, from, to);
            adamwReference(pd, Tensors.toDouble(g), md, vd, off, from, to, lr, wd, step, scale);
        }
        assertClose("p", p, 0, pd, 1e-5, 1e-7);
        assertClose("m", m, 0, md, 1e-5, 1e-7);
        assertClose("v", v, 0, vd, 1e-5, 1e-9);
        for (int i = 0; i < len; i++) {
            if (i < off + from || i >= off + to) {
                assertThat(p[i]).as("p[%d] outside the range", i).isEqualTo(p0[i]);
                assertThat(m[i]).as("m[%d] outside the range", i).isZero();
                assertThat(v[i]).as("v[%d] outside the range", i).isZero();
            } else {
                assertThat(p[i]).as("p[%d] moved", i).isNotEqualTo(p0[i]);
            }
        }
    }

    @Test
    void gradScaleMultipliesTheGradientBeforeTheMoments() {
        SplittableRandom rnd = new SplittableRandom(5);
        int n = 33;
        float s = 0.25f;
        float[] g = Tensors.uniform(rnd, n, -3, 3), scaled = new float[n];
        for (int i = 0; i < n; i++) {
            scaled[i] = g[i] * s;
        }
        float[] p = Tensors.uniform(rnd, n, -1, 1), m = new float[n], v = new float[n];
        float[] q = p.clone(), m2 = new float[n], v2 = new float[n];
        for (int step = 1; step <= 3; step++) {
            float bc1 = (float) (1 - Math.pow(B1, step)), bc2 = (float) (1 - Math.pow(B2, step));
            Optim.adamwRange(p, g, m, v, 0, 0.01f, B1, B2, EPS, 0.1f, bc1, bc2, s, 0, n);
            Optim.adamwRange(q, scaled, m2, v2, 0, 0.01f, B1, B2, EPS, 0.1f, bc1, bc2, 1f, 0, n);
            if (step == 1) {
                for (int i = 0; i < n; i++) {
                    // m = (1-β1) s g and v = (1-β2) (s g)^2, not the unscaled moments.
                    assertThat((double) m[i]).isCloseTo((1 - B1) * s * (double) g[i], within(1e-6));
                    assertThat((double) v[i]).isCloseTo((1 - B2) * s * s * (double) g[i] * g[i], within(1e-6));
                }
            }
        }
        assertThat(p).isEqualTo(q);
        assertThat(m).isEqualTo(m2);
        assertThat(v).isEqualTo(v2);
    }

    // ------------------------------------------------------------------------ sum of squares

    static double sumSquaresReference(float[] g, int off, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += (double) g[off + i] * g[off + i];
        }
        return s;
    }

    static final int B = Optim.BLOCK;
    static final int[] SIZES = {0, 1, 7, B - 1, B, B + 1, 2 * B, 2 * B + 1, 3 * B, 5 * B + 123};

    /** Gradients at an offset inside huge values: summing anything outside the slice shows. */
    static float[] poisoned(long seed, int off, int n) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] g = Tensors.uniform(rnd, off + n + 9, -1, 1);
        for (int i = 0; i < g.length; i++) {
            if (i < off || i >= off + n) {
                g[i] = 1e10f;
            }
        }
        return g;
    }

    @Test
    void sumSquaresBlockCoversExactlyItsBlock() {
        int n = 2 * B + 100, off = 3;
        float[] g = poisoned(1, off, n);
        double[] partial = new double[3];
        for (int b = 0; b < 3; b++) {
            Optim.sumSquaresBlock(partial, g, off, n, b);
        }
        assertThat(partial[0]).isCloseTo(sumSquaresReference(g, off, B), within(1e-9));
        assertThat(partial[1]).isCloseTo(sumSquaresReference(g, off + B, B), within(1e-9));
        assertThat(partial[2]).isCloseTo(sumSquaresReference(g, off + 2 * B, 100), within(1e-9));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3})
    void backendSumSquaresMatchesReference(int threads) {
        try (CpuBackend cpu = new CpuBackend(threads)) {
            for (int k = 0; k < SIZES.length; k++) {
                int n = SIZES[k], off = 1 + k;
                float[] g = poisoned(10 + k, off, n);
                double expected = sumSquaresReference(g, off, n);
                assertThat(cpu.sumSquares(g, off, n)).as("n=%d", n).isCloseTo(expected, within(1e-12 * (1 + expected)));
            }
            // A smaller call after a larger one must not pick up the larger call's stale partial sums.
            float[] big = poisoned(20, 2, 5 * B), small = poisoned(21, 2, B + 5);
            cpu.sumSquares(big, 2, 5 * B);
            double expected = sumSquaresReference(small, 2, B + 5);
            assertThat(cpu.sumSquares(small, 2, B + 5)).isCloseTo(expected, within(1e-12 * expected));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 5})
    void backendSumSquaresIsBitIdenticalForAnyThreadCount(int threads) {
        try (CpuBackend one = new CpuBackend(1); CpuBackend many = new CpuBackend(threads)) {
            for (int k = 0; k < SIZES.length; k++) {
                int n = SIZES[k], off = 1 + k;
                float[] g = poisoned(30 + k, off, n);
                assertThat(many.sumSquares(g, off, n)).as("n=%d", n).isEqualTo(one.sumSquares(g, off, n));
            }
        }
    }

    // ------------------------------------------------------------------------ backend adamw

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 5})
    void backendAdamwIsBitIdenticalForAnyThreadCount(int threads) {
        float[][] one = runAdamw(1);
        float[][] many = runAdamw(threads);
        for (int k = 0; k < one.length; k++) {
            assertThat(many[k]).as("output %d", k).isEqualTo(one[k]);
        }
    }

    @Test
    void backendAdamwEqualsTheUnitAndTouchesOnlyItsSlice() {
        float[][] backend = runAdamw(3);
        SplittableRandom rnd = new SplittableRandom(77);
        int off = 11, n = 3 * (1 << 14) + 7, len = off + n + 5;
        float[] p = Tensors.uniform(rnd, len, -1, 1), g = Tensors.uniform(rnd, len, -1, 1);
        float[] m = new float[len], v = new float[len], p0 = p.clone();
        for (int step = 1; step <= 2; step++) {
            float bc1 = (float) (1 - Math.pow(B1, step)), bc2 = (float) (1 - Math.pow(B2, step));
            Optim.adamwRange(p, g, m, v, off, 1e-3f, B1, B2, EPS, 0.1f, bc1, bc2, 0.5f, 0, n);
        }
        assertThat(backend[0]).isEqualTo(p);
        assertThat(backend[1]).isEqualTo(m);
        assertThat(backend[2]).isEqualTo(v);
        for (int i = 0; i < len; i++) {
            if (i < off || i >= off + n) {
                assertThat(backend[0][i]).isEqualTo(p0[i]);
                assertThat(backend[1][i]).isZero();
                assertThat(backend[2][i]).isZero();
            }
        }
    }

    /** Two steps over more than CpuOptim's serial threshold (CpuGlue.GLUE_GRAIN, 1 << 14), so the update is split. */
    private static float[][] runAdamw(int threads) {
        SplittableRandom rnd = new SplittableRandom(77);
        int off = 11, n = 3 * (1 << 14) + 7, len = off + n + 5;
        float[] p = Tensors.uniform(rnd, len, -1, 1), g = Tensors.uniform(rnd, len, -1, 1);
        float[] m = new float[len], v = new float[len];
        try (CpuBackend cpu = new CpuBackend(threads)) {
            for (int step = 1; step <= 2; step++) {
                float bc1 = (float) (1 - Math.pow(B1, step)), bc2 = (float) (1 - Math.pow(B2, step));
                cpu.adamw(p, g, m, v, off, n, 1e-3f, B1, B2, EPS, 0.1f, bc1, bc2, 0.5f);
            }
        }
        return new float[][] {p, m, v};
    }
}
