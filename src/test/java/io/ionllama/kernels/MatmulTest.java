package io.ionllama.kernels;

import static io.ionllama.testing.GradCheck.assertClose;
import static io.ionllama.testing.GradCheck.assertMatches;
import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.testing.GradCheck;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Matmul units: forward against a double reference, all three backward products against central
 * differences of that reference, and a deliberately wrong backward that the same check rejects.
 * Shapes are random per seed; every tensor sits at a non-zero offset to catch offset bugs.
 */
class MatmulTest {

    /** y = x W^T + b in double, the reference the float kernel and its gradients are held to. */
    static double[] reference(double[] x, double[] w, double[] b, int rows, int in, int out) {
        double[] y = new double[rows * out];
        for (int n = 0; n < rows; n++) {
            for (int o = 0; o < out; o++) {
                double acc = b == null ? 0 : b[o];
                for (int i = 0; i < in; i++) {
                    acc += x[n * in + i] * w[o * in + i];
                }
                y[n * out + o] = acc;
            }
        }
        return y;
    }

    record Case(int rows, int in, int out, int off, float[] x, float[] w, float[] b, double[] r) {
        static Case random(long seed) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int rows = 1 + rnd.nextInt(7), in = 1 + rnd.nextInt(9), out = 1 + rnd.nextInt(8), off = rnd.nextInt(5);
            return new Case(rows, in, out, off,
                    Tensors.uniform(rnd, off + rows * in, -1, 1),
                    Tensors.uniform(rnd, off + out * in, -1, 1),
                    Tensors.uniform(rnd, off + out, -1, 1),
                    Tensors.toDouble(Tensors.uniform(rnd, rows * out, -1, 1)));
        }

        double loss(double[] xs, double[] ws, double[] bs) {
            return Tensors.dot(r, reference(xs, ws, bs, rows, in, out));
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
    void forwardMatchesReference(long seed) {
        Case c = Case.random(seed);
        try (CpuBackend cpu = new CpuBackend(2)) {
            float[] y = new float[c.off + c.rows * c.out];
            cpu.matmulForward(y, c.off, c.x, c.off, c.w, c.off, c.b, c.off, c.rows, c.in, c.out);
            double[] expected = reference(Tensors.slice(c.x, c.off, c.rows * c.in), Tensors.slice(c.w, c.off, c.out * c.in),
                    Tensors.slice(c.b, c.off, c.out), c.rows, c.in, c.out);
            assertClose("y", y, c.off, expected, 1e-5, 1e-6);
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {11, 12, 13, 14, 15, 16, 17, 18})
    void backwardMatchesFiniteDifferences(long seed) {
        Case c = Case.random(seed);
        double[] x = Tensors.slice(c.x, c.off, c.rows * c.in);
        double[] w = Tensors.slice(c.w, c.off, c.out * c.in);
        double[] b = Tensors.slice(c.b, c.off, c.out);
        float[] dy = new float[c.off + c.rows * c.out];
        for (int i = 0; i < c.r.length; i++) {
            dy[c.off + i] = (float) c.r[i];
        }
        float[] dx = new float[c.off + x.length], dw = new float[c.off + w.length], db = new float[c.off + b.length];
        try (CpuBackend cpu = new CpuBackend(2)) {
            cpu.matmulBackwardInput(dx, c.off, dy, c.off, c.w, c.off, c.rows, c.in, c.out);
            cpu.matmulBackwardWeight(dw, c.off, db, c.off, dy, c.off, c.x, c.off, c.rows, c.in, c.out);
        }
        assertMatches("dx", dx, c.off, GradCheck.numeric(p -> c.loss(p, w, b), x), 1e-4, 1e-6);
        assertMatches("dW", dw, c.off, GradCheck.numeric(p -> c.loss(x, p, b), w), 1e-4, 1e-6);
        assertMatches("db", db, c.off, GradCheck.numeric(p -> c.loss(x, w, p), b), 1e-4, 1e-6);
    }

    @ParameterizedTest
    @ValueSource(longs = {21, 22, 23})
    void checkRejectsAWrongBackward(long seed) {
        Case c = Case.random(seed);
        if (c.rows < 2 || c.out < 2) {
            c = Case.random(seed + 1000);
        }
        final Case k = c;
        double[] x = Tensors.slice(k.x, k.off, k.rows * k.in);
        double[] w = Tensors.slice(k.w, k.off, k.out * k.in);
        double[] b = Tensors.slice(k.b, k.off, k.out);
        float[] dy = new float[k.rows * k.out];
        for (int i = 0; i < dy.length; i++) {
            dy[i] = (float) k.r[i];
        }
        // Mutant: the weight gradient sums over every row but the last (an off-by-one in the row loop).
        float[] dw = new float[w.length];
        Matmul.backwardWeightRow(dw, 0, new float[k.out], 0, 1, dy, 0, k.x, k.off, k.rows - 1, k.in, k.out, 0);
        for (int o = 1; o < k.out; o++) {
            Matmul.backwardWeightRow(dw, 0, new float[k.out], 0, 1, dy, 0, k.x, k.off, k.rows, k.in, k.out, o);
        }
        assertThat(GradCheck.matches(dw, GradCheck.numeric(p -> k.loss(x, p, b), w), 1e-4, 1e-6)).isFalse();
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 5})
    void resultsAreBitIdenticalForAnyThreadCount(int threads) {
        SplittableRandom rnd = new SplittableRandom(99);
        int rows = 37, in = 64, out = 48;
        float[] x = Tensors.uniform(rnd, rows * in, -1, 1), w = Tensors.uniform(rnd, out * in, -1, 1);
        float[] b = Tensors.uniform(rnd, out, -1, 1), dy = Tensors.uniform(rnd, rows * out, -1, 1);
        float[][] one = run(1, x, w, b, dy, rows, in, out);
        float[][] many = run(threads, x, w, b, dy, rows, in, out);
        for (int k = 0; k < one.length; k++) {
            assertThat(many[k]).as("output %d", k).isEqualTo(one[k]);
        }
    }

    private static float[][] run(int threads, float[] x, float[] w, float[] b, float[] dy, int rows, int in, int out) {
        float[] y = new float[rows * out], dx = new float[rows * in], dw = new float[out * in], db = new float[out];
        try (CpuBackend cpu = new CpuBackend(threads)) {
            cpu.matmulForward(y, 0, x, 0, w, 0, b, 0, rows, in, out);
            cpu.matmulBackwardInput(dx, 0, dy, 0, w, 0, rows, in, out);
            cpu.matmulBackwardWeight(dw, 0, db, 0, dy, 0, x, 0, rows, in, out);
        }
        return new float[][] {y, dx, dw, db};
    }
}
