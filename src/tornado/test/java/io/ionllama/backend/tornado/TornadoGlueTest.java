package io.ionllama.backend.tornado;

import static io.ionllama.backend.tornado.DeviceChecks.abs;
import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.Backend;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The glue's TaskGraphs (copy, accumulate, fill, axpby, scale, dropout, transpose, SwiGLU) on the
 * TornadoVM device against the CPU backend, and one resident step of every glue op beside the
 * scan family's gate and step (their own tests are {@link TornadoScanTest}'s).
 *
 * <p>Tolerances ({@link DeviceChecks}): copy, fill, accumulate (one addition, no product to
 * fuse), scale (one product) and transpose must be bit-equal; axpby (two products, one may be
 * fused) rtol 1e-5 of |alpha y| + |beta x|. SwiGLU goes through exp and division: forward rtol 1e-5 of
 * |cpu result|; backward rtol 1e-5 of |initial| + the largest increment ({@link DeviceChecks#gradScale}).
 * The gate and the scan step in the resident step: as in {@link TornadoScanTest}.
 */
class TornadoGlueTest extends DeviceTest {

    static final double RTOL = 1e-5;

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

        checkAxpbyScaleTranspose(r, n, src, so, dst0, dOff);

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

    /**
     * axpby (rtol 1e-5 of |alpha y| + |beta x|: the device may fuse one product into an fma),
     * scale (one product: bit-equal) and transpose (a copy: bit-equal) of {@code n} elements.
     */
    static void checkAxpbyScaleTranspose(SplittableRandom r, int n, float[] src, int so, float[] dst0, int dOff) {
        float alpha = (float) r.nextGaussian(), beta = (float) r.nextGaussian();
        float[] zero = new float[dst0.length];
        float[] dd = dst0.clone(), dc = dst0.clone();
        device.axpby(dd, dOff, alpha, src, so, beta, n);
        cpu.axpby(dc, dOff, alpha, src, so, beta, n);
        float[] scale = new float[dst0.length];
        for (int i = 0; i < n; i++) {
            scale[dOff + i] = Math.abs(alpha * dst0[dOff + i]) + Math.abs(beta * src[so + i]);
        }
        DeviceChecks.assertMatchesCpu("axpby n=" + n, dd, dc, scale, RTOL, dOff, n);
        dd = dst0.clone();
        dc = dst0.clone();
        device.scale(dd, dOff, alpha, n);
        cpu.scale(dc, dOff, alpha, n);
        DeviceChecks.assertMatchesCpu("scale n=" + n, dd, dc, zero, 0, dOff, n);
        // dropout: the mask is integer hashing and the kept values one product: bit-equal
        int seed = r.nextInt();
        device.dropout(dd, dOff, 0.3f, seed, n);
        cpu.dropout(dc, dOff, 0.3f, seed, n);
        DeviceChecks.assertMatchesCpu("dropout n=" + n, dd, dc, zero, 0, dOff, n);
        // The largest rows x cols <= n with cols close to sqrt(n), and its transpose back.
        int cols = Math.max(1, (int) Math.sqrt(n) + 1), rows = Math.max(1, n / cols);
        if (rows * cols > n) {
            cols = n;
            rows = 1;
        }
        int m = rows * cols;
        dd = dst0.clone();
        dc = dst0.clone();
        device.transpose(dd, dOff, src, so, rows, cols);
        cpu.transpose(dc, dOff, src, so, rows, cols);
        DeviceChecks.assertMatchesCpu("transpose " + rows + "x" + cols, dd, dc, zero, 0, dOff, m);
        float[] back = new float[so + m + 3], backC = back.clone();
        device.transpose(back, so, dd, dOff, cols, rows);
        cpu.transpose(backC, so, dc, dOff, cols, rows);
        DeviceChecks.assertMatchesCpu("transpose back " + cols + "x" + rows, back, backC, zero, 0, so, m);
        for (int i = 0; i < m; i++) {
            assertThat(back[so + i]).isEqualTo(src[so + i]);
        }
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
            assertThat(fresh.graphExecutions()).as("every execution of every op, the backend's total").isEqualTo(8);
        }
    }

    @Test
    void ranOnTheDevice() {
        checkElementwise(9, 33);
        DeviceChecks.assertRanOnDevice(device, GlueGraphs.COPY, GlueGraphs.ACCUMULATE, GlueGraphs.FILL,
                GlueGraphs.AXPBY, GlueGraphs.SCALE, GlueGraphs.TRANSPOSE, GlueGraphs.SWIGLU_FORWARD, GlueGraphs.SWIGLU_BACKWARD);
    }

    /** Every glue op's inputs and outputs at non-zero offsets, and the op calls of one step. */
    static final class GlueStep {
        static final int N = 300, ROWS = 5, C = 24, GN = ROWS * C, O1 = 7, O2 = 13, PAD = 5, TR = 15, TC = 20;
        /** Op calls in {@link #run}. */
        static final int CALLS = 13;

        final float[] src, a, b, dy, z, lambda, gda, sa, u;
        final float[] copy0, acc0, fill0, out0, da0, db0, ga0, dz0, dl0, h0, ax0, sc0, tr0;
        final float[] copy, acc, fill, out, da, db, ga, dz, dl, h, ax, sc, tr;

        GlueStep(long seed) {
            SplittableRandom r = new SplittableRandom(seed);
            src = Tensors.gaussian(r, O2 + N + PAD, 2);
            a = Tensors.gaussian(r, O2 + N + PAD, 3);
            b = Tensors.gaussian(r, O1 + N + PAD, 1);
            dy = Tensors.gaussian(r, O1 + N + PAD, 1);
            z = Tensors.gaussian(r, O2 + GN + PAD, 2);
            lambda = Tensors.uniform(r, O1 + C + PAD, -3, 1);
            gda = Tensors.gaussian(r, O1 + GN + PAD, 1);
            sa = Tensors.uniform(r, O2 + N + PAD, 0.02, 0.98);
            u = Tensors.gaussian(r, O1 + N + PAD, 1);
            copy0 = Tensors.gaussian(r, O1 + N + PAD, 2);
            acc0 = Tensors.gaussian(r, O1 + N + PAD, 2);
            fill0 = Tensors.gaussian(r, O2 + N + PAD, 2);
            out0 = Tensors.gaussian(r, O1 + N + PAD, 1);
            da0 = Tensors.uniform(r, O2 + N + PAD, -1, 1);
            db0 = Tensors.uniform(r, O1 + N + PAD, -1, 1);
            ga0 = Tensors.uniform(r, O1 + GN + PAD, -1, 1);
            dz0 = Tensors.uniform(r, O2 + GN + PAD, -1, 1);
            dl0 = Tensors.uniform(r, O1 + C + PAD, -1, 1);
            h0 = Tensors.gaussian(r, O1 + N + PAD, 1);
            ax0 = Tensors.gaussian(r, O1 + N + PAD, 1);
            sc0 = Tensors.gaussian(r, O2 + N + PAD, 1);
            tr0 = Tensors.gaussian(r, O2 + N + PAD, 1);
            copy = copy0.clone();
            acc = acc0.clone();
            fill = fill0.clone();
            out = out0.clone();
            da = da0.clone();
            db = db0.clone();
            ga = ga0.clone();
            dz = dz0.clone();
            dl = dl0.clone();
            h = h0.clone();
            ax = ax0.clone();
            sc = sc0.clone();
            tr = tr0.clone();
        }

        float[][] outputs() {
            return new float[][] {copy, acc, fill, out, da, db, ga, dz, dl, h, ax, sc, tr};
        }

        /** Every output back to its initial values (on the host). */
        void reset() {
            float[][] init = {copy0, acc0, fill0, out0, da0, db0, ga0, dz0, dl0, h0, ax0, sc0, tr0};
            float[][] outs = outputs();
            for (int i = 0; i < outs.length; i++) {
                System.arraycopy(init[i], 0, outs[i], 0, init[i].length);
            }
        }

        /** One step's op calls; the gate backward reads the gate forward's output. */
        void run(Backend be, float value) {
            be.copy(copy, O1, src, O2, N);
            be.accumulate(acc, O1, src, O2, N);
            be.fill(fill, O2, value, N);
            be.swigluForward(out, O1, a, O2, b, O1, N);
            be.swigluBackward(da, O2, db, O1, dy, O1, a, O2, b, O1, N);
            be.integralGateForward(ga, O1, z, O2, lambda, O1, ROWS, C);
            be.integralGateBackward(dz, O2, dl, O1, gda, O1, ga, O1, z, O2, lambda, O1, ROWS, C);
            be.scanStep(h, O1, sa, O2, u, O1, N);
            // One axpby site called twice with other factors: each call must keep its own.
            be.axpby(ax, O1, value, src, O2, 0.5f, N);
            be.axpby(ax, O1, 1.5f, src, O2, -value, N);
            be.scale(sc, O2, value, N);
            // Another seed each step: the site must take each call's seed, not the first's.
            be.dropout(sc, O2, 0.3f, Float.floatToIntBits(value), N);
            be.transpose(tr, O2, a, O2, TR, TC);
        }
    }

    /**
     * Every glue op on the resident path: a first step runs per-op and builds the plan at its end,
     * a second runs the sites on the caller's arrays (at offsets 7 and 13) and must match the CPU
     * backend, with everything outside the written slices untouched.
     */
    @Test
    void residentStepsMatchCpu() {
        GlueStep d = new GlueStep(50), c = new GlueStep(50);
        float v1 = 0.75f, v2 = -1.25f;
        try (TornadoBackend res = new TornadoBackend(-1, 2, true, 0, true)) {
            res.beginStep();
            d.run(res, v1);
            res.endStep();
            assertThat(res.residency().rebuilds()).isEqualTo(1);
            long runs0 = res.residency().runs();
            d.reset();
            res.hostChanged(d.outputs());
            res.beginStep();
            d.run(res, v2);
            res.endStep();
            assertThat(res.residency().runs() - runs0).isEqualTo(GlueStep.CALLS);
            assertThat(res.residency().rebuilds()).isEqualTo(1);
            res.toHost(d.outputs());
        }
        c.run(cpu, v2);
        int n = GlueStep.N, gn = GlueStep.GN, C = GlueStep.C, o1 = GlueStep.O1, o2 = GlueStep.O2;
        DeviceChecks.assertMatchesCpu("resident copy", d.copy, c.copy, new float[c.copy.length], 0, o1, n);
        DeviceChecks.assertMatchesCpu("resident accumulate", d.acc, c.acc, new float[c.acc.length], 0, o1, n);
        DeviceChecks.assertMatchesCpu("resident fill", d.fill, c.fill, new float[c.fill.length], 0, o2, n);
        DeviceChecks.assertMatchesCpu("resident swiglu out", d.out, c.out, abs(c.out), RTOL, o1, n);
        DeviceChecks.assertMatchesCpu("resident swiglu da", d.da, c.da, DeviceChecks.gradScale(c.da0, c.da, o2, n), RTOL, o2, n);
        DeviceChecks.assertMatchesCpu("resident swiglu db", d.db, c.db, DeviceChecks.gradScale(c.db0, c.db, o1, n), RTOL, o1, n);
        DeviceChecks.assertMatchesCpu("resident gate a", d.ga, c.ga, abs(c.ga), RTOL, o1, gn);
        DeviceChecks.assertMatchesCpu("resident gate dz", d.dz, c.dz, DeviceChecks.gradScale(c.dz0, c.dz, o2, gn), RTOL, o2, gn);
        float[] dlScale = new float[c.dl0.length], scratch = new float[c.dz0.length];
        cpu.integralGateBackward(scratch, o2, dlScale, o1, abs(c.gda), o1, c.ga, o1, c.z, o2, c.lambda, o1, GlueStep.ROWS, C);
        dlScale = abs(dlScale);
        for (int i = 0; i < dlScale.length; i++) {
            dlScale[i] += Math.abs(c.dl0[i]);
        }
        DeviceChecks.assertMatchesCpu("resident gate dlambda", d.dl, c.dl, dlScale, RTOL, o1, C);
        float[] hScale = new float[c.h0.length];
        for (int i = 0; i < n; i++) {
            hScale[o1 + i] = Math.abs(c.sa[o2 + i] * c.h0[o1 + i]) + Math.abs((1 - c.sa[o2 + i]) * c.u[o1 + i]);
        }
        DeviceChecks.assertMatchesCpu("resident scan step", d.h, c.h, hScale, RTOL, o1, n);
        // The two axpby calls on absolute values bound their rounding.
        float[] axScale = abs(c.ax0);
        cpu.axpby(axScale, o1, Math.abs(v2), abs(c.src), o2, 0.5f, n);
        cpu.axpby(axScale, o1, 1.5f, abs(c.src), o2, Math.abs(v2), n);
        DeviceChecks.assertMatchesCpu("resident axpby twice", d.ax, c.ax, axScale, RTOL, o1, n);
        DeviceChecks.assertMatchesCpu("resident scale", d.sc, c.sc, new float[c.sc.length], 0, o2, n);
        DeviceChecks.assertMatchesCpu("resident transpose", d.tr, c.tr, new float[c.tr.length], 0, o2, n);
    }
}
