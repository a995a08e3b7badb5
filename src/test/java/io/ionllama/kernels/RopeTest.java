package io.ionllama.kernels;

import static io.ionllama.testing.GradCheck.assertClose;
import static io.ionllama.testing.GradCheck.assertMatches;
import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.testing.GradCheck;
import io.ionllama.testing.Tensors;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * RoPE: forward against a double reference (interleaved pairs, position = row index within its
 * sequence plus pos0), backward against central differences, a mutant backward that rotates the
 * wrong way, in-place and single-row (generation) agreement, and thread-count independence.
 */
class RopeTest {

    static final float BASE = 10000f;

    /** Rotates each (2j, 2j+1) pair of each head by (pos0 + n % P) * base^(-2j/hd), in double. */
    static double[] reference(double[] x, int rows, int P, int pos0, int H, int hd, double base) {
        double[] y = new double[x.length];
        for (int n = 0; n < rows; n++) {
            int p = pos0 + n % P;
            for (int h = 0; h < H; h++) {
                for (int j = 0; j < hd / 2; j++) {
                    double angle = p * Math.pow(base, -2.0 * j / hd);
                    int at = n * H * hd + h * hd + 2 * j;
                    y[at] = x[at] * Math.cos(angle) - x[at + 1] * Math.sin(angle);
                    y[at + 1] = x[at] * Math.sin(angle) + x[at + 1] * Math.cos(angle);
                }
            }
        }
        return y;
    }

    record Case(int rows, int P, int pos0, int H, int hd, int off, float[] x, double[] r) {
        static Case random(long seed) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int B = 1 + rnd.nextInt(3), P = 1 + rnd.nextInt(9), H = 1 + rnd.nextInt(3), hd = 2 * (1 + rnd.nextInt(4));
            int pos0 = rnd.nextInt(3) == 0 ? rnd.nextInt(1000) : 0, off = rnd.nextInt(5);
            int n = B * P * H * hd;
            return new Case(B * P, P, pos0, H, hd, off, Tensors.uniform(rnd, off + n, -1, 1),
                    Tensors.toDouble(Tensors.uniform(rnd, n, -1, 1)));
        }

        int size() {
            return rows * H * hd;
        }

        double loss(double[] xs) {
            return Tensors.dot(r, reference(xs, rows, P, pos0, H, hd, BASE));
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
    void forwardMatchesReference(long seed) {
        Case c = Case.random(seed);
        float[] y = new float[c.off + c.size()];
        try (CpuBackend cpu = new CpuBackend(2)) {
            cpu.ropeForward(y, c.off, c.x, c.off, c.rows, c.P, c.pos0, c.H, c.hd, BASE);
        }
        // Angles up to ~1000 rad are computed in float: ulp(1000) ~ 6e-5 rad bounds the error.
        assertClose("y", y, c.off, reference(Tensors.slice(c.x, c.off, c.size()), c.rows, c.P, c.pos0, c.H, c.hd, BASE),
                1e-5, c.pos0 > 0 ? 2e-4 : 1e-5);
    }

    @ParameterizedTest
    @ValueSource(longs = {11, 12, 13, 14, 15, 16})
    void backwardMatchesFiniteDifferencesAndAccumulates(long seed) {
        Case c = Case.random(seed);
        float[] dy = new float[c.off + c.size()];
        for (int i = 0; i < c.r.length; i++) {
            dy[c.off + i] = (float) c.r[i];
        }
        float[] dx = new float[c.off + c.size()];
        Arrays.fill(dx, 0.5f);
        try (CpuBackend cpu = new CpuBackend(2)) {
            cpu.ropeBackward(dx, c.off, dy, c.off, c.rows, c.P, c.pos0, c.H, c.hd, BASE);
        }
        for (int i = 0; i < dx.length; i++) {
            dx[i] -= 0.5f;
        }
        double[] numeric = GradCheck.numeric(c::loss, Tensors.slice(c.x, c.off, c.size()));
        assertMatches("dx", dx, c.off, numeric, 1e-4, c.pos0 > 0 ? 3e-4 : 1e-5);
    }

    @ParameterizedTest
    @ValueSource(longs = {21, 22, 23})
    void checkRejectsAWrongBackward(long seed) {
        Case c = Case.random(seed);
        if (c.P < 2) {
            c = Case.random(seed + 1000);
        }
        final Case k = c;
        float[] dy = Tensors.toFloat(k.r);
        // Mutant: the gradient rotated by +angle (the forward rotation) instead of -angle.
        float[] dx = new float[k.size()];
        for (int n = 0; n < k.rows; n++) {
            Rope.forwardRow(dx, 0, dy, 0, k.P, k.pos0, k.H, k.hd, BASE, n);
        }
        double[] numeric = GradCheck.numeric(k::loss, Tensors.slice(k.x, k.off, k.size()));
        assertThat(GradCheck.matches(dx, numeric, 1e-4, k.pos0 > 0 ? 3e-4 : 1e-5)).isFalse();
    }

    @Test
    void inPlaceAndSingleRowGenerationGiveTheSameBits() {
        SplittableRandom rnd = new SplittableRandom(5);
        int P = 37, H = 3, hd = 8, C = H * hd;
        float[] x = Tensors.uniform(rnd, P * C, -1, 1);
        float[] y = new float[P * C];
        float[] inPlace = x.clone();
        try (CpuBackend cpu = new CpuBackend(3)) {
            cpu.ropeForward(y, 0, x, 0, P, P, 0, H, hd, BASE);
            cpu.ropeForward(inPlace, 0, inPlace, 0, P, P, 0, H, hd, BASE);
            assertThat(inPlace).isEqualTo(y);
            for (int p = 0; p < P; p++) {
                // Generation rotates the newest row alone: one row, P = 1, pos0 = its position.
                float[] row = Arrays.copyOfRange(x, p * C, (p + 1) * C);
                cpu.ropeForward(row, 0, row, 0, 1, 1, p, H, hd, BASE);
                assertThat(row).as("row %d", p).isEqualTo(Arrays.copyOfRange(y, p * C, (p + 1) * C));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 5})
    void resultsAreBitIdenticalForAnyThreadCount(int threads) {
        SplittableRandom rnd = new SplittableRandom(77);
        int rows = 53, P = 17, H = 4, hd = 16, n = rows * H * hd;
        float[] x = Tensors.uniform(rnd, n, -1, 1), dy = Tensors.uniform(rnd, n, -1, 1);
        float[][] one = run(1, x, dy, rows, P, H, hd);
        float[][] many = run(threads, x, dy, rows, P, H, hd);
        for (int k = 0; k < one.length; k++) {
            assertThat(many[k]).as("output %d", k).isEqualTo(one[k]);
        }
    }

    private static float[][] run(int threads, float[] x, float[] dy, int rows, int P, int H, int hd) {
        float[] y = new float[x.length], dx = new float[x.length];
        try (CpuBackend cpu = new CpuBackend(threads)) {
            cpu.ropeForward(y, 0, x, 0, rows, P, 0, H, hd, BASE);
            cpu.ropeBackward(dx, 0, dy, 0, rows, P, 0, H, hd, BASE);
        }
        return new float[][] {y, dx};
    }
}
