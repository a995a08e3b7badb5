package io.ionllama.backend.tornado;

import static io.ionllama.backend.tornado.DeviceChecks.abs;
import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.kernels.Optim;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
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
class TornadoOptimTest extends DeviceTest {

    static final double RTOL = 1e-5;

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

    /**
     * The one-launch AdamW over a tensor list (one of them empty, with gaps between tensors) keeps m
     * and v on the device: the host's copies stay untouched until {@code toHost}, each step moves
     * only the table, p and g in and p out, and the results match the CPU's per-tensor updates.
     * Between steps the CPU's state is loaded into the device arrays and announced with
     * {@code hostChanged}, which must make the next step start from it.
     */
    @Test
    void adamwTensorsKeepsMomentsOnTheDevice() {
        SplittableRandom r = new SplittableRandom(3);
        int[] offs = {3, 20, 20, 5000, 9000};
        int[] sizes = {17, 0, 4000, 3000, 70_000};
        float[] wds = {0f, 0.1f, 0.1f, 0f, 0.1f};
        int n = 79_003;
        float[] p = Tensors.gaussian(r, n, 0.1), g = new float[n];
        float[] pd = p.clone(), pc = p.clone(), md = new float[n], mc = new float[n], vd = new float[n], vc = new float[n];
        float b1 = 0.9f, b2 = 0.95f, eps = 1e-8f;
        long stepIn = DeviceGraph.bytes(new int[OptimKernels.PREFIX + 2 * offs.length + 1], new float[OptimKernels.HYPER + offs.length], p, g);
        for (int step = 1; step <= 3; step++) {
            float lr = 1e-3f * step, bc1 = (float) (1 - Math.pow(b1, step)), bc2 = (float) (1 - Math.pow(b2, step));
            float scale = step == 2 ? 0.5f : 1f;
            for (int i = 0; i < n; i++) {
                g[i] = (float) r.nextGaussian();
            }
            float[] p0 = pc.clone(), m0 = mc.clone(), v0 = vc.clone(), mHostBefore = md.clone();
            long in0 = device.stats(OptimGraphs.ADAMW_RESIDENT).bytesToDevice(), out0 = device.stats(OptimGraphs.ADAMW_RESIDENT).bytesToHost();
            device.adamwTensors(pd, g, md, vd, offs, sizes, wds, offs.length, lr, b1, b2, eps, bc1, bc2, scale);
            cpu.adamwTensors(pc, g, mc, vc, offs, sizes, wds, offs.length, lr, b1, b2, eps, bc1, bc2, scale);
            long in = device.stats(OptimGraphs.ADAMW_RESIDENT).bytesToDevice() - in0, out = device.stats(OptimGraphs.ADAMW_RESIDENT).bytesToHost() - out0;
            // m and v went to the device once (step 1, or after hostChanged) and never came back by themselves.
            assertThat(md).as("host m before toHost, step %d", step).isEqualTo(mHostBefore);
            assertThat(in).as("bytes in, step %d", step).isEqualTo(stepIn + 2 * DeviceGraph.bytes(md));
            assertThat(out).as("bytes out, step %d", step).isEqualTo(DeviceGraph.bytes(pd));
            device.toHost(md, vd);
            float[] mScale = abs(mc), vScale = abs(vc), pScale = abs(p0);
            for (int i = 0; i < n; i++) {
                float gi = g[i] * scale;
                mScale[i] += Math.abs(b1 * m0[i]) + Math.abs((1 - b1) * gi);
                vScale[i] += Math.abs(b2 * v0[i]) + Math.abs((1 - b2) * gi * gi);
                double upd = Math.abs(mc[i] / bc1) / (Math.sqrt(vc[i] / bc2) + eps);
                pScale[i] += (float) (lr * (upd + 0.1 * Math.abs(p0[i])));
            }
            DeviceChecks.assertMatchesCpu("m step " + step, md, mc, mScale, RTOL, 0, n);
            DeviceChecks.assertMatchesCpu("v step " + step, vd, vc, vScale, RTOL, 0, n);
            DeviceChecks.assertMatchesCpu("p step " + step, pd, pc, pScale, RTOL, 0, n);
            // Outside the tensors (0..2, 4020..4999 minus the third tensor, 8000..8999) nothing moved.
            for (int i : new int[] {0, 2, 4020, 4999, 8000, 8999}) {
                assertThat(pd[i]).as("p[%d] outside every tensor", i).isEqualTo(p[i]);
                assertThat(md[i]).as("m[%d] outside every tensor", i).isZero();
            }
            // Continue from the CPU's state: the host overwrites m and v and says so.
            System.arraycopy(mc, 0, md, 0, n);
            System.arraycopy(vc, 0, vd, 0, n);
            System.arraycopy(pc, 0, pd, 0, n);
            device.hostChanged(md, vd);
        }
        DeviceChecks.assertRanOnDevice(device, OptimGraphs.ADAMW_RESIDENT);
    }

    /** hostChanged naming only m: the device's newer v comes back to the host before the graph is dropped. */
    @Test
    void hostChangedKeepsTheMomentItWasNotToldAbout() {
        SplittableRandom r = new SplittableRandom(4);
        int n = 1000;
        float[] p = Tensors.gaussian(r, n, 0.1), g = Tensors.gaussian(r, n, 1), m = new float[n], v = new float[n];
        int[] offs = {0}, sizes = {n};
        float[] wds = {0f};
        device.adamwTensors(p, g, m, v, offs, sizes, wds, 1, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.05f, 1f);
        assertThat(v).containsOnly(0f);
        float[] newM = Tensors.gaussian(r, n, 1);
        System.arraycopy(newM, 0, m, 0, n);
        device.hostChanged(m);
        assertThat(m).isEqualTo(newM);
        for (int i = 0; i < n; i++) {
            // v = (1 - beta2) g^2 after one step from zero.
            assertThat((double) v[i]).isCloseTo(0.05 * g[i] * g[i], org.assertj.core.data.Offset.offset(1e-6 * (1 + g[i] * g[i])));
        }
    }

    /** The gradient norm's one-launch sums of squares over several ranges (one empty): per-op outside a step, resident inside. */
    @Test
    void sumSquaresTensorsMatchesCpu() {
        SplittableRandom r = new SplittableRandom(5);
        float[] g = Tensors.gaussian(r, 30_000, 2);
        int[] offs = {3, 100, 100, 9000}, sizes = {90, 0, 8000, 20_000};
        double ref = cpu.sumSquaresTensors(g, offs, sizes, 4);
        assertThat(device.sumSquaresTensors(g, offs, sizes, 4)).as("per-op").isCloseTo(ref, org.assertj.core.data.Offset.offset(1e-12 * ref));
        try (TornadoBackend resident = new TornadoBackend(-1, 1, false, 0, true)) {
            for (int step = 0; step < 2; step++) {
                long runs = resident.residency().runs();
                resident.beginStep();
                double s = resident.sumSquaresTensors(g, offs, sizes, 4);
                resident.endStep();
                assertThat(s).as("step %d", step).isCloseTo(ref, org.assertj.core.data.Offset.offset(1e-12 * ref));
                assertThat(resident.residency().runs() - runs).as("resident launches in step %d", step).isEqualTo(step == 0 ? 0 : 1);
            }
        }
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

    /**
     * Muon's normalisation: per-op outside a step; inside one, sums, factor and scaling on the
     * device with nothing coming back to the host (the factor is computed there, not read back).
     */
    @Test
    void normalizeMatchesCpuAndStaysOnTheDevice() {
        SplittableRandom r = new SplittableRandom(8);
        float[] x0 = Tensors.gaussian(r, 12_000, 2);
        int off = 5, n = 9_000;
        float[] ref = x0.clone();
        cpu.normalize(ref, off, n, 1e-7);
        float[] x = x0.clone();
        device.normalize(x, off, n, 1e-7);
        assertNormalized("per-op", x, ref, x0, off, n);
        try (TornadoBackend resident = new TornadoBackend(-1, 1, false, 0, true)) {
            for (int step = 0; step < 3; step++) {
                System.arraycopy(x0, 0, x, 0, x.length);
                resident.hostChanged(x);
                long runs = resident.residency().runs();
                resident.beginStep();
                long out0 = resident.bytesToHost();
                resident.normalize(x, off, n, 1e-7);
                resident.endStep();
                if (step > 0) {
                    assertThat(resident.residency().runs() - runs).as("resident launches in step %d", step).isEqualTo(1);
                    assertThat(resident.bytesToHost() - out0).as("bytes back to the host in step %d", step).isZero();
                }
                resident.toHost(x);
                assertNormalized("step " + step, x, ref, x0, off, n);
            }
        }
    }

    private static void assertNormalized(String what, float[] x, float[] ref, float[] x0, int off, int n) {
        for (int i = 0; i < x.length; i++) {
            if (i < off || i >= off + n) {
                assertThat(x[i]).as("%s: outside the slice, [%d]", what, i).isEqualTo(x0[i]);
            } else {
                assertThat((double) x[i]).as("%s: [%d]", what, i).isCloseTo(ref[i], org.assertj.core.data.Offset.offset(1e-6 * Math.abs(ref[i]) + 1e-12));
            }
        }
        double s = 0;
        for (int i = off; i < off + n; i++) {
            s += (double) x[i] * x[i];
        }
        assertThat(s).as("%s: unit norm", what).isCloseTo(1, org.assertj.core.data.Offset.offset(1e-5));
    }
}
