package io.ionllama.backend.tornado;

import static io.ionllama.backend.tornado.DeviceChecks.abs;
import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The glue's TaskGraphs (copy, accumulate, fill, SwiGLU, IntegralLNN gate) on the TornadoVM device
 * against the CPU backend.
 *
 * <p>Tolerances ({@link DeviceChecks}): copy, fill and accumulate (one addition, no product to
 * fuse) must be bit-equal. SwiGLU and the gate go through exp and division: forward rtol 1e-5 of
 * |cpu result|; backward rtol 1e-5 of |initial| + the largest increment ({@link DeviceChecks#gradScale});
 * the gate's dlambda, a sum over rows, rtol 1e-5 of |dlambda0| + the same sum on |da| (every term
 * then has one sign, so it is the sum of |terms|).
 */
class TornadoGlueTest {

    static final double RTOL = 1e-5;

    static TornadoBackend device;
    static CpuBackend cpu;

    @BeforeAll
    static void open() {
        if (DeviceChecks.WHY != null) {
            System.out.println("TornadoGlueTest: every test skipped: " + DeviceChecks.WHY);
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
            System.out.println("TornadoGlueTest device stats: " + device.stats());
            device.close();
            cpu.close();
        }
    }

    static void checkElementwise(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        int so = r.nextInt(7), dOff = r.nextInt(7), pad = 4;
        float[] src = Tensors.gaussian(r, so + n + pad, 2), dst0 = Tensors.gaussian(r, dOff + n + pad, 2);
        float[] zero = new float[dst0.length];
        float[] dd = dst0.clone(), dc = dst0.clone();
        device.copy(dd, dOff, src, so, n);
        cpu.copy(dc, dOff, src, so, n);
        DeviceChecks.assertMatchesCpu("copy n=" + n, dd, dc, zero, 0, dOff, n);
        dd = dst0.clone();
        dc = dst0.clone();
        device.accumulate(dd, dOff, src, so, n);
        cpu.accumulate(dc, dOff, src, so, n);
        DeviceChecks.assertMatchesCpu("accumulate n=" + n, dd, dc, zero, 0, dOff, n);
        dd = dst0.clone();
        dc = dst0.clone();
        float value = (float) r.nextGaussian();
        device.fill(dd, dOff, value, n);
        cpu.fill(dc, dOff, value, n);
        DeviceChecks.assertMatchesCpu("fill n=" + n, dd, dc, zero, 0, dOff, n);

        float[] a = Tensors.gaussian(r, so + n + pad, 3), b = Tensors.gaussian(r, so + n + pad, 1);
        float[] od = dst0.clone(), oc = dst0.clone();
        device.swigluForward(od, dOff, a, so, b, so, n);
        cpu.swigluForward(oc, dOff, a, so, b, so, n);
        DeviceChecks.assertMatchesCpu("swiglu out n=" + n, od, oc, abs(oc), RTOL, dOff, n);
        float[] dy = Tensors.gaussian(r, dOff + n + pad, 1);
        float[] da0 = Tensors.uniform(r, so + n + pad, -1, 1), db0 = Tensors.uniform(r, so + n + pad, -1, 1);
        float[] dad = da0.clone(), dac = da0.clone(), dbd = db0.clone(), dbc = db0.clone();
        device.swigluBackward(dad, so, dbd, so, dy, dOff, a, so, b, so, n);
        cpu.swigluBackward(dac, so, dbc, so, dy, dOff, a, so, b, so, n);
        DeviceChecks.assertMatchesCpu("swiglu da n=" + n, dad, dac, DeviceChecks.gradScale(da0, dac, so, n), RTOL, so, n);
        DeviceChecks.assertMatchesCpu("swiglu db n=" + n, dbd, dbc, DeviceChecks.gradScale(db0, dbc, so, n), RTOL, so, n);
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void elementwiseMatchesCpu(long seed) {
        checkElementwise(seed, 1 + new SplittableRandom(seed).nextInt(5000));
    }

    /** Graphs are cached per capacity class: sizes within a class share one graph, a bigger one builds the next. */
    @Test
    void sizesChangeBetweenExecutions() {
        try (TornadoBackend fresh = new TornadoBackend(-1, 1, false, 0)) {
            SplittableRandom r = new SplittableRandom(20);
            for (int n : new int[] {100, 37, 128, 65, 127, 129, 100, 1}) {
                float[] src = Tensors.gaussian(r, n + 3, 1), d0 = Tensors.gaussian(r, n + 5, 1);
                float[] dd = d0.clone(), dc = d0.clone();
                fresh.accumulate(dd, 2, src, 3, n);
                cpu.accumulate(dc, 2, src, 3, n);
                DeviceChecks.assertMatchesCpu("accumulate n=" + n, dd, dc, new float[dd.length], 0, 2, n);
            }
            // Classes 64 (37, 1), 128 (100, 128, 65, 127) and 256 (129).
            assertThat(fresh.stats(GlueGraphs.ACCUMULATE).graphsBuilt()).isEqualTo(3);
            assertThat(fresh.stats(GlueGraphs.ACCUMULATE).executions()).isEqualTo(8);
        }
    }

    static void checkGate(long seed, int rows, int C) {
        SplittableRandom r = new SplittableRandom(seed);
        int zo = r.nextInt(7), lo = r.nextInt(5), pad = 3, n = rows * C;
        float[] z = Tensors.gaussian(r, zo + n + pad, 2), lambda = Tensors.uniform(r, lo + C + pad, -3, 1);
        float[] a0 = Tensors.uniform(r, zo + n + pad, -1, 1);
        float[] ad = a0.clone(), ac = a0.clone();
        device.integralGateForward(ad, zo, z, zo, lambda, lo, rows, C);
        cpu.integralGateForward(ac, zo, z, zo, lambda, lo, rows, C);
        DeviceChecks.assertMatchesCpu("gate a rows=" + rows, ad, ac, abs(ac), RTOL, zo, n);

        float[] da = Tensors.gaussian(r, zo + n + pad, 1);
        float[] dz0 = Tensors.uniform(r, zo + n + pad, -1, 1), dl0 = Tensors.uniform(r, lo + C + pad, -1, 1);
        float[] dzd = dz0.clone(), dzc = dz0.clone(), dld = dl0.clone(), dlc = dl0.clone();
        device.integralGateBackward(dzd, zo, dld, lo, da, zo, ac, zo, z, zo, lambda, lo, rows, C);
        cpu.integralGateBackward(dzc, zo, dlc, lo, da, zo, ac, zo, z, zo, lambda, lo, rows, C);
        DeviceChecks.assertMatchesCpu("gate dz rows=" + rows, dzd, dzc, DeviceChecks.gradScale(dz0, dzc, zo, n), RTOL, zo, n);
        float[] dlScale = new float[dl0.length], scratch = new float[dz0.length];
        cpu.integralGateBackward(scratch, zo, dlScale, lo, abs(da), zo, ac, zo, z, zo, lambda, lo, rows, C);
        dlScale = abs(dlScale);
        for (int i = 0; i < dlScale.length; i++) {
            dlScale[i] += Math.abs(dl0[i]);
        }
        DeviceChecks.assertMatchesCpu("gate dlambda rows=" + rows, dld, dlc, dlScale, RTOL, lo, C);
    }

    @Test
    void gateMatchesCpuWhileRowsChange() {
        long g0 = device.stats(GlueGraphs.GATE_BACKWARD).graphsBuilt();
        checkGate(1, 40, 24);
        checkGate(2, 3, 24);
        checkGate(3, 64, 24);
        checkGate(4, 1, 24);
        assertThat(device.stats(GlueGraphs.GATE_BACKWARD).graphsBuilt() - g0).isEqualTo(1);
        checkGate(5, 100, 7);
        DeviceChecks.assertRanOnDevice(device, GlueGraphs.GATE_FORWARD, GlueGraphs.GATE_BACKWARD);
    }

    @Test
    void ranOnTheDevice() {
        checkElementwise(9, 33);
        DeviceChecks.assertRanOnDevice(device, GlueGraphs.COPY, GlueGraphs.ACCUMULATE, GlueGraphs.FILL,
                GlueGraphs.SWIGLU_FORWARD, GlueGraphs.SWIGLU_BACKWARD);
    }

    /** Generation's scan step in place: h = a h + (1 - a) u, rtol 1e-5 of |a h| + |(1 - a) u|. */
    @Test
    void scanStepMatchesCpu() {
        SplittableRandom r = new SplittableRandom(30);
        for (int n : new int[] {96, 7, 128}) {
            float[] h = Tensors.gaussian(r, 4 + n, 1), a = Tensors.uniform(r, 2 + n, 0.02, 0.98), u = Tensors.gaussian(r, 3 + n, 1);
            float[] hd = h.clone(), hc = h.clone();
            device.scanStep(hd, 4, a, 2, u, 3, n);
            cpu.scanStep(hc, 4, a, 2, u, 3, n);
            float[] scale = new float[h.length];
            for (int c = 0; c < n; c++) {
                scale[4 + c] = Math.abs(a[2 + c] * h[4 + c]) + Math.abs((1 - a[2 + c]) * u[3 + c]);
            }
            DeviceChecks.assertMatchesCpu("scan step n=" + n, hd, hc, scale, RTOL, 4, n);
        }
        DeviceChecks.assertRanOnDevice(device, GlueGraphs.SCAN_STEP);
    }
}
