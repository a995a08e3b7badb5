package io.ionllama.kernels;

import static io.ionllama.testing.GradCheck.assertClose;
import static io.ionllama.testing.GradCheck.assertMatches;
import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.testing.GradCheck;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The IntegralLNN decay a = exp(-softplus(z) · exp(λ)): forward against a double reference, dz
 * and dλ against central differences of that reference (z over [-30, 30] so both softplus
 * branches and the x > 20 shortcut run, λ over [-6, 1]), the float kernel's relative accuracy at
 * the extremes, a wrong dz and a wrong dλ that the same check rejects, accumulation, and
 * bit-identical results for any thread count (dλ reduces over rows). Every tensor sits at its own
 * non-zero offset, so swapped offsets show.
 */
class IntegralGateTest {

    static double softplus(double x) {
        return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
    }

    static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    /** a[n,c] = exp(-softplus(z[n,c]) exp(λ[c])) in double. */
    static double[] reference(double[] z, double[] lambda, int rows, int C) {
        double[] a = new double[rows * C];
        for (int n = 0; n < rows; n++) {
            for (int c = 0; c < C; c++) {
                a[n * C + c] = Math.exp(-softplus(z[n * C + c]) * Math.exp(lambda[c]));
            }
        }
        return a;
    }

    record Case(int rows, int C, int aOff, int zOff, int lOff, float[] z, float[] lambda, double[] r) {
        static Case random(long seed) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int rows = 1 + rnd.nextInt(8), C = 1 + rnd.nextInt(9);
            int aOff = 1 + rnd.nextInt(4), zOff = 1 + rnd.nextInt(4), lOff = 1 + rnd.nextInt(4);
            return new Case(rows, C, aOff, zOff, lOff,
                    Tensors.uniform(rnd, zOff + rows * C, -30, 30),
                    Tensors.uniform(rnd, lOff + C, -6, 1),
                    Tensors.toDouble(Tensors.uniform(rnd, rows * C, -1, 1)));
        }

        double[] zs() { return Tensors.slice(z, zOff, rows * C); }
        double[] ls() { return Tensors.slice(lambda, lOff, C); }

        /** da = r at the gradients' offset (aOff, shared with a). */
        float[] da() {
            float[] da = new float[aOff + rows * C];
            for (int i = 0; i < r.length; i++) {
                da[aOff + i] = (float) r[i];
            }
            return da;
        }

        /** The forward through the units: the saved {@code a} the backward reads. */
        float[] a() {
            float[] a = new float[aOff + rows * C];
            for (int n = 0; n < rows; n++) {
                IntegralGate.forwardRow(a, aOff, z, zOff, lambda, lOff, C, n);
            }
            return a;
        }

        double loss(double[] zs, double[] ls) {
            return Tensors.dot(r, reference(zs, ls, rows, C));
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
    void forwardMatchesReference(long seed) {
        Case c = Case.random(seed);
        float[] a = new float[c.aOff + c.rows * c.C];
        try (CpuBackend cpu = new CpuBackend(2)) {
            cpu.integralGateForward(a, c.aOff, c.z, c.zOff, c.lambda, c.lOff, c.rows, c.C);
        }
        assertClose("a", a, c.aOff, reference(c.zs(), c.ls(), c.rows, c.C), 1e-5, 1e-6);
        for (int i = 0; i < c.rows * c.C; i++) {
            assertThat(a[c.aOff + i]).as("a[%d] in [0, 1]", i).isBetween(0f, 1f);
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {11, 12, 13, 14, 15, 16, 17, 18})
    void backwardMatchesFiniteDifferences(long seed) {
        Case c = Case.random(seed);
        double[] z = c.zs(), l = c.ls();
        float[] dz = new float[c.zOff + z.length], dl = new float[c.lOff + l.length];
        try (CpuBackend cpu = new CpuBackend(2)) {
            cpu.integralGateBackward(dz, c.zOff, dl, c.lOff, c.da(), c.aOff, c.a(), c.aOff,
                    c.z, c.zOff, c.lambda, c.lOff, c.rows, c.C);
        }
        // Gradients are O(1) at most (|da| <= 1, a <= 1, rate <= e); atol covers the difference
        // quotient's rounding (~1e-16 |L| / 1e-5), not the kernel.
        assertMatches("dz", dz, c.zOff, GradCheck.numeric(p -> c.loss(p, l), z), 1e-4, 1e-8);
        assertMatches("dlambda", dl, c.lOff, GradCheck.numeric(p -> c.loss(z, p), l), 1e-4, 1e-8);
    }

    /** z values at and across the branch points of the float softplus/sigmoid (0, 20). */
    static final float[] Z_EXTREMES = {-30f, -20.5f, -16f, -15f, -5f, -1e-3f, 0f, 1e-3f, 5f, 19.5f, 20f, 20.5f, 25f, 30f};
    static final float[] LAMBDA_EXTREMES = {-6f, -2.5f, 0f, 1f};

    /**
     * At the extremes the gradients span ~1e-16 .. 3, below what central differences resolve next to
     * a ≈ 1 (softplus(-30) ≈ 1e-13 leaves a == 1 in float); here the float kernel is held to the
     * closed-form derivatives in double (the formulas the finite-difference test validates) with a
     * relative tolerance. Every (z, λ) pair is its own channel, over two rows with the same z and
     * same-signed da, so dλ sums no cancelling terms and is as checkable as dz. a = exp(-x) inherits
     * x's absolute rounding: x · 2^-23 relative, up to ~1e-5 at x = 30 e ≈ 82, hence rtol 2e-5.
     */
    @Test
    void extremesAreRelativelyAccurate() {
        int rows = 2, C = Z_EXTREMES.length * LAMBDA_EXTREMES.length, off = 3;
        float[] z = new float[off + rows * C], lambda = new float[off + C], da = new float[off + rows * C];
        for (int c = 0; c < C; c++) {
            lambda[off + c] = LAMBDA_EXTREMES[c % LAMBDA_EXTREMES.length];
            for (int n = 0; n < rows; n++) {
                z[off + n * C + c] = Z_EXTREMES[c / LAMBDA_EXTREMES.length];
                da[off + n * C + c] = n == 0 ? 1f : 0.375f;
            }
        }
        float[] a = new float[off + rows * C], dz = new float[off + rows * C], dl = new float[off + C];
        try (CpuBackend cpu = new CpuBackend(1)) {
            cpu.integralGateForward(a, off, z, off, lambda, off, rows, C);
            cpu.integralGateBackward(dz, off, dl, off, da, off, a, off, z, off, lambda, off, rows, C);
        }
        double[] ea = new double[rows * C], edz = new double[rows * C], edl = new double[C];
        for (int n = 0; n < rows; n++) {
            for (int c = 0; c < C; c++) {
                double zz = z[off + n * C + c], rate = Math.exp(lambda[off + c]), g = da[off + n * C + c];
                double av = Math.exp(-softplus(zz) * rate);
                ea[n * C + c] = av;
                edz[n * C + c] = g * av * -rate * sigmoid(zz);
                edl[c] += g * av * -softplus(zz) * rate;
            }
        }
        assertClose("a", a, off, ea, 2e-5, 1e-38);
        assertClose("dz", dz, off, edz, 2e-5, 1e-38);
        assertClose("dlambda", dl, off, edl, 2e-5, 1e-38);
        for (int i = 0; i < rows * C; i++) {
            assertThat(a[off + i]).as("a[%d]", i).isGreaterThan(0f);
            assertThat(dz[off + i]).as("dz[%d]", i).isLessThan(0f);
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {21, 22, 23})
    void checkRejectsWrongBackwards(long seed) {
        Case c = Case.random(seed);
        double[] z = c.zs(), l = c.ls();
        float[] a = c.a(), da = c.da();
        int N = c.rows * c.C;
        // Mutant 1: dz with the wrong sign (da/dz taken as +rate·sigmoid(z)·a).
        float[] dz = new float[N];
        for (int i = 0; i < N; i++) {
            float rate = (float) Math.exp(c.lambda[c.lOff + i % c.C]);
            dz[i] = da[c.aOff + i] * a[c.aOff + i] * rate * Activations.sigmoid(c.z[c.zOff + i]);
        }
        assertThat(GradCheck.matches(dz, GradCheck.numeric(p -> c.loss(p, l), z), 1e-4, 1e-8)).isFalse();
        // Mutant 2: dλ without the softplus factor (d(Δ·e^λ)/dλ taken as e^λ).
        float[] dl = new float[c.C];
        for (int ch = 0; ch < c.C; ch++) {
            float rate = (float) Math.exp(c.lambda[c.lOff + ch]);
            for (int n = 0; n < c.rows; n++) {
                int i = n * c.C + ch;
                dl[ch] += da[c.aOff + i] * a[c.aOff + i] * -rate;
            }
        }
        assertThat(GradCheck.matches(dl, GradCheck.numeric(p -> c.loss(z, p), l), 1e-4, 1e-8)).isFalse();
        // Mutant 3: dλ summing every row but the last (an off-by-one in the reduction).
        float[] dlShort = new float[c.C];
        for (int ch = 0; ch < c.C; ch++) {
            IntegralGate.backwardLambdaCell(dlShort, 0, da, c.aOff, a, c.aOff, c.z, c.zOff, c.lambda, c.lOff,
                    c.rows - 1, c.C, ch);
        }
        if (c.rows > 1) {
            assertThat(GradCheck.matches(dlShort, GradCheck.numeric(p -> c.loss(z, p), l), 1e-4, 1e-8)).isFalse();
        }
    }

    @Test
    void backwardAccumulates() {
        Case c = Case.random(31);
        int N = c.rows * c.C;
        float[] a = c.a(), da = c.da();
        SplittableRandom rnd = new SplittableRandom(5);
        float[] dz0 = Tensors.uniform(rnd, c.zOff + N, -3, 3), dl0 = Tensors.uniform(rnd, c.lOff + c.C, -3, 3);
        float[] dz = dz0.clone(), dl = dl0.clone();
        float[] fz = new float[c.zOff + N], fl = new float[c.lOff + c.C];
        try (CpuBackend cpu = new CpuBackend(1)) {
            cpu.integralGateBackward(dz, c.zOff, dl, c.lOff, da, c.aOff, a, c.aOff, c.z, c.zOff, c.lambda, c.lOff, c.rows, c.C);
            cpu.integralGateBackward(fz, c.zOff, fl, c.lOff, da, c.aOff, a, c.aOff, c.z, c.zOff, c.lambda, c.lOff, c.rows, c.C);
        }
        for (int i = 0; i < dz.length; i++) {
            assertThat(dz[i]).as("dz[%d]", i).isEqualTo(dz0[i] + fz[i]);
        }
        for (int i = 0; i < dl.length; i++) {
            assertThat(dl[i]).as("dlambda[%d]", i).isEqualTo(dl0[i] + fl[i]);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 5})
    void resultsAreBitIdenticalForAnyThreadCount(int threads) {
        float[][] one = run(1);
        float[][] many = run(threads);
        for (int k = 0; k < one.length; k++) {
            assertThat(many[k]).as("output %d", k).isEqualTo(one[k]);
        }
    }

    private static float[][] run(int threads) {
        SplittableRandom rnd = new SplittableRandom(99);
        int rows = 97, C = 53;
        float[] z = Tensors.uniform(rnd, rows * C, -30, 30), lambda = Tensors.uniform(rnd, C, -6, 1);
        float[] da = Tensors.uniform(rnd, rows * C, -1, 1);
        float[] a = new float[rows * C], dz = Tensors.uniform(rnd, rows * C, -1, 1), dl = Tensors.uniform(rnd, C, -1, 1);
        try (CpuBackend cpu = new CpuBackend(threads)) {
            cpu.integralGateForward(a, 0, z, 0, lambda, 0, rows, C);
            cpu.integralGateBackward(dz, 0, dl, 0, da, 0, a, 0, z, 0, lambda, 0, rows, C);
        }
        return new float[][] {a, dz, dl};
    }
}
