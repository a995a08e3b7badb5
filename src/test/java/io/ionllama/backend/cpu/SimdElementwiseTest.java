package io.ionllama.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ionllama.backend.Backend;
import io.ionllama.backend.ForwardingBackend;
import io.ionllama.testing.Allocations;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Vector API elementwise ops ({@link SimdElementwise}, through {@link CpuBackend}) against the
 * scalar units (a {@code CpuBackend} with SIMD off).
 *
 * <p>Tolerance: exp and log1p are polynomials here and {@code Math.exp/log} there, so results
 * differ by a few ulps. Each element must agree within {@code RTOL = 1e-6} (about 8 ulps) of its
 * magnitude scale: the sum of the absolute values of the terms that make it up (plain relative
 * error is meaningless where silu'(x) = s (1 + x (1 - s)) crosses zero); for the gate's
 * {@code a = exp(-Δ·rate)}, a times its condition number {@code 1 + Δ·rate} (a few ulps in Δ
 * become Δ·rate times as many in a: both versions are equally close to the exact value there).
 * The gate backwards are fed the scalar unit's a, so they differ only by their own rounding.
 *
 * <p>The vector functions themselves are checked two ways: against {@code Math.exp/log1p} in
 * double (accuracy), and bit for bit against their scalar twins, the same IEEE operations on one
 * float (which compute range tails, and which make the results independent of the JIT: the
 * interpreter and C2 round each of these operations identically, unlike
 * {@code VectorOperators.EXP}).
 */
class SimdElementwiseTest {

    static final double RTOL = 1e-6;

    @BeforeAll
    static void needsVectorApi() {
        assumeTrue(SimdSupport.available(), "Vector API not in this JVM: the SIMD elementwise ops are not used");
    }

    // ------------------------------------------------------------------ the vector functions

    /** Inputs across the whole range, the branch points and where results become subnormal. */
    static float[] expInputs() {
        SplittableRandom rnd = new SplittableRandom(3);
        float[] special = {-110f, -104f, -103.9f, -100f, -88f, -87.4f, -87.3f, -50f, -20f, -1f, -0.3466f, -1e-7f, 0f, -0f,
            1e-7f, 0.3466f, 1f, 20f, 88f, 88.7f, 88.8f, 89f, 100f};
        float[] x = new float[4096 + special.length];
        for (int i = 0; i < 4096; i++) {
            x[i] = (float) (-104 + 193 * rnd.nextDouble());
        }
        System.arraycopy(special, 0, x, 4096, special.length);
        return x;
    }

    interface Lanes {
        FloatVector apply(FloatVector v);
    }

    static float[] lanes(Lanes f, float[] x) {
        int vl = SimdElementwise.VL;
        float[] pad = java.util.Arrays.copyOf(x, (x.length + vl - 1) / vl * vl);
        float[] out = new float[pad.length];
        for (int i = 0; i < pad.length; i += vl) {
            f.apply(FloatVector.fromArray(SimdElementwise.S, pad, i)).intoArray(out, i);
        }
        return java.util.Arrays.copyOf(out, x.length);
    }

    /** Relative error against the double value for normal results; absolute, in units of the smallest subnormal, below. */
    static void assertAccurate(String what, float[] x, float[] got, java.util.function.DoubleUnaryOperator exact, double rtol) {
        for (int i = 0; i < x.length; i++) {
            double e = exact.applyAsDouble(x[i]);
            if (Double.isInfinite(e) || e > Float.MAX_VALUE) {
                assertThat(got[i]).as("%s(%s)", what, x[i]).isEqualTo(Float.POSITIVE_INFINITY);
            } else if (e < Float.MIN_NORMAL) {
                assertThat(Math.abs(got[i] - e)).as("%s(%s) = %s, exact %s", what, x[i], got[i], e)
                        .isLessThanOrEqualTo(2.0 * Float.MIN_VALUE);
            } else {
                assertThat(Math.abs(got[i] - e) / e).as("%s(%s) = %s, exact %s", what, x[i], got[i], e)
                        .isLessThanOrEqualTo(rtol);
            }
        }
    }

    @Test
    void expIsAccurateToAFewUlps() {
        float[] x = expInputs();
        assertAccurate("exp", x, lanes(SimdElementwise::exp, x), Math::exp, 2.5e-7);
    }

    /** The softmax's exp over [-87, 0] as accurate as exp; below, e^-87 (nothing beside a sum of at least 1). */
    @Test
    void expNonPositiveIsAccurateToAFewUlps() {
        float[] x = new float[4000];
        for (int i = 0; i < x.length; i++) {
            x[i] = -87f * i / (x.length - 1);
        }
        x[1] = -0f;
        x[2] = -1e-30f;
        assertAccurate("expNonPositive", x, lanes(SimdElementwise::expNonPositive, x), Math::exp, 2.5e-7);
        float[] low = {-87.5f, -100f, -1e30f, -Float.MAX_VALUE};
        for (float v : lanes(SimdElementwise::expNonPositive, low)) {
            assertThat(v).isCloseTo((float) Math.exp(-87), org.assertj.core.data.Percentage.withPercentage(1e-4));
        }
    }

    @Test
    void accuracyCheckRejectsADroppedPolynomialTerm() {
        // exp with its r^5 term left out (an off-by-one in the Horner chain) must fail the check.
        float[] x = expInputs();
        float[] got = lanes(SimdElementwise::exp, x);
        boolean rejected = false;
        for (int i = 0; i < x.length; i++) {
            double r = x[i] - Math.rint(x[i] / Math.log(2)) * Math.log(2);
            double e = Math.exp(x[i]);
            float wrong = (float) (got[i] - e * 8.3334519073e-3 * Math.pow(r, 5));
            if (e >= Float.MIN_NORMAL && e <= Float.MAX_VALUE && Math.abs(wrong - e) / e > 2.5e-7) {
                rejected = true;
            }
        }
        assertThat(rejected).isTrue();
    }

    @Test
    void log1pSigmoidAndSoftplusAreAccurate() {
        SplittableRandom rnd = new SplittableRandom(4);
        float[] t = new float[2048];
        for (int i = 0; i < t.length; i++) {
            t[i] = i < 1024 ? (float) rnd.nextDouble() : (float) Math.exp(-100 * rnd.nextDouble());
        }
        t[0] = 0f;
        t[1] = 1f;
        t[2] = Float.MIN_VALUE;
        t[3] = 3e-44f;
        assertAccurate("log1p", t, lanes(SimdElementwise::log1p01, t), Math::log1p, 3e-7);
        float[] x = expInputs();
        assertAccurate("sigmoid", x, lanes(SimdElementwise::sigmoid, x), v -> 1 / (1 + Math.exp(-v)), 3e-7);
        assertAccurate("softplus", x, lanes(SimdElementwise::softplus, x),
                v -> Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))), 3e-7);
    }

    /**
     * The scalar twins (which compute the tails of ranges) give the lanes' bits: so an element's
     * value never depends on whether it fell in a vector or in a tail, i.e. on the split.
     */
    @Test
    void vectorFunctionsAreBitIdenticalToTheirScalarTwins() {
        float[] x = expInputs();
        float[] exp = lanes(SimdElementwise::exp, x), sig = lanes(SimdElementwise::sigmoid, x);
        float[] sp = lanes(SimdElementwise::softplus, x);
        for (int i = 0; i < x.length; i++) {
            assertThat(exp[i]).as("exp(%s)", x[i]).isEqualTo(SimdElementwise.expLane(x[i]));
            assertThat(sig[i]).as("sigmoid(%s)", x[i]).isEqualTo(SimdElementwise.sigmoidLane(x[i]));
            assertThat(sp[i]).as("softplus(%s)", x[i]).isEqualTo(SimdElementwise.softplusLane(x[i]));
        }
        SplittableRandom rnd = new SplittableRandom(8);
        float[] t = new float[1000];
        for (int i = 0; i < t.length; i++) {
            t[i] = i % 2 == 0 ? (float) rnd.nextDouble() : (float) Math.exp(-104 * rnd.nextDouble());
        }
        float[] l = lanes(SimdElementwise::log1p01, t);
        for (int i = 0; i < t.length; i++) {
            assertThat(l[i]).as("log1p(%s)", t[i]).isEqualTo(SimdElementwise.log1pLane(t[i]));
        }
    }

    /** Ranges split at every offset give the same bits as one whole range (vector/tail boundaries move). */
    @Test
    void anySplitOfARangeGivesTheSameBits() {
        SplittableRandom rnd = new SplittableRandom(12);
        int n = 70;
        float[] x = inputs(rnd, n, -8, 8), b = Tensors.uniform(rnd, n, -2, 2), dy = Tensors.uniform(rnd, n, -1, 1);
        float[] whole = new float[n], da = new float[n], db = new float[n];
        SimdElementwise.swigluForward(whole, 0, x, 0, b, 0, 0, n);
        SimdElementwise.swigluBackward(da, 0, db, 0, dy, 0, x, 0, b, 0, 0, n);
        for (int cut = 0; cut <= n; cut++) {
            float[] parts = new float[n], pa = new float[n], pb = new float[n];
            SimdElementwise.swigluForward(parts, 0, x, 0, b, 0, 0, cut);
            SimdElementwise.swigluForward(parts, 0, x, 0, b, 0, cut, n);
            SimdElementwise.swigluBackward(pa, 0, pb, 0, dy, 0, x, 0, b, 0, 0, cut);
            SimdElementwise.swigluBackward(pa, 0, pb, 0, dy, 0, x, 0, b, 0, cut, n);
            assertThat(parts).as("swiglu split at %d", cut).isEqualTo(whole);
            assertThat(pa).as("swiglu da split at %d", cut).isEqualTo(da);
            assertThat(pb).as("swiglu db split at %d", cut).isEqualTo(db);
        }
    }

    // ------------------------------------------------------------------ ops against the scalar units

    /** |simd - scalar| <= RTOL * scale, element by element. */
    static void assertWithin(String what, float[] simd, float[] scalar, double[] scale) {
        for (int i = 0; i < simd.length; i++) {
            assertThat((double) Math.abs(simd[i] - scalar[i]))
                    .as("%s[%d]: simd %.9g vs scalar %.9g (scale %.3g)", what, i, simd[i], scalar[i], scale[i])
                    .isLessThanOrEqualTo(RTOL * scale[i] + 1e-37);
        }
    }

    static double sig(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    static double softplus(double x) {
        return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
    }

    /** Inputs with extremes mixed in, and an offset, so ranges and vectors never line up. */
    static float[] inputs(SplittableRandom rnd, int n, float lo, float hi) {
        float[] x = Tensors.uniform(rnd, n, lo, hi);
        float[] ext = {-100f, -30f, -16f, -1e-3f, 0f, 1e-3f, 19.5f, 20.5f, 30f, 100f};
        for (int k = 0; k < ext.length && 3 + 7 * k < n; k++) {
            x[3 + 7 * k] = ext[k];
        }
        return x;
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 15, 16, 17, 100, 1000, 5000})
    void swigluMatchesTheScalarUnits(int n) {
        SplittableRandom rnd = new SplittableRandom(n);
        int off = 1 + n % 5;
        float[] x = inputs(rnd, off + n, -8, 8), b = Tensors.uniform(rnd, off + n, -2, 2);
        float[] dy = Tensors.uniform(rnd, off + n, -1, 1), acc0 = Tensors.uniform(rnd, off + n, -1, 1);
        float[][] simd, scalar;
        try (CpuBackend v = new CpuBackend(2, true); CpuBackend s = new CpuBackend(1, false)) {
            simd = runActivations(v, x, b, dy, acc0, off, n);
            scalar = runActivations(s, x, b, dy, acc0, off, n);
        }
        int len = off + n;
        double[] swScale = new double[len], daScale = new double[len], dbScale = new double[len];
        for (int i = off; i < len; i++) {
            double xv = x[i], s = sig(xv), g = dy[i], a0 = Math.abs(acc0[i]);
            swScale[i] = Math.abs(xv) * s * Math.abs(b[i]);
            daScale[i] = a0 + Math.abs(g * b[i]) * (s + Math.abs(xv) * s * (1 - s));
            dbScale[i] = a0 + Math.abs(g) * Math.abs(xv) * s;
        }
        double[][] scales = {swScale, daScale, dbScale};
        String[] names = {"swiglu", "swiglu da", "swiglu db"};
        for (int k = 0; k < names.length; k++) {
            assertWithin(names[k] + " n=" + n, simd[k], scalar[k], scales[k]);
        }
    }

    static float[][] runActivations(CpuBackend be, float[] x, float[] b, float[] dy, float[] acc0, int off, int n) {
        int len = off + n;
        float[] sw = new float[len], da = acc0.clone(), db = acc0.clone();
        be.swigluForward(sw, off, x, off, b, off, n);
        be.swigluBackward(da, off, db, off, dy, off, x, off, b, off, n);
        return new float[][] {sw, da, db};
    }

    /**
     * swigluBackwardOverwrite equals swigluBackward into zeroed da and db (as values: a zero may lose
     * its sign), whatever they held before (NaN here), on the Vector API path, the scalar units, and
     * {@code Backend}'s default (clear, then accumulate) on a forwarding backend; lengths that end in
     * a partial vector, and nothing outside [off, off + n) written.
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 15, 16, 17, 200, 1003})
    void overwritingSwigluBackwardIsAClearedAccumulation(int n) {
        SplittableRandom rnd = new SplittableRandom(n);
        int off = 3, len = off + n + 2;
        float[] x = inputs(rnd, len, -8, 8), b = Tensors.uniform(rnd, len, -2, 2), dy = Tensors.uniform(rnd, len, -1, 1);
        for (boolean simd : new boolean[] {true, false}) {
            try (CpuBackend cpu = new CpuBackend(2, simd)) {
                float[] da0 = new float[len], db0 = new float[len];
                cpu.swigluBackward(da0, off, db0, off, dy, off, x, off, b, off, n);
                for (Backend be : new Backend[] {cpu, new ForwardingBackend(cpu)}) {
                    float[] da = new float[len], db = new float[len];
                    java.util.Arrays.fill(da, off, off + n, Float.NaN);
                    java.util.Arrays.fill(db, off, off + n, Float.NaN);
                    be.swigluBackwardOverwrite(da, off, db, off, dy, off, x, off, b, off, n);
                    for (int i = 0; i < len; i++) {
                        assertThat(da[i] == da0[i] && db[i] == db0[i])
                                .as("simd %s, %s, n %d, i %d: da %s vs %s, db %s vs %s", simd, be.getClass().getSimpleName(),
                                        n, i, da[i], da0[i], db[i], db0[i])
                                .isTrue();
                    }
                }
            }
        }
    }

    /** The comparison can fail: SwiGLU's da without silu's x (1 - s) term is rejected. */
    @Test
    void toleranceRejectsSwigluWithoutItsProductTerm() {
        int n = 200;
        SplittableRandom rnd = new SplittableRandom(9);
        float[] x = inputs(rnd, n, -8, 8), b = Tensors.uniform(rnd, n, -2, 2), dy = Tensors.uniform(rnd, n, -1, 1);
        float[] da = new float[n], db = new float[n];
        try (CpuBackend s = new CpuBackend(1, false)) {
            s.swigluBackward(da, 0, db, 0, dy, 0, x, 0, b, 0, n);
        }
        float[] wrong = new float[n];
        double[] scale = new double[n];
        for (int i = 0; i < n; i++) {
            double s = sig(x[i]);
            wrong[i] = (float) (dy[i] * b[i] * s);
            scale[i] = Math.abs(dy[i] * b[i]) * (s + Math.abs(x[i]) * s * (1 - s));
        }
        boolean rejected = false;
        for (int i = 0; i < n; i++) {
            rejected |= Math.abs(wrong[i] - da[i]) > RTOL * scale[i] + 1e-37;
        }
        assertThat(rejected).isTrue();
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 16, 53, 256})
    void gateMatchesTheScalarUnits(int C) {
        SplittableRandom rnd = new SplittableRandom(C);
        int rows = 37, off = 2;
        float[] z = inputs(rnd, off + rows * C, -30, 30), lambda = Tensors.uniform(rnd, off + C, -6, 1);
        float[] da = Tensors.uniform(rnd, off + rows * C, -1, 1);
        float[] dz0 = Tensors.uniform(rnd, off + rows * C, -1, 1), dl0 = Tensors.uniform(rnd, off + C, -1, 1);
        float[][] simd, scalar;
        try (CpuBackend v = new CpuBackend(3, true); CpuBackend s = new CpuBackend(1, false)) {
            simd = runGate(v, z, lambda, da, dz0, dl0, off, rows, C);
            scalar = runGate(s, z, lambda, da, dz0, dl0, off, rows, C);
        }
        double[] aScale = new double[off + rows * C], dzScale = new double[off + rows * C], dlScale = new double[off + C];
        for (int c = 0; c < C; c++) {
            double rate = Math.exp(lambda[off + c]);
            dlScale[off + c] = Math.abs(dl0[off + c]);
            for (int n = 0; n < rows; n++) {
                int i = off + n * C + c;
                double sp = softplus(z[i]), a = Math.exp(-sp * rate);
                aScale[i] = a * (1 + sp * rate);
                dzScale[i] = Math.abs(dz0[i]) + Math.abs(da[i] * a * rate * sig(z[i]));
                dlScale[off + c] += Math.abs(da[i] * a * sp * rate);
            }
        }
        assertWithin("a C=" + C, simd[0], scalar[0], aScale);
        assertWithin("dz C=" + C, simd[1], scalar[1], dzScale);
        assertWithin("dlambda C=" + C, simd[2], scalar[2], dlScale);
    }

    static float[][] runGate(CpuBackend be, float[] z, float[] lambda, float[] da, float[] dz0, float[] dl0,
                             int off, int rows, int C) {
        float[] a = new float[off + rows * C], dz = dz0.clone(), dl = dl0.clone();
        be.integralGateForward(a, off, z, off, lambda, off, rows, C);
        // Both backwards read the scalar unit's a, so only the backward's own rounding differs.
        float[] aRef = new float[off + rows * C];
        for (int n = 0; n < rows; n++) {
            io.ionllama.kernels.IntegralGate.forwardRow(aRef, off, z, off, lambda, off, C, n);
        }
        be.integralGateBackward(dz, off, dl, off, da, off, aRef, off, z, off, lambda, off, rows, C);
        return new float[][] {a, dz, dl};
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 5, 16, 33, 96, 256})
    void rmsNormWeightGradientIsBitIdenticalToTheScalarUnit(int C) {
        SplittableRandom rnd = new SplittableRandom(C);
        int rows = 203, off = 3;
        float[] x = Tensors.uniform(rnd, off + rows * C, -2, 2), w = Tensors.uniform(rnd, off + C, 0.5, 1.5);
        float[] dy = Tensors.uniform(rnd, off + rows * C, -1, 1), rstd = Tensors.uniform(rnd, off + rows, 0.3, 3);
        float[] dw0 = Tensors.uniform(rnd, off + C, -1, 1);
        float[] dwSimd = dw0.clone(), dwScalar = dw0.clone();
        float[] dx1 = new float[off + rows * C], dx2 = new float[off + rows * C];
        try (CpuBackend v = new CpuBackend(2, true); CpuBackend s = new CpuBackend(1, false)) {
            v.rmsNormBackward(dx1, off, dwSimd, off, dy, off, x, off, w, off, rstd, off, rows, C);
            s.rmsNormBackward(dx2, off, dwScalar, off, dy, off, x, off, w, off, rstd, off, rows, C);
        }
        assertThat(dwSimd).isEqualTo(dwScalar);
    }

    /**
     * RMSNorm's rows (forward out and rstd, input gradient) on vectors against the scalar units:
     * the sums run in lanes, so within RTOL of each element's terms (|x| r |w|; |dx0| + r (|dy w|
     * + |x k|) with the row's |k| bound by r^2 sum |dy w x| / C).
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 5, 16, 33, 96, 256})
    void rmsNormRowsMatchTheScalarUnits(int C) {
        SplittableRandom rnd = new SplittableRandom(7L * C);
        int rows = 41, off = 3;
        float[] x = Tensors.uniform(rnd, off + rows * C, -2, 2), w = Tensors.uniform(rnd, off + C, 0.5, 1.5);
        float[] dy = Tensors.uniform(rnd, off + rows * C, -1, 1), dx0 = Tensors.uniform(rnd, off + rows * C, -1, 1);
        float[] out1 = new float[off + rows * C], out2 = new float[off + rows * C];
        float[] r1 = new float[off + rows], r2 = new float[off + rows];
        float[] dx1 = dx0.clone(), dx2 = dx0.clone();
        try (CpuBackend v = new CpuBackend(2, true); CpuBackend s = new CpuBackend(1, false)) {
            v.rmsNormForward(out1, off, r1, off, x, off, w, off, rows, C, 1e-5f);
            s.rmsNormForward(out2, off, r2, off, x, off, w, off, rows, C, 1e-5f);
            v.rmsNormBackward(dx1, off, null, 0, dy, off, x, off, w, off, r2, off, rows, C);
            s.rmsNormBackward(dx2, off, null, 0, dy, off, x, off, w, off, r2, off, rows, C);
        }
        double[] rScale = new double[off + rows], outScale = new double[off + rows * C], dxScale = new double[off + rows * C];
        for (int n = 0; n < rows; n++) {
            double r = r2[off + n], dot = 0;
            rScale[off + n] = r;
            for (int c = 0; c < C; c++) {
                int i = off + n * C + c;
                dot += Math.abs((double) dy[i] * w[off + c] * x[i]);
            }
            double k = r * r * dot / C;
            for (int c = 0; c < C; c++) {
                int i = off + n * C + c;
                outScale[i] = Math.abs(x[i]) * r * w[off + c];
                dxScale[i] = Math.abs(dx0[i]) + r * (Math.abs(dy[i] * w[off + c]) + Math.abs(x[i]) * k);
            }
        }
        assertWithin("rstd C=" + C, r1, r2, rScale);
        assertWithin("rmsnorm out C=" + C, out1, out2, outScale);
        assertWithin("rmsnorm dx C=" + C, dx1, dx2, dxScale);
    }

    /**
     * After warm-up the vector ops allocate nothing, tails included (C = 53 is not a multiple of
     * the vector length): every vector function is inlined into its loop, so C2 keeps vectors in
     * registers. (A second exp in one compiled method exceeded C2's inlining budget and boxed a
     * vector per call, which this catches.)
     */
    @Test
    @org.junit.jupiter.api.Tag("allocation")
    void steadyStateAllocatesNothing() {
        SplittableRandom rnd = new SplittableRandom(2);
        for (int C : new int[] {64, 53}) {
            int rows = 40, n = rows * C;
            float[] z = Tensors.uniform(rnd, n, -5, 5), lambda = Tensors.uniform(rnd, C, -5, 0), a = new float[n];
            float[] da = Tensors.uniform(rnd, n, -1, 1), dz = new float[n], dl = new float[C], out = new float[n];
            float[] g = new float[n], h = new float[n], dw = new float[C], rstd = Tensors.uniform(rnd, rows, 0.5, 2);
            try (CpuBackend cpu = new CpuBackend(2, true)) {
                Runnable calls = () -> {
                    for (int k = 0; k < 20; k++) {
                        cpu.integralGateForward(a, 0, z, 0, lambda, 0, rows, C);
                        cpu.integralGateBackward(dz, 0, dl, 0, da, 0, a, 0, z, 0, lambda, 0, rows, C);
                        cpu.swigluForward(out, 0, z, 0, da, 0, n);
                        cpu.swigluBackward(g, 0, h, 0, da, 0, z, 0, a, 0, n);
                        cpu.swigluBackwardOverwrite(g, 0, h, 0, da, 0, z, 0, a, 0, n);
                        cpu.rmsNormBackward(g, 0, dw, 0, da, 0, z, 0, lambda, 0, rstd, 0, rows, C);
                    }
                };
                long best = Allocations.leastPerRun(cpu, calls, 300, 1024);
                assertThat(best).as("bytes allocated by 120 elementwise calls, C = %d", C).isLessThan(1024);
            }
        }
    }
}
