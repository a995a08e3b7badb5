package io.ionllama.kernels;

import static io.ionllama.testing.GradCheck.assertClose;
import static io.ionllama.testing.GradCheck.assertMatches;
import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.testing.GradCheck;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SiLU, GELU, softplus and SwiGLU: forward against double references (random inputs plus the
 * extremes where the stable forms matter), backward against central differences, a wrong
 * derivative per activation that the same check rejects, and identical bits for any thread
 * count on arrays large enough to be split.
 */
class ActivationsTest {

    static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    static double gelu(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    static double softplus(double x) {
        return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
    }

    /** Each unary activation: its double reference and how the backend runs it. */
    enum Op {
        SILU(x -> x * sigmoid(x)),
        GELU(ActivationsTest::gelu),
        SOFTPLUS(ActivationsTest::softplus);

        final DoubleUnaryOperator ref;

        Op(DoubleUnaryOperator ref) {
            this.ref = ref;
        }

        void forward(CpuBackend cpu, float[] out, int outOff, float[] x, int xOff, int n) {
            switch (this) {
                case SILU -> Activations.siluForwardRange(out, outOff, x, xOff, 0, n); // a unit inside SwiGLU: no schedule of its own
                case GELU -> cpu.geluForward(out, outOff, x, xOff, n);
                case SOFTPLUS -> Activations.softplusForwardRange(out, outOff, x, xOff, 0, n); // a unit inside the gate
            }
        }

        void backward(CpuBackend cpu, float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff, int n) {
            switch (this) {
                case SILU -> Activations.siluBackwardRange(dx, dxOff, dy, dyOff, x, xOff, 0, n);
                case GELU -> cpu.geluBackward(dx, dxOff, dy, dyOff, x, xOff, n);
                case SOFTPLUS -> Activations.softplusBackwardRange(dx, dxOff, dy, dyOff, x, xOff, 0, n);
            }
        }

        double loss(double[] r, double[] x) {
            double s = 0;
            for (int i = 0; i < x.length; i++) {
                s += r[i] * ref.applyAsDouble(x[i]);
            }
            return s;
        }
    }

    static final float[] EXTREMES = {-100f, -30f, -16f, -15.5f, -14.5f, -12f, -10f, -5f, -1e-3f, 0f, 1e-3f, 5f, 19.5f, 20.5f, 30f, 100f};

    private static float[] inputs(long seed, int off) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int n = 5 + rnd.nextInt(30);
        return Tensors.uniform(rnd, off + n, -6, 6);
    }

    @ParameterizedTest
    @EnumSource(Op.class)
    void forwardMatchesReference(Op op) {
        for (long seed = 1; seed <= 4; seed++) {
            int off = (int) seed;
            float[] x = inputs(seed, off);
            int n = x.length - off;
            float[] out = new float[off + n];
            try (CpuBackend cpu = new CpuBackend(2)) {
                op.forward(cpu, out, off, x, off, n);
            }
            double[] expected = new double[n];
            for (int i = 0; i < n; i++) {
                expected[i] = op.ref.applyAsDouble(x[off + i]);
            }
            assertClose(op + " out", out, off, expected, 1e-5, 1e-6);
        }
        float[] out = new float[EXTREMES.length];
        try (CpuBackend cpu = new CpuBackend(1)) {
            op.forward(cpu, out, 0, EXTREMES, 0, EXTREMES.length);
        }
        double[] expected = new double[EXTREMES.length];
        for (int i = 0; i < EXTREMES.length; i++) {
            expected[i] = op.ref.applyAsDouble(EXTREMES[i]);
        }
        // Relative accuracy even where the value is tiny (softplus(-30) ~ 1e-13): atol below
        // float's smallest normal number, where only subnormal rounding is left.
        assertClose(op + " extremes", out, 0, expected, 1e-5, op == Op.SOFTPLUS ? 1e-38 : 1e-6);
    }

    @Test
    void softplusIsPositiveAndFiniteEverywhere() {
        for (float x : new float[] {-80f, -60f, -40f, -20f, -1f, 0f, 1f, 25f, 1e30f, Float.MAX_VALUE}) {
            float y = Activations.softplus(x);
            assertThat(Float.isFinite(y)).as("softplus(%s) = %s", x, y).isTrue();
            if (x > -80f) {
                assertThat(y).as("softplus(%s)", x).isGreaterThan(0f);
            }
            assertThat(Float.isFinite(Activations.softplusGrad(x))).isTrue();
            assertThat(Float.isFinite(Activations.siluGrad(x))).isTrue();
            assertThat(Float.isFinite(Activations.siluGrad(-x))).isTrue();
        }
    }

    @ParameterizedTest
    @EnumSource(Op.class)
    void backwardMatchesFiniteDifferences(Op op) {
        for (long seed = 11; seed <= 14; seed++) {
            int off = (int) (seed % 5) + 1;
            float[] xf = inputs(seed, off);
            int n = xf.length - off;
            SplittableRandom rnd = new SplittableRandom(seed * 31);
            double[] r = Tensors.toDouble(Tensors.uniform(rnd, n, -1, 1));
            float[] dy = new float[off + n];
            for (int i = 0; i < n; i++) {
                dy[off + i] = (float) r[i];
            }
            float[] dx = new float[off + n];
            try (CpuBackend cpu = new CpuBackend(2)) {
                op.backward(cpu, dx, off, dy, off, xf, off, n);
            }
            double[] x = Tensors.slice(xf, off, n);
            assertMatches(op + " dx", dx, off, GradCheck.numeric(p -> op.loss(r, p), x), 1e-4, 1e-6);
        }
    }

    @Test
    void checkRejectsWrongDerivatives() {
        float[] xf = inputs(21, 0);
        int n = xf.length;
        double[] x = Tensors.toDouble(xf);
        double[] r = Tensors.toDouble(Tensors.uniform(new SplittableRandom(5), n, -1, 1));
        float[] silu = new float[n], gelu = new float[n], softplus = new float[n];
        for (int i = 0; i < n; i++) {
            float v = xf[i];
            // SiLU without the x * s * (1 - s) term; GELU without its tanh' term; softplus' as e^x.
            silu[i] = (float) r[i] * Activations.sigmoid(v);
            gelu[i] = (float) r[i] * 0.5f * (1f + (float) Math.tanh(Activations.GELU_K * (v + Activations.GELU_C * v * v * v)));
            softplus[i] = (float) r[i] * (float) Math.exp(v);
        }
        assertThat(GradCheck.matches(silu, GradCheck.numeric(p -> Op.SILU.loss(r, p), x), 1e-4, 1e-6)).isFalse();
        assertThat(GradCheck.matches(gelu, GradCheck.numeric(p -> Op.GELU.loss(r, p), x), 1e-4, 1e-6)).isFalse();
        assertThat(GradCheck.matches(softplus, GradCheck.numeric(p -> Op.SOFTPLUS.loss(r, p), x), 1e-4, 1e-6)).isFalse();
    }

    // ------------------------------------------------------------------------ SwiGLU

    static double swigluLoss(double[] r, double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += r[i] * a[i] * sigmoid(a[i]) * b[i];
        }
        return s;
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4})
    void swigluForwardAndBackwardMatchReference(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int n = 3 + rnd.nextInt(30), off = 1 + rnd.nextInt(4);
        float[] af = Tensors.uniform(rnd, off + n, -6, 6), bf = Tensors.uniform(rnd, off + n, -2, 2);
        double[] r = Tensors.toDouble(Tensors.uniform(rnd, n, -1, 1));
        float[] dy = new float[off + n];
        for (int i = 0; i < n; i++) {
            dy[off + i] = (float) r[i];
        }
        float[] out = new float[off + n], da = new float[off + n], db = new float[off + n];
        try (CpuBackend cpu = new CpuBackend(2)) {
            cpu.swigluForward(out, off, af, off, bf, off, n);
            cpu.swigluBackward(da, off, db, off, dy, off, af, off, bf, off, n);
        }
        double[] a = Tensors.slice(af, off, n), b = Tensors.slice(bf, off, n);
        double[] expected = new double[n];
        for (int i = 0; i < n; i++) {
            expected[i] = a[i] * sigmoid(a[i]) * b[i];
        }
        assertClose("out", out, off, expected, 1e-5, 1e-6);
        assertMatches("da", da, off, GradCheck.numeric(p -> swigluLoss(r, p, b), a), 1e-4, 1e-6);
        assertMatches("db", db, off, GradCheck.numeric(p -> swigluLoss(r, a, p), b), 1e-4, 1e-6);

        // Mutant: da with a and b swapped in the chain rule (b's value through silu').
        float[] bad = new float[n];
        for (int i = 0; i < n; i++) {
            bad[i] = (float) r[i] * af[off + i] * Activations.siluGrad(bf[off + i]);
        }
        assertThat(GradCheck.matches(bad, GradCheck.numeric(p -> swigluLoss(r, p, b), a), 1e-4, 1e-6)).isFalse();
    }

    // ------------------------------------------------------------------------ determinism and accumulation

    @Test
    void backwardAccumulates() {
        float[] x = {0.5f, -1f, 2f}, dy = {1f, 1f, 1f};
        float[] dx = {10f, 20f, 30f}, da = {1f, 2f, 3f}, db = {4f, 5f, 6f};
        try (CpuBackend cpu = new CpuBackend(1)) {
            Activations.siluBackwardRange(dx, 0, dy, 0, x, 0, 0, 3);
            cpu.swigluBackward(da, 0, db, 0, dy, 0, x, 0, x, 0, 3);
        }
        for (int i = 0; i < 3; i++) {
            assertThat(dx[i]).isEqualTo(10f * (i + 1) + Activations.siluGrad(x[i]));
            assertThat(db[i]).isEqualTo(4f + i + Activations.silu(x[i]));
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
        SplittableRandom rnd = new SplittableRandom(7);
        int n = 3 * 4096 + 17;
        float[] x = Tensors.uniform(rnd, n, -8, 8), b = Tensors.uniform(rnd, n, -2, 2), dy = Tensors.uniform(rnd, n, -1, 1);
        float[][] res = new float[Op.values().length * 2 + 3][];
        try (CpuBackend cpu = new CpuBackend(threads)) {
            int k = 0;
            for (Op op : Op.values()) {
                res[k] = new float[n];
                op.forward(cpu, res[k++], 0, x, 0, n);
                res[k] = new float[n];
                op.backward(cpu, res[k++], 0, dy, 0, x, 0, n);
            }
            res[k] = new float[n];
            cpu.swigluForward(res[k++], 0, x, 0, b, 0, n);
            res[k] = new float[n];
            res[k + 1] = new float[n];
            cpu.swigluBackward(res[k], 0, res[k + 1], 0, dy, 0, x, 0, b, 0, n);
        }
        return res;
    }
}
