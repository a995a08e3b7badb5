package io.ionllama.kernels;

import static io.ionllama.testing.GradCheck.assertClose;
import static io.ionllama.testing.GradCheck.assertMatches;
import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.testing.CpuBackendTest;
import io.ionllama.testing.GradCheck;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The fused RNN gate unit p = sigmoid(z_f) c + sigmoid(z_i) tanh(z_g): forward against a double
 * reference, dz and dc against central differences of that reference (z over [-8, 8], both
 * saturating ends of sigmoid and tanh), three wrong backwards the same check rejects,
 * accumulation, and a null dc. Every tensor sits at its own non-zero offset, so swapped offsets
 * show. Runs through the Backend op (the interface's default, on the CPU backend).
 */
class RnnCellTest extends CpuBackendTest {

    static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    static double[] reference(double[] z, double[] c, int rows, int C) {
        double[] p = new double[rows * C];
        for (int n = 0; n < rows; n++) {
            for (int k = 0; k < C; k++) {
                double f = sigmoid(z[n * 3 * C + k]), i = sigmoid(z[n * 3 * C + C + k]), g = Math.tanh(z[n * 3 * C + 2 * C + k]);
                p[n * C + k] = f * c[n * C + k] + i * g;
            }
        }
        return p;
    }

    record Case(int rows, int C, int zOff, int cOff, int pOff, float[] z, float[] c, double[] r) {
        static Case random(long seed) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int rows = 1 + rnd.nextInt(6), C = 1 + rnd.nextInt(7);
            int zOff = 1 + rnd.nextInt(4), cOff = 1 + rnd.nextInt(4), pOff = 1 + rnd.nextInt(4);
            return new Case(rows, C, zOff, cOff, pOff,
                    Tensors.uniform(rnd, zOff + rows * 3 * C, -8, 8),
                    Tensors.uniform(rnd, cOff + rows * C, -3, 3),
                    Tensors.toDouble(Tensors.uniform(rnd, rows * C, -1, 1)));
        }

        double[] zs() { return Tensors.slice(z, zOff, rows * 3 * C); }
        double[] cs() { return Tensors.slice(c, cOff, rows * C); }

        float[] dp() {
            float[] dp = new float[pOff + rows * C];
            for (int i = 0; i < r.length; i++) {
                dp[pOff + i] = (float) r[i];
            }
            return dp;
        }

        double loss(double[] zs, double[] cs) {
            return Tensors.dot(r, reference(zs, cs, rows, C));
        }

        double[] numericDz() {
            double[] cs = cs();
            return GradCheck.numeric(p -> loss(p, cs), zs());
        }

        double[] numericDc() {
            double[] zs = zs();
            return GradCheck.numeric(p -> loss(zs, p), cs());
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6})
    void forwardMatchesReference(long seed) {
        Case c = Case.random(seed);
        float[] p = new float[c.pOff + c.rows * c.C];
        cpu.rnnGatesForward(p, c.pOff, c.z, c.zOff, c.c, c.cOff, c.rows, c.C);
        assertClose("p", p, c.pOff, reference(c.zs(), c.cs(), c.rows, c.C), 1e-5, 1e-6);
    }

    @ParameterizedTest
    @ValueSource(longs = {11, 12, 13, 14, 15, 16})
    void backwardMatchesFiniteDifferences(long seed) {
        Case c = Case.random(seed);
        float[] dz = new float[c.zOff + c.rows * 3 * c.C], dc = new float[c.cOff + c.rows * c.C];
        cpu.rnnGatesBackward(dz, c.zOff, dc, c.cOff, c.dp(), c.pOff, c.z, c.zOff, c.c, c.cOff, c.rows, c.C);
        // |dp| <= 1, |c| <= 3: gradients O(1); atol covers the difference quotient's rounding.
        assertMatches("dz", dz, c.zOff, c.numericDz(), 1e-4, 1e-8);
        assertMatches("dc", dc, c.cOff, c.numericDc(), 1e-4, 1e-8);
    }

    @ParameterizedTest
    @ValueSource(longs = {21, 22, 23})
    void checkRejectsWrongBackwards(long seed) {
        Case c = Case.random(seed);
        int C = c.C, rows = c.rows;
        float[] dp = c.dp();
        double[] ndz = c.numericDz(), ndc = c.numericDc();
        // Mutant 1: the candidate's derivative taken as (1 - g) instead of (1 - g²).
        // Mutant 2: the forget gate's derivative without the c factor.
        // Mutant 3: dc taken as dp · i (the input gate) instead of dp · f.
        float[] dz1 = new float[rows * 3 * C], dz2 = new float[rows * 3 * C], dc3 = new float[rows * C];
        for (int n = 0; n < rows; n++) {
            for (int k = 0; k < C; k++) {
                int zr = c.zOff + n * 3 * C;
                float f = Activations.sigmoid(c.z[zr + k]), i = Activations.sigmoid(c.z[zr + C + k]);
                float g = (float) Math.tanh(c.z[zr + 2 * C + k]);
                float d = dp[c.pOff + n * C + k], cv = c.c[c.cOff + n * C + k];
                dz1[n * 3 * C + k] = d * cv * f * (1f - f);
                dz1[n * 3 * C + C + k] = d * g * i * (1f - i);
                dz1[n * 3 * C + 2 * C + k] = d * i * (1f - g);
                dz2[n * 3 * C + k] = d * f * (1f - f);
                dz2[n * 3 * C + C + k] = d * g * i * (1f - i);
                dz2[n * 3 * C + 2 * C + k] = d * i * (1f - g * g);
                dc3[n * C + k] = d * i;
            }
        }
        assertThat(GradCheck.matches(dz1, ndz, 1e-4, 1e-8)).as("wrong tanh'").isFalse();
        assertThat(GradCheck.matches(dz2, ndz, 1e-4, 1e-8)).as("forget gate without c").isFalse();
        assertThat(GradCheck.matches(dc3, ndc, 1e-4, 1e-8)).as("dc through i").isFalse();
        // And the real unit passes the same check on the same case (the mutants differ only in the bug).
        float[] dz = new float[rows * 3 * C], dc = new float[rows * C];
        cpu.rnnGatesBackward(dz, 0, dc, 0, dp, c.pOff, c.z, c.zOff, c.c, c.cOff, rows, C);
        assertThat(GradCheck.matches(dz, ndz, 1e-4, 1e-8)).isTrue();
        assertThat(GradCheck.matches(dc, ndc, 1e-4, 1e-8)).isTrue();
    }

    @Test
    void backwardAccumulatesAndNullDcSkipsIt() {
        Case c = Case.random(31);
        int nz = c.zOff + c.rows * 3 * c.C, nc = c.cOff + c.rows * c.C;
        SplittableRandom rnd = new SplittableRandom(5);
        float[] dz0 = Tensors.uniform(rnd, nz, -3, 3), dc0 = Tensors.uniform(rnd, nc, -3, 3);
        float[] dz = dz0.clone(), dc = dc0.clone(), fz = new float[nz], fc = new float[nc], nullz = new float[nz];
        float[] dp = c.dp();
        cpu.rnnGatesBackward(dz, c.zOff, dc, c.cOff, dp, c.pOff, c.z, c.zOff, c.c, c.cOff, c.rows, c.C);
        cpu.rnnGatesBackward(fz, c.zOff, fc, c.cOff, dp, c.pOff, c.z, c.zOff, c.c, c.cOff, c.rows, c.C);
        cpu.rnnGatesBackward(nullz, c.zOff, null, 0, dp, c.pOff, c.z, c.zOff, c.c, c.cOff, c.rows, c.C);
        for (int i = 0; i < nz; i++) {
            assertThat(dz[i]).as("dz[%d]", i).isEqualTo(dz0[i] + fz[i]);
            assertThat(nullz[i]).as("dz without dc [%d]", i).isEqualTo(fz[i]);
        }
        for (int i = 0; i < nc; i++) {
            assertThat(dc[i]).as("dc[%d]", i).isEqualTo(dc0[i] + fc[i]);
        }
    }
}
