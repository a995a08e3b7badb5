package io.ionllama.backend.tornado;

import static io.ionllama.backend.tornado.DeviceChecks.abs;
import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * RMSNorm's TaskGraphs on the TornadoVM device against the CPU backend (same units in Java).
 *
 * <p>Tolerances ({@link DeviceChecks}), rtol 1e-5 of:
 * <ul>
 *   <li>out: |out_cpu| (x * rstd * w, a product: only rstd's sum of squares, sqrt and division
 *       round differently); rstd: |rstd_cpu|;</li>
 *   <li>dx: |dx0| + rstd (|dy w| + |x| rstd^2 sum_j |dy_j w_j x_j| / C), the size of the terms
 *       the row formula adds and subtracts;</li>
 *   <li>dw: the backward on absolute values (sum_n |dy x rstd|).</li>
 * </ul>
 */
class TornadoNormsTest extends DeviceTest {

    static final double RTOL = 1e-5;
    static final float EPS = 1e-5f;

    /** Rows of C channels at their own offsets; w around 1 as a trained norm weight is. */
    record Problem(int rows, int C, int xo, int wo, int ro, int oo, float[] x, float[] w, float[] out0, float[] rstd0,
                   float[] dy, float[] dx0, float[] dw0) {
        static Problem random(long seed, int rows, int C) {
            SplittableRandom r = new SplittableRandom(seed);
            int xo = r.nextInt(8), wo = r.nextInt(8), ro = r.nextInt(8), oo = r.nextInt(8), pad = 3;
            return new Problem(rows, C, xo, wo, ro, oo,
                    Tensors.gaussian(r, xo + rows * C + pad, 1.5),
                    Tensors.uniform(r, wo + C + pad, 0.5, 1.5),
                    Tensors.uniform(r, oo + rows * C + pad, -1, 1),
                    Tensors.uniform(r, ro + rows + pad, -1, 1),
                    Tensors.uniform(r, oo + rows * C + pad, -1, 1),
                    Tensors.uniform(r, xo + rows * C + pad, -1, 1),
                    Tensors.uniform(r, wo + C + pad, -1, 1));
        }

        static Problem random(long seed) {
            SplittableRandom r = new SplittableRandom(seed * 104729);
            return random(seed, 1 + r.nextInt(90), 1 + r.nextInt(200));
        }

        /** The forward's saved rstd, as the CPU computes it (the backward's input). */
        float[] rstd() {
            float[] out = out0.clone(), rstd = rstd0.clone();
            cpu.rmsNormForward(out, oo, rstd, ro, x, xo, w, wo, rows, C, EPS);
            return rstd;
        }
    }

    static void checkForward(Problem p) {
        float[] od = p.out0.clone(), oc = p.out0.clone(), rd = p.rstd0.clone(), rc = p.rstd0.clone();
        device.rmsNormForward(od, p.oo, rd, p.ro, p.x, p.xo, p.w, p.wo, p.rows, p.C, EPS);
        cpu.rmsNormForward(oc, p.oo, rc, p.ro, p.x, p.xo, p.w, p.wo, p.rows, p.C, EPS);
        DeviceChecks.assertMatchesCpu("out", od, oc, abs(oc), RTOL, p.oo, p.rows * p.C);
        DeviceChecks.assertMatchesCpu("rstd", rd, rc, abs(rc), RTOL, p.ro, p.rows);
    }

    static void checkBackward(Problem p, boolean trainedWeight) {
        float[] rstd = p.rstd();
        float[] dxd = p.dx0.clone(), dxc = p.dx0.clone();
        float[] dwd = trainedWeight ? p.dw0.clone() : null, dwc = trainedWeight ? p.dw0.clone() : null;
        device.rmsNormBackward(dxd, p.xo, dwd, p.wo, p.dy, p.oo, p.x, p.xo, p.w, p.wo, rstd, p.ro, p.rows, p.C);
        cpu.rmsNormBackward(dxc, p.xo, dwc, p.wo, p.dy, p.oo, p.x, p.xo, p.w, p.wo, rstd, p.ro, p.rows, p.C);
        float[] dxScale = abs(p.dx0);
        for (int n = 0; n < p.rows; n++) {
            float r = rstd[p.ro + n];
            double dot = 0;
            for (int c = 0; c < p.C; c++) {
                dot += Math.abs(p.dy[p.oo + n * p.C + c] * p.w[p.wo + c] * p.x[p.xo + n * p.C + c]);
            }
            for (int c = 0; c < p.C; c++) {
                int i = p.xo + n * p.C + c;
                dxScale[i] += (float) (r * (Math.abs(p.dy[p.oo + n * p.C + c] * p.w[p.wo + c])
                        + Math.abs(p.x[i]) * r * r * dot / p.C));
            }
        }
        DeviceChecks.assertMatchesCpu("dx", dxd, dxc, dxScale, RTOL, p.xo, p.rows * p.C);
        if (trainedWeight) {
            float[] dwScale = abs(p.dw0), scratch = new float[p.dx0.length];
            cpu.rmsNormBackward(scratch, p.xo, dwScale, p.wo, abs(p.dy), p.oo, abs(p.x), p.xo, abs(p.w), p.wo,
                    abs(rstd), p.ro, p.rows, p.C);
            DeviceChecks.assertMatchesCpu("dw", dwd, dwc, dwScale, RTOL, p.wo, p.C);
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void forwardMatchesCpu(long seed) {
        checkForward(Problem.random(seed));
    }

    @ParameterizedTest
    @ValueSource(longs = {4, 5, 6})
    void backwardAccumulatesLikeCpu(long seed) {
        Problem p = Problem.random(seed);
        checkBackward(p, true);
        checkBackward(p, false);
    }

    /** docs/gpu.md, pitfall 3: one graph per C serves every row count up to its capacity. */
    @Test
    void rowCountChangesBetweenExecutionsOfOneGraph() {
        int C = 48;
        long f0 = device.stats(NormGraphs.RMS_FORWARD).graphsBuilt(), b0 = device.stats(NormGraphs.RMS_BACKWARD).graphsBuilt();
        long seed = 50;
        for (int rows : new int[] {20, 3, 64, 1, 33}) {
            Problem p = Problem.random(seed++, rows, C);
            checkForward(p);
            checkBackward(p, true);
        }
        assertThat(device.stats(NormGraphs.RMS_FORWARD).graphsBuilt() - f0).isEqualTo(1);
        assertThat(device.stats(NormGraphs.RMS_BACKWARD).graphsBuilt() - b0).isEqualTo(1);
        Problem big = Problem.random(seed, 150, C);
        checkForward(big);
        checkBackward(big, true);
        assertThat(device.stats(NormGraphs.RMS_FORWARD).graphsBuilt() - f0).isEqualTo(2);
    }

    @Test
    void ranOnTheDevice() {
        Problem p = Problem.random(9, 7, 16);
        checkForward(p);
        checkBackward(p, true);
        DeviceChecks.assertRanOnDevice(device, NormGraphs.RMS_FORWARD, NormGraphs.RMS_BACKWARD);
    }
}
