package io.ionllama.backend.tornado;

import static io.ionllama.backend.tornado.DeviceChecks.abs;
import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.kernels.Optim;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The optimizer's TaskGraphs (AdamW, per-block sums of squares) on the TornadoVM device against
 * the CPU backend, over tensors of many sizes and several steps whose hyper-parameters change
 * (they travel in an array, so one compiled graph serves every step).
 *
 * <p>Tolerances: m and v rtol 1e-5 of |new| + |beta m0| + |(1-beta) g| (two products and a sum);
 * p rtol 1e-5 of |p0| + lr (|m_hat| / (sqrt(v_hat) + eps) + wd |p0|) (the update's size; the
 * device's sqrt and division may differ by an ulp). Sums of squares: relative 1e-12 (each square
 * of a float is exact in double, so a fused multiply-add cannot change it; only the order of the
 * partials could, and it is the CPU's).
 */
class TornadoOptimTest {

    static final double RTOL = 1e-5;

    static TornadoBackend device;
    static CpuBackend cpu;

    @BeforeAll
    static void open() {
        if (DeviceChecks.WHY != null) {
            System.out.println("TornadoOptimTest: every test skipped: " + DeviceChecks.WHY);
            return;
        }
        device = new TornadoBackend(-1, 2, true, 0);
        cpu = new CpuBackend(2);
    }

    @BeforeEach
    void needsTornado() {
        Assumptions.assumeTrue(DeviceChecks.WHY == null, DeviceChecks.SKIP + " (" + DeviceChecks.WHY + ")");
    }

    @AfterAll
    static void close() {
        if (device != null) {
            System.out.println("TornadoOptimTest device stats: " + device.stats());
            device.close();
            cpu.close();
        }
    }

    @Test
    void adamwMatchesCpuOverTensorsAndSteps() {
        SplittableRandom r = new SplittableRandom(1);
        int[] sizes = {5, 96, 4096, 12_288, 1, 300, 70_000};
        int total = 3;
        for (int s : sizes) {
            total += s;
        }
        float[] p = Tensors.gaussian(r, total + 2, 0.1), g = Tensors.gaussian(r, total + 2, 1);
        float[] pd = p.clone(), pc = p.clone(), md = new float[p.length], mc = new float[p.length];
        float[] vd = new float[p.length], vc = new float[p.length];
        float b1 = 0.9f, b2 = 0.95f, eps = 1e-8f;
        for (int step = 1; step <= 3; step++) {
            float lr = 1e-3f * step, bc1 = (float) (1 - Math.pow(b1, step)), bc2 = (float) (1 - Math.pow(b2, step));
            float scale = step == 2 ? 0.5f : 1f;
            for (int i = 0; i < g.length; i++) {
                g[i] = (float) r.nextGaussian();
            }
            float[] p0 = pc.clone(), m0 = mc.clone(), v0 = vc.clone();
            int off = 3;
            for (int s : sizes) {
                float wd = s > 100 ? 0.1f : 0f;
                device.adamw(pd, g, md, vd, off, s, lr, b1, b2, eps, wd, bc1, bc2, scale);
                cpu.adamw(pc, g, mc, vc, off, s, lr, b1, b2, eps, wd, bc1, bc2, scale);
                off += s;
            }
            float[] mScale = abs(mc), vScale = abs(vc), pScale = abs(p0);
            for (int i = 3; i < total; i++) {
                float gi = g[i] * scale;
                mScale[i] += Math.abs(b1 * m0[i]) + Math.abs((1 - b1) * gi);
                vScale[i] += Math.abs(b2 * v0[i]) + Math.abs((1 - b2) * gi * gi);
                double upd = Math.abs(mc[i] / bc1) / (Math.sqrt(vc[i] / bc2) + eps);
                pScale[i] += (float) (lr * (upd + 0.1 * Math.abs(p0[i])));
            }
            // Every element was updated at its step's values; device and CPU states then continue separately.
            DeviceChecks.assertMatchesCpu("m step " + step, md, mc, mScale, RTOL, 3, total - 3);
            DeviceChecks.assertMatchesCpu("v step " + step, vd, vc, vScale, RTOL, 3, total - 3);
            DeviceChecks.assertMatchesCpu("p step " + step, pd, pc, pScale, RTOL, 3, total - 3);
            // Keep the comparison one step deep: the next step starts both from the CPU's state.
            pd = pc.clone();
            md = mc.clone();
            vd = vc.clone();
        }
        // Capacity classes of 5, 96, 4096, 12288, 1, 300, 70000: 64, 128, 4096, 16384, 512, 131072.
        assertThat(device.stats(OptimGraphs.ADAMW).graphsBuilt()).isEqualTo(6);
        DeviceChecks.assertRanOnDevice(device, OptimGraphs.ADAMW);
    }

    @Test
    void sumSquaresMatchesCpu() {
        SplittableRandom r = new SplittableRandom(2);
        float[] g = Tensors.gaussian(r, 200_000, 3);
        for (int[] c : new int[][] {{0, 1}, {7, 4095}, {3, 4096}, {1, 4097}, {11, 100_000}, {5, 12_345}, {0, 199_000}}) {
            double dev = device.sumSquares(g, c[0], c[1]), ref = cpu.sumSquares(g, c[0], c[1]);
            assertThat(dev).as("sumSquares off=%d n=%d", c[0], c[1]).isCloseTo(ref, org.assertj.core.data.Offset.offset(1e-12 * ref));
        }
        DeviceChecks.assertRanOnDevice(device, OptimGraphs.SUM_SQUARES);
        assertThat(Optim.BLOCK).isEqualTo(4096);
    }
}
