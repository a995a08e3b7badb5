package io.ionllama.backend.tornado;

import static io.ionllama.backend.tornado.DeviceChecks.abs;
import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.kernels.Scan;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The IntegralLNN scan's chunked TaskGraphs on the TornadoVM device against the CPU backend.
 *
 * <p>Tolerances ({@link DeviceChecks}): the chunked scan regroups the recurrence (a chunk's
 * product of a times the incoming state, plus the chunk's own state), so against the CPU's
 * sequential scan it agrees to rounding, not bits. With a in (0, 1) every h is a convex
 * combination of the u's, so errors are measured against {@code scale = max|u|} = 1 here, rtol
 * 1e-5. The gradients sum dh over the steps a carries back: their scale is |da0| (or |du0|) plus
 * the same backward run on |dh| (G[t] = |dh[t]| + a[t+1] G[t+1]) times |h[t-1]| + |u[t]| (or
 * 1 - a[t]), rtol 1e-5. Against the CPU's chunked
 * scan with the same chunk length the arithmetic is the same per unit, up to fma.
 *
 * <p>The family's other graphs: generation's scan step, rtol 1e-5 of |a h| + |(1 - a) u|; the
 * IntegralLNN gate, through exp and division: forward rtol 1e-5 of |cpu result|, dz rtol 1e-5 of
 * |initial| + the largest increment ({@link DeviceChecks#gradScale}), dlambda, a sum over rows,
 * rtol 1e-5 of |dlambda0| + the same sum on |da| (every term then has one sign, so it is the sum
 * of |terms|).
 */
class TornadoScanTest extends DeviceTest {

    static final double RTOL = 1e-5;

    /** B sequences of T steps of C channels at offset off; a in (0.02, 0.98), u and dh in [-1, 1]. */
    record Problem(int B, int T, int C, int off, float[] a, float[] u, float[] h0, float[] dh, float[] da0, float[] du0) {
        static Problem random(long seed, int B, int T, int C) {
            SplittableRandom r = new SplittableRandom(seed);
            int off = r.nextInt(8), n = off + B * T * C + 4;
            return new Problem(B, T, C, off, Tensors.uniform(r, n, 0.02, 0.98), Tensors.uniform(r, n, -1, 1),
                    Tensors.uniform(r, n, -1, 1), Tensors.uniform(r, n, -1, 1), Tensors.uniform(r, n, -1, 1),
                    Tensors.uniform(r, n, -1, 1));
        }

        static Problem random(long seed) {
            SplittableRandom r = new SplittableRandom(seed * 15485863);
            // C is compiled into the kernels (one graph per C): random B and T, a fixed C keeps compiles few.
            return random(seed, 1 + r.nextInt(3), 1 + r.nextInt(120), 13);
        }

        int n() {
            return B * T * C;
        }

        float[] carries(int chunk) {
            return new float[B * Scan.chunkCount(T, chunk) * C];
        }

        /** h as the CPU's sequential scan computes it (the backward's input). */
        float[] h() {
            float[] h = h0.clone();
            cpu.scanForward(h, a, u, off, B, T, C);
            return h;
        }
    }

    static float[] constant(int n, float v) {
        float[] s = new float[n];
        java.util.Arrays.fill(s, v);
        return s;
    }

    /** chunk 0: the backend's own chunk length (scanForward), else scanForwardChunked with it. */
    static void checkForward(Problem p, int chunk) {
        float[] hd = p.h0.clone(), hc = p.h0.clone();
        if (chunk == 0) {
            device.scanForward(hd, p.a, p.u, p.off, p.B, p.T, p.C);
            cpu.scanForward(hc, p.a, p.u, p.off, p.B, p.T, p.C);
        } else {
            device.scanForwardChunked(hd, p.a, p.u, p.off, p.B, p.T, p.C, chunk, p.carries(chunk), p.carries(chunk));
            cpu.scanForwardChunked(hc, p.a, p.u, p.off, p.B, p.T, p.C, chunk, p.carries(chunk), p.carries(chunk));
        }
        DeviceChecks.assertMatchesCpu("h (chunk " + chunk + ")", hd, hc, constant(hd.length, 1f), RTOL, p.off, p.n());
    }

    static void checkBackward(Problem p, int chunk) {
        float[] h = p.h();
        float[] dad = p.da0.clone(), dac = p.da0.clone(), dud = p.du0.clone(), duc = p.du0.clone();
        if (chunk == 0) {
            device.scanBackward(dad, dud, p.dh, h, p.a, p.u, p.off, p.B, p.T, p.C);
            cpu.scanBackward(dac, duc, p.dh, h, p.a, p.u, p.off, p.B, p.T, p.C);
        } else {
            device.scanBackwardChunked(dad, dud, p.dh, h, p.a, p.u, p.off, p.B, p.T, p.C, chunk, p.carries(chunk),
                    p.carries(chunk));
            cpu.scanBackwardChunked(dac, duc, p.dh, h, p.a, p.u, p.off, p.B, p.T, p.C, chunk, p.carries(chunk),
                    p.carries(chunk));
        }
        float[][] scale = backwardScales(p, h);
        DeviceChecks.assertMatchesCpu("da (chunk " + chunk + ")", dad, dac, scale[0], RTOL, p.off, p.n());
        DeviceChecks.assertMatchesCpu("du (chunk " + chunk + ")", dud, duc, scale[1], RTOL, p.off, p.n());
    }

    /**
     * The sizes of the backward's terms, {da scale, du scale}: G[t] = |dh[t]| + a[t+1] G[t+1]
     * bounds |g[t]|, then |da| <= |da0| + G (|h[t-1]| + |u[t]|) and |du| <= |du0| + G (1 - a[t]).
     */
    static float[][] backwardScales(Problem p, float[] h) {
        float[] daScale = DeviceChecks.abs(p.da0), duScale = DeviceChecks.abs(p.du0);
        for (int b = 0; b < p.B; b++) {
            for (int c = 0; c < p.C; c++) {
                double carry = 0;
                for (int t = p.T - 1; t >= 0; t--) {
                    int x = p.off + (b * p.T + t) * p.C + c;
                    double g = Math.abs(p.dh[x]) + carry;
                    double prev = t > 0 ? Math.abs(h[x - p.C]) : 0;
                    daScale[x] += (float) (g * (prev + Math.abs(p.u[x])));
                    duScale[x] += (float) (g * (1 - p.a[x]));
                    carry = p.a[x] * g;
                }
            }
        }
        return new float[][] {daScale, duScale};
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4})
    void forwardMatchesCpuSequentialScan(long seed) {
        checkForward(Problem.random(seed), 0);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 16, 200})
    void chunkedForwardMatchesCpuChunkedScan(int chunk) {
        checkForward(Problem.random(10 + chunk, 2, 77, 13), chunk);
    }

    @ParameterizedTest
    @ValueSource(longs = {5, 6, 7})
    void backwardAccumulatesLikeCpuSequentialScan(long seed) {
        checkBackward(Problem.random(seed), 0);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 5, 200})
    void chunkedBackwardMatchesCpuChunkedScan(int chunk) {
        checkBackward(Problem.random(20 + chunk, 2, 61, 13), chunk);
    }

    /**
     * docs/gpu.md, pitfall 3: B, T and the chunk length change between executions of one graph (per C); all
     * of them travel in params, the grids are set per execution.
     */
    @Test
    void sequenceShapeChangesBetweenExecutionsOfOneGraph() {
        int C = 24;
        long f0 = device.stats(ScanGraphs.FORWARD).graphsBuilt(), b0 = device.stats(ScanGraphs.BACKWARD).graphsBuilt();
        long seed = 70;
        for (int[] bt : new int[][] {{2, 30}, {1, 7}, {4, 16}, {1, 1}, {3, 21}}) {
            Problem p = Problem.random(seed++, bt[0], bt[1], C);
            checkForward(p, 0);
            checkForward(p, 4);
            checkBackward(p, 0);
        }
        assertThat(device.stats(ScanGraphs.FORWARD).graphsBuilt() - f0).isEqualTo(1);
        assertThat(device.stats(ScanGraphs.BACKWARD).graphsBuilt() - b0).isEqualTo(1);
    }

    @Test
    void ranOnTheDevice() {
        Problem p = Problem.random(99, 1, 9, 5);
        checkForward(p, 0);
        checkBackward(p, 0);
        DeviceChecks.assertRanOnDevice(device, ScanGraphs.FORWARD, ScanGraphs.BACKWARD);
    }

    /**
     * Residency: two training steps of forward and backward, default and chunked, on caller arrays
     * at a non-zero offset. The first step runs per-op and builds the plan at its end; the second
     * runs every call as a site of that plan (the backward reading the h the forward left on the
     * device), with a new u and reset gradients uploaded from the host. Checked against the CPU
     * on each step's inputs, and outside the slices untouched.
     */
    @Test
    void residentStepsMatchCpu() {
        int B = 2, T = 37, C = 13, off = 5, chunk = 5, n = off + B * T * C + 7;
        SplittableRandom r = new SplittableRandom(4242);
        float[] a = Tensors.uniform(r, n, 0.02, 0.98), u = Tensors.uniform(r, n, -1, 1);
        float[] h0 = Tensors.uniform(r, n, -1, 1), dh = Tensors.uniform(r, n, -1, 1);
        float[] da0 = Tensors.uniform(r, n, -1, 1), du0 = Tensors.uniform(r, n, -1, 1);
        float[] h = h0.clone(), h2 = h0.clone();
        float[] da = da0.clone(), du = du0.clone(), da2 = da0.clone(), du2 = du0.clone();
        float[] carries = new float[B * Scan.chunkCount(T, chunk) * C];
        TornadoBackend res = new TornadoBackend(-1, 2, true, 0, true);
        try {
            for (int step = 0; step < 2; step++) {
                long runs0 = res.residency().runs();
                if (step == 1) {
                    // The host writes: a new u for the slice, gradients and outputs reset.
                    float[] fresh = Tensors.uniform(r, n, -1, 1);
                    System.arraycopy(fresh, off, u, off, B * T * C);
                    System.arraycopy(h0, 0, h, 0, n);
                    System.arraycopy(h0, 0, h2, 0, n);
                    System.arraycopy(da0, 0, da, 0, n);
                    System.arraycopy(du0, 0, du, 0, n);
                    System.arraycopy(da0, 0, da2, 0, n);
                    System.arraycopy(du0, 0, du2, 0, n);
                    res.hostChanged(u, h, h2, da, du, da2, du2);
                }
                res.beginStep();
                res.scanForward(h, a, u, off, B, T, C);
                res.scanBackward(da, du, dh, h, a, u, off, B, T, C);
                res.scanForwardChunked(h2, a, u, off, B, T, C, chunk, carries, carries);
                res.scanBackwardChunked(da2, du2, dh, h2, a, u, off, B, T, C, chunk, carries, carries);
                res.endStep();
                if (step == 1) {
                    assertThat(res.residency().runs() - runs0).as("ops run as sites in the second step").isEqualTo(4);
                    res.toHost(h, da, du, h2, da2, du2);
                } else {
                    assertThat(res.residency().runs()).as("the first step runs per-op").isEqualTo(runs0);
                }
                assertThat(res.residency().rebuilds()).isEqualTo(1);

                Problem p = new Problem(B, T, C, off, a, u, h0, dh, da0, du0);
                float[] hc = h0.clone(), h2c = h0.clone();
                float[] dac = da0.clone(), duc = du0.clone(), da2c = da0.clone(), du2c = du0.clone();
                cpu.scanForward(hc, a, u, off, B, T, C);
                cpu.scanBackward(dac, duc, dh, hc, a, u, off, B, T, C);
                cpu.scanForwardChunked(h2c, a, u, off, B, T, C, chunk, p.carries(chunk), p.carries(chunk));
                cpu.scanBackwardChunked(da2c, du2c, dh, h2c, a, u, off, B, T, C, chunk, p.carries(chunk), p.carries(chunk));
                String s = " (step " + step + ")";
                DeviceChecks.assertMatchesCpu("h" + s, h, hc, constant(n, 1f), RTOL, off, B * T * C);
                DeviceChecks.assertMatchesCpu("h chunked" + s, h2, h2c, constant(n, 1f), RTOL, off, B * T * C);
                float[][] scale = backwardScales(p, hc), scale2 = backwardScales(p, h2c);
                DeviceChecks.assertMatchesCpu("da" + s, da, dac, scale[0], RTOL, off, B * T * C);
                DeviceChecks.assertMatchesCpu("du" + s, du, duc, scale[1], RTOL, off, B * T * C);
                DeviceChecks.assertMatchesCpu("da chunked" + s, da2, da2c, scale2[0], RTOL, off, B * T * C);
                DeviceChecks.assertMatchesCpu("du chunked" + s, du2, du2c, scale2[1], RTOL, off, B * T * C);
            }
            // A call whose carries outgrow its site's (chunk 1: B*T = 74 carry rows, the site above
            // holds 64) is a new site, which the plan lacks: it runs per-op, and the plan is rebuilt.
            long runs1 = res.residency().runs();
            System.arraycopy(h0, 0, h2, 0, n);
            res.hostChanged(h2);
            res.beginStep();
            res.scanForwardChunked(h2, a, u, off, B, T, C, 1, null, null);
            res.endStep();
            assertThat(res.residency().runs()).isEqualTo(runs1);
            assertThat(res.residency().rebuilds()).isEqualTo(2);
            float[] h2c = h0.clone(), c1 = new float[B * T * C];
            cpu.scanForwardChunked(h2c, a, u, off, B, T, C, 1, c1, c1.clone());
            DeviceChecks.assertMatchesCpu("h chunk 1 (bigger carries)", h2, h2c, constant(n, 1f), RTOL, off, B * T * C);
            DeviceChecks.assertRanOnDevice(res, ScanGraphs.FORWARD, ScanGraphs.BACKWARD);
        } finally {
            res.close();
        }
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
        DeviceChecks.assertRanOnDevice(device, ScanGraphs.STEP);
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
        long g0 = device.stats(ScanGraphs.GATE_BACKWARD).graphsBuilt();
        checkGate(1, 40, 24);
        checkGate(2, 3, 24);
        checkGate(3, 64, 24);
        checkGate(4, 1, 24);
        assertThat(device.stats(ScanGraphs.GATE_BACKWARD).graphsBuilt() - g0).isEqualTo(1);
        checkGate(5, 100, 7);
        DeviceChecks.assertRanOnDevice(device, ScanGraphs.GATE_FORWARD, ScanGraphs.GATE_BACKWARD);
    }
}
