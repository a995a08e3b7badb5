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
 * RMSNorm and LayerNorm: forward (outputs and saved statistics) against a double reference,
 * input, weight and bias gradients against central differences of that reference, a wrong
 * backward per gradient that the same check rejects, and bit-identical results for any thread
 * count. Tensors sit at non-zero offsets.
 */
class NormsTest {

    static final float EPS = 1e-5f;

    static double[] rmsReference(double[] x, double[] w, int rows, int C, double eps) {
        double[] y = new double[rows * C];
        for (int n = 0; n < rows; n++) {
            double ss = 0;
            for (int c = 0; c < C; c++) {
                ss += x[n * C + c] * x[n * C + c];
            }
            double r = 1 / Math.sqrt(ss / C + eps);
            for (int c = 0; c < C; c++) {
                y[n * C + c] = x[n * C + c] * r * w[c];
            }
        }
        return y;
    }

    static double[] layerReference(double[] x, double[] w, double[] b, int rows, int C, double eps) {
        double[] y = new double[rows * C];
        for (int n = 0; n < rows; n++) {
            double m = 0;
            for (int c = 0; c < C; c++) {
                m += x[n * C + c];
            }
            m /= C;
            double v = 0;
            for (int c = 0; c < C; c++) {
                v += (x[n * C + c] - m) * (x[n * C + c] - m);
            }
            double r = 1 / Math.sqrt(v / C + eps);
            for (int c = 0; c < C; c++) {
                y[n * C + c] = (x[n * C + c] - m) * r * w[c] + (b == null ? 0 : b[c]);
            }
        }
        return y;
    }

    record Case(int rows, int C, int off, float[] x, float[] w, float[] b, double[] r) {
        static Case random(long seed) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int rows = 1 + rnd.nextInt(6), C = 2 + rnd.nextInt(15), off = 1 + rnd.nextInt(4);
            return new Case(rows, C, off,
                    Tensors.uniform(rnd, off + rows * C, -1, 1),
                    Tensors.uniform(rnd, off + C, 0.5, 1.5),
                    Tensors.uniform(rnd, off + C, -1, 1),
                    Tensors.toDouble(Tensors.uniform(rnd, rows * C, -1, 1)));
        }

        double[] xs() { return Tensors.slice(x, off, rows * C); }
        double[] ws() { return Tensors.slice(w, off, C); }
        double[] bs() { return Tensors.slice(b, off, C); }

        float[] dy() {
            float[] dy = new float[off + rows * C];
            for (int i = 0; i < r.length; i++) {
                dy[off + i] = (float) r[i];
            }
            return dy;
        }

        double rmsLoss(double[] xs, double[] ws) {
            return Tensors.dot(r, rmsReference(xs, ws, rows, C, EPS));
        }

        double layerLoss(double[] xs, double[] ws, double[] bs) {
            return Tensors.dot(r, layerReference(xs, ws, bs, rows, C, EPS));
        }

        /** Forward through the units; returns {rstd} for RMSNorm. */
        float[] rmsStats() {
            float[] out = new float[off + rows * C], rstd = new float[off + rows];
            for (int n = 0; n < rows; n++) {
                Norms.rmsNormForwardRow(out, off, rstd, off, x, off, w, off, C, EPS, n);
            }
            return rstd;
        }

        /** Forward through the units; returns {mean, rstd} for LayerNorm. */
        float[][] layerStats() {
            float[] out = new float[off + rows * C], mean = new float[off + rows], rstd = new float[off + rows];
            for (int n = 0; n < rows; n++) {
                Norms.layerNormForwardRow(out, off, mean, off, rstd, off, x, off, w, off, b, off, 1, C, EPS, n);
            }
            return new float[][] {mean, rstd};
        }
    }

    // ------------------------------------------------------------------------ RMSNorm

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6})
    void rmsForwardMatchesReference(long seed) {
        Case c = Case.random(seed);
        float[] out = new float[c.off + c.rows * c.C], rstd = new float[c.off + c.rows];
        try (CpuBackend cpu = new CpuBackend(2)) {
            cpu.rmsNormForward(out, c.off, rstd, c.off, c.x, c.off, c.w, c.off, c.rows, c.C, EPS);
        }
        assertClose("out", out, c.off, rmsReference(c.xs(), c.ws(), c.rows, c.C, EPS), 1e-5, 1e-6);
        double[] x = c.xs();
        double[] expected = new double[c.rows];
        for (int n = 0; n < c.rows; n++) {
            double ss = 0;
            for (int k = 0; k < c.C; k++) {
                ss += x[n * c.C + k] * x[n * c.C + k];
            }
            expected[n] = 1 / Math.sqrt(ss / c.C + EPS);
        }
        assertClose("rstd", rstd, c.off, expected, 1e-5, 0);
    }

    @ParameterizedTest
    @ValueSource(longs = {11, 12, 13, 14, 15, 16})
    void rmsBackwardMatchesFiniteDifferences(long seed) {
        Case c = Case.random(seed);
        double[] x = c.xs(), w = c.ws();
        float[] rstd = c.rmsStats();
        float[] dx = new float[c.off + x.length], dw = new float[c.off + w.length];
        try (CpuBackend cpu = new CpuBackend(2)) {
            cpu.rmsNormBackward(dx, c.off, dw, c.off, c.dy(), c.off, c.x, c.off, c.w, c.off, rstd, c.off, c.rows, c.C);
        }
        assertMatches("dx", dx, c.off, GradCheck.numeric(p -> c.rmsLoss(p, w), x), 1e-4, 1e-5);
        assertMatches("dw", dw, c.off, GradCheck.numeric(p -> c.rmsLoss(x, p), w), 1e-4, 1e-5);
    }

    @ParameterizedTest
    @ValueSource(longs = {21, 22, 23})
    void rmsCheckRejectsWrongBackwards(long seed) {
        Case c = Case.random(seed);
        double[] x = c.xs(), w = c.ws();
        float[] rstd = c.rmsStats();
        float[] dy = c.dy();
        // Mutant 1: the input gradient forgets that rstd depends on x (only the direct term).
        float[] dx = new float[x.length];
        for (int n = 0; n < c.rows; n++) {
            for (int k = 0; k < c.C; k++) {
                dx[n * c.C + k] = rstd[c.off + n] * c.w[c.off + k] * dy[c.off + n * c.C + k];
            }
        }
        assertThat(GradCheck.matches(dx, GradCheck.numeric(p -> c.rmsLoss(p, w), x), 1e-4, 1e-5)).isFalse();
        // Mutant 2: the weight gradient skips the last row.
        float[] dw = new float[w.length];
        for (int k = 0; k < c.C; k++) {
            Norms.rmsNormBackwardWeightCell(dw, 0, dy, c.off, c.x, c.off, rstd, c.off, c.rows - 1, c.C, k);
        }
        assertThat(GradCheck.matches(dw, GradCheck.numeric(p -> c.rmsLoss(x, p), w), 1e-4, 1e-5)).isFalse();
    }

    // ------------------------------------------------------------------------ LayerNorm

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6})
    void layerForwardMatchesReference(long seed) {
        Case c = Case.random(seed);
        float[] out = new float[c.off + c.rows * c.C], mean = new float[c.off + c.rows], rstd = new float[c.off + c.rows];
        float[] outNoBias = new float[c.off + c.rows * c.C];
        try (CpuBackend cpu = new CpuBackend(2)) {
            cpu.layerNormForward(out, c.off, mean, c.off, rstd, c.off, c.x, c.off, c.w, c.off, c.b, c.off, c.rows, c.C, EPS);
            cpu.layerNormForward(outNoBias, c.off, mean, c.off, rstd, c.off, c.x, c.off, c.w, c.off, null, 0, c.rows, c.C, EPS);
        }
        assertClose("out", out, c.off, layerReference(c.xs(), c.ws(), c.bs(), c.rows, c.C, EPS), 1e-4, 1e-5);
        assertClose("out without bias", outNoBias, c.off, layerReference(c.xs(), c.ws(), null, c.rows, c.C, EPS), 1e-4, 1e-5);
        double[] x = c.xs();
        for (int n = 0; n < c.rows; n++) {
            double m = 0;
            for (int k = 0; k < c.C; k++) {
                m += x[n * c.C + k];
            }
            assertThat((double) mean[c.off + n]).isCloseTo(m / c.C, org.assertj.core.data.Offset.offset(1e-6));
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {11, 12, 13, 14, 15, 16})
    void layerBackwardMatchesFiniteDifferences(long seed) {
        Case c = Case.random(seed);
        double[] x = c.xs(), w = c.ws(), b = c.bs();
        float[][] stats = c.layerStats();
        float[] dx = new float[c.off + x.length], dw = new float[c.off + w.length], db = new float[c.off + b.length];
        try (CpuBackend cpu = new CpuBackend(2)) {
            cpu.layerNormBackward(dx, c.off, dw, c.off, db, c.off, c.dy(), c.off, c.x, c.off, c.w, c.off,
                    stats[0], c.off, stats[1], c.off, c.rows, c.C);
        }
        assertMatches("dx", dx, c.off, GradCheck.numeric(p -> c.layerLoss(p, w, b), x), 1e-3, 1e-5);
        assertMatches("dw", dw, c.off, GradCheck.numeric(p -> c.layerLoss(x, p, b), w), 1e-4, 1e-5);
        assertMatches("db", db, c.off, GradCheck.numeric(p -> c.layerLoss(x, w, p), b), 1e-4, 1e-5);
    }

    @ParameterizedTest
    @ValueSource(longs = {21, 22, 23})
    void layerCheckRejectsWrongBackwards(long seed) {
        Case c = Case.random(seed);
        double[] x = c.xs(), w = c.ws(), b = c.bs();
        float[][] stats = c.layerStats();
        float[] mean = stats[0], rstd = stats[1];
        float[] dy = c.dy();
        // Mutant 1: the input gradient drops the mean-of-g term (as if the mean were a constant).
        float[] dx = new float[x.length];
        for (int n = 0; n < c.rows; n++) {
            float r = rstd[c.off + n], m = mean[c.off + n];
            float sumGx = 0;
            for (int k = 0; k < c.C; k++) {
                sumGx += dy[c.off + n * c.C + k] * c.w[c.off + k] * (c.x[c.off + n * c.C + k] - m) * r;
            }
            for (int k = 0; k < c.C; k++) {
                float xhat = (c.x[c.off + n * c.C + k] - m) * r;
                dx[n * c.C + k] = r * (dy[c.off + n * c.C + k] * c.w[c.off + k] - xhat * sumGx / c.C);
            }
        }
        assertThat(GradCheck.matches(dx, GradCheck.numeric(p -> c.layerLoss(p, w, b), x), 1e-3, 1e-5)).isFalse();
        // Mutant 2 and 3: weight and bias gradients skip the first row (rows shifted by one).
        float[] dw = new float[w.length], db = new float[b.length];
        for (int k = 0; k < c.C; k++) {
            Norms.layerNormBackwardWeightCell(dw, 0, dy, c.off + c.C, c.x, c.off + c.C, mean, c.off + 1, rstd, c.off + 1,
                    c.rows - 1, c.C, k);
            Norms.layerNormBackwardBiasCell(db, 0, dy, c.off + c.C, c.rows - 1, c.C, k);
        }
        assertThat(GradCheck.matches(dw, GradCheck.numeric(p -> c.layerLoss(x, p, b), w), 1e-4, 1e-5)).isFalse();
        assertThat(GradCheck.matches(db, GradCheck.numeric(p -> c.layerLoss(x, w, p), b), 1e-4, 1e-5)).isFalse();
    }

    // ------------------------------------------------------------------------ determinism

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
        int rows = 37, C = 64;
        float[] x = Tensors.uniform(rnd, rows * C, -2, 2), w = Tensors.uniform(rnd, C, 0.5, 1.5);
        float[] b = Tensors.uniform(rnd, C, -1, 1), dy = Tensors.uniform(rnd, rows * C, -1, 1);
        float[] y1 = new float[rows * C], rstd1 = new float[rows], dx1 = new float[rows * C], dw1 = new float[C];
        float[] y2 = new float[rows * C], mean2 = new float[rows], rstd2 = new float[rows];
        float[] dx2 = new float[rows * C], dw2 = new float[C], db2 = new float[C];
        try (CpuBackend cpu = new CpuBackend(threads)) {
            cpu.rmsNormForward(y1, 0, rstd1, 0, x, 0, w, 0, rows, C, EPS);
            cpu.rmsNormBackward(dx1, 0, dw1, 0, dy, 0, x, 0, w, 0, rstd1, 0, rows, C);
            cpu.layerNormForward(y2, 0, mean2, 0, rstd2, 0, x, 0, w, 0, b, 0, rows, C, EPS);
            cpu.layerNormBackward(dx2, 0, dw2, 0, db2, 0, dy, 0, x, 0, w, 0, mean2, 0, rstd2, 0, rows, C);
        }
        return new float[][] {y1, rstd1, dx1, dw1, y2, mean2, rstd2, dx2, dw2, db2};
    }
}
