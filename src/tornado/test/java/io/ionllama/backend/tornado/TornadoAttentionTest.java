package io.ionllama.backend.tornado;

import static io.ionllama.backend.tornado.DeviceChecks.abs;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ionllama.kernels.Attention;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Attention (sparse dilated and dense, forward and backward) and RoPE on the TornadoVM device
 * against the CPU backend, on random inputs at non-zero offsets.
 *
 * <p>Tolerances ({@link DeviceChecks}), rtol 1e-5 of:
 * <ul>
 *   <li>out: max |v| of the slice (each out row is a convex combination of v rows);
 *       att: 1 (probabilities);</li>
 *   <li>dq, dk, dv: {@link DeviceChecks#gradScale} (|initial value| + the largest increment the
 *       CPU added), since p (dp - D) cancels and has no cheap per-element bound;</li>
 *   <li>RoPE forward: |x0| + |x1| of the pair (a rotation); backward: |dx0| + |dy0| + |dy1|.</li>
 * </ul>
 * The patch count P changes with every batch and the model calls attention per sequence, so the
 * size tests run one graph through several P (and slot counts) in a row.
 */
class TornadoAttentionTest extends DeviceTest {

    static final double RTOL = 1e-5;

    /** window 0: dense. Every tensor at its own offset; out/att start as garbage (the forward overwrites them). */
    record Problem(int B, int P, int H, int hd, int w, int S, int off, int attOff, float[] q, float[] k, float[] v,
                   float[] out0, float[] att0, float[] dout, float[] dq0, float[] dk0, float[] dv0) {
        static Problem random(long seed, int B, int P, int H, int hd, int w, int extraSlots) {
            SplittableRandom r = new SplittableRandom(seed);
            int C = H * hd, S = w == 0 ? P : Attention.dilatedSlots(w, P) + extraSlots;
            int off = 1 + r.nextInt(7), attOff = r.nextInt(9), pad = 5;
            int n = off + B * P * C + pad, na = attOff + B * H * P * S + pad;
            return new Problem(B, P, H, hd, w, S, off, attOff,
                    Tensors.gaussian(r, n, 1), Tensors.gaussian(r, n, 1), Tensors.gaussian(r, n, 1),
                    Tensors.uniform(r, n, -1, 1), Tensors.uniform(r, na, -1, 1), Tensors.gaussian(r, n, 1),
                    Tensors.uniform(r, n, -1, 1), Tensors.uniform(r, n, -1, 1), Tensors.uniform(r, n, -1, 1));
        }

        static Problem random(long seed, boolean dense) {
            SplittableRandom r = new SplittableRandom(seed * 7919);
            return random(seed, 1 + r.nextInt(3), 1 + r.nextInt(40), 1 + r.nextInt(3), 2 * (1 + r.nextInt(8)),
                    dense ? 0 : 1 + r.nextInt(4), dense ? 0 : r.nextInt(2));
        }

        int rowsLen() {
            return B * P * H * hd;
        }

        int attLen() {
            return B * H * P * S;
        }

        void forward(io.ionllama.backend.Backend be, float[] out, float[] att) {
            if (w == 0) {
                be.attentionDenseForward(out, off, att, attOff, q, off, k, off, v, off, B, P, H, hd);
            } else {
                be.attentionDilatedForward(out, off, att, attOff, q, off, k, off, v, off, B, P, H, hd, w, S);
            }
        }

        void backward(io.ionllama.backend.Backend be, float[] dq, float[] dk, float[] dv, float[] out, float[] att) {
            if (w == 0) {
                be.attentionDenseBackward(dq, off, dk, off, dv, off, dout, off, q, off, k, off, v, off, out, off, att,
                        attOff, B, P, H, hd);
            } else {
                be.attentionDilatedBackward(dq, off, dk, off, dv, off, dout, off, q, off, k, off, v, off, out, off, att,
                        attOff, B, P, H, hd, w, S);
            }
        }
    }

    /**
     * Dense attention's reference is the CPU's scalar units: the CPU's Vector API path saves row
     * statistics in att, not the probabilities the device saves (and its backward reads).
     */
    static io.ionllama.backend.cpu.CpuBackend scalarCpu;

    @org.junit.jupiter.api.BeforeAll
    static void scalarReference() {
        scalarCpu = new io.ionllama.backend.cpu.CpuBackend(1, false);
    }

    @org.junit.jupiter.api.AfterAll
    static void closeScalarReference() {
        scalarCpu.close();
    }

    static void check(Problem p) {
        io.ionllama.backend.cpu.CpuBackend cpu = p.w == 0 ? scalarCpu : DeviceTest.cpu;
        float[] od = p.out0.clone(), oc = p.out0.clone(), ad = p.att0.clone(), ac = p.att0.clone();
        p.forward(device, od, ad);
        p.forward(cpu, oc, ac);
        float[] ones = new float[ac.length];
        java.util.Arrays.fill(ones, 1f);
        String what = (p.w == 0 ? "dense" : "dilated w=" + p.w) + " B=" + p.B + " P=" + p.P + " H=" + p.H + " hd=" + p.hd;
        DeviceChecks.assertMatchesCpu(what + " out", od, oc, DeviceChecks.maxScale(p.v, p.off, p.rowsLen()), RTOL, p.off,
                p.rowsLen());
        DeviceChecks.assertMatchesCpu(what + " att", ad, ac, ones, RTOL, p.attOff, p.attLen());
        // The backward from the CPU's forward results, so both see the same inputs.
        float[] dqd = p.dq0.clone(), dqc = p.dq0.clone(), dkd = p.dk0.clone(), dkc = p.dk0.clone();
        float[] dvd = p.dv0.clone(), dvc = p.dv0.clone();
        p.backward(device, dqd, dkd, dvd, oc, ac);
        p.backward(cpu, dqc, dkc, dvc, oc, ac);
        DeviceChecks.assertMatchesCpu(what + " dq", dqd, dqc, DeviceChecks.gradScale(p.dq0, dqc, p.off, p.rowsLen()), RTOL,
                p.off, p.rowsLen());
        DeviceChecks.assertMatchesCpu(what + " dk", dkd, dkc, DeviceChecks.gradScale(p.dk0, dkc, p.off, p.rowsLen()), RTOL,
                p.off, p.rowsLen());
        DeviceChecks.assertMatchesCpu(what + " dv", dvd, dvc, DeviceChecks.gradScale(p.dv0, dvc, p.off, p.rowsLen()), RTOL,
                p.off, p.rowsLen());
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4})
    void dilatedMatchesCpu(long seed) {
        check(Problem.random(seed, false));
    }

    @ParameterizedTest
    @ValueSource(longs = {5, 6})
    void denseMatchesCpu(long seed) {
        check(Problem.random(seed, true));
    }

    /** docs/gpu.md, pitfall 3: P and the slot count change from call to call (one call per sequence); one graph serves them. */
    @Test
    void patchCountChangesBetweenExecutionsOfOneGraph() {
        String fwd = AttentionGraphs.DILATED_FORWARD, bwd = AttentionGraphs.DILATED_BACKWARD;
        long f0 = device.stats(fwd).graphsBuilt(), b0 = device.stats(bwd).graphsBuilt();
        long seed = 40;
        for (int P : new int[] {37, 5, 64, 1, 50, 2}) {
            check(Problem.random(seed++, 1, P, 2, 6, 3, 0));
        }
        check(Problem.random(seed++, 2, 20, 2, 6, 3, 1));
        assertThat(device.stats(fwd).graphsBuilt() - f0).as("forward graphs for P up to 64").isEqualTo(1);
        assertThat(device.stats(bwd).graphsBuilt() - b0).as("backward graphs for P up to 64").isEqualTo(1);
        check(Problem.random(seed, 1, 150, 2, 6, 3, 0));
        assertThat(device.stats(fwd).graphsBuilt() - f0).as("P = 150 outgrows the first graph").isEqualTo(2);
    }

    @Test
    void dilatedRejectsTooFewSlotsLikeCpu() {
        float[] a = new float[64];
        assertThatThrownBy(() -> device.attentionDilatedForward(a, 0, a, 0, a, 0, a, 0, a, 0, 1, 9, 1, 2, 1, 3))
                .isInstanceOf(IllegalArgumentException.class);
    }

    // ---------------------------------------------------------------- RoPE

    static void checkRope(long seed, int rows, int P, int pos0, int H, int hd) {
        SplittableRandom r = new SplittableRandom(seed);
        int C = H * hd, xo = r.nextInt(6), yo = r.nextInt(6), n = rows * C, pad = 3;
        float[] x = Tensors.gaussian(r, xo + n + pad, 1), y0 = Tensors.uniform(r, yo + n + pad, -1, 1);
        float[] yd = y0.clone(), yc = y0.clone();
        device.ropeForward(yd, yo, x, xo, rows, P, pos0, H, hd, 10000f);
        cpu.ropeForward(yc, yo, x, xo, rows, P, pos0, H, hd, 10000f);
        DeviceChecks.assertMatchesCpu("rope y", yd, yc, pairScale(x, xo, yo, yc.length, n, null), RTOL, yo, n);
        // In place, as the model may call it.
        float[] xd = x.clone(), xc = x.clone();
        device.ropeForward(xd, xo, xd, xo, rows, P, pos0, H, hd, 10000f);
        cpu.ropeForward(xc, xo, xc, xo, rows, P, pos0, H, hd, 10000f);
        DeviceChecks.assertMatchesCpu("rope in place", xd, xc, pairScale(x, xo, xo, xc.length, n, null), RTOL, xo, n);
        float[] dy = Tensors.gaussian(r, xo + n + pad, 1);
        float[] dd = y0.clone(), dc = y0.clone();
        device.ropeBackward(dd, yo, dy, xo, rows, P, pos0, H, hd, 10000f);
        cpu.ropeBackward(dc, yo, dy, xo, rows, P, pos0, H, hd, 10000f);
        DeviceChecks.assertMatchesCpu("rope dx", dd, dc, pairScale(dy, xo, yo, dc.length, n, y0), RTOL, yo, n);
    }

    /** |a0| + |a1| of each element's pair in the source, plus |before| for an accumulation. */
    static float[] pairScale(float[] src, int srcOff, int dstOff, int dstLen, int n, float[] before) {
        float[] s = before == null ? new float[dstLen] : abs(before);
        for (int i = 0; i < n; i++) {
            int pair = i & ~1;
            s[dstOff + i] = (before == null ? 0 : s[dstOff + i])
                    + Math.abs(src[srcOff + pair]) + Math.abs(src[srcOff + pair + 1]);
        }
        return s;
    }

    @Test
    void ropeMatchesCpuWhileRowsAndPositionsChange() {
        long r0 = device.stats(AttentionGraphs.ROPE_FORWARD).graphsBuilt();
        checkRope(1, 37, 37, 0, 2, 8);
        checkRope(2, 5, 5, 0, 2, 8);
        checkRope(3, 60, 20, 0, 2, 8);   // three sequences of 20
        checkRope(4, 1, 1, 513, 2, 8);   // one generated row at position 513
        assertThat(device.stats(AttentionGraphs.ROPE_FORWARD).graphsBuilt() - r0).isEqualTo(1);
        checkRope(5, 9, 9, 0, 3, 4);
        DeviceChecks.assertRanOnDevice(device, AttentionGraphs.ROPE_FORWARD, AttentionGraphs.ROPE_BACKWARD);
    }

    @Test
    void ranOnTheDevice() {
        check(Problem.random(9, 1, 7, 2, 4, 2, 0));
        check(Problem.random(10, 1, 7, 2, 4, 0, 0));
        DeviceChecks.assertRanOnDevice(device, AttentionGraphs.DILATED_FORWARD, AttentionGraphs.DILATED_BACKWARD,
                AttentionGraphs.DENSE_FORWARD, AttentionGraphs.DENSE_BACKWARD);
    }

    /** Generation's one new query: position i (changing every call) against cached keys 0..i. */
    @Test
    void oneQueryMatchesCpuAsThePositionGrows() {
        SplittableRandom r = new SplittableRandom(60);
        int H = 2, hd = 6, C = H * hd, w = 3, maxRows = 80;
        float[] k = Tensors.gaussian(r, 5 + maxRows * C, 1), v = Tensors.gaussian(r, 7 + maxRows * C, 1);
        for (boolean dense : new boolean[] {false, true}) {
            for (int i : new int[] {0, 1, 5, 17, 63, 64, 79}) {
                float[] q = Tensors.gaussian(r, 3 + C, 1);
                int slots = Attention.dilatedSlots(w, i + 1);
                int attLen = H * (dense ? i + 1 : slots);
                float[] od = new float[2 + C], oc = new float[2 + C], ad = new float[attLen], ac = new float[attLen];
                device.attentionQuery(dense, od, 2, ad, q, 3, k, 5, v, 7, i, H, hd, w, slots);
                cpu.attentionQuery(dense, oc, 2, ac, q, 3, k, 5, v, 7, i, H, hd, w, slots);
                float[] ones = new float[attLen];
                java.util.Arrays.fill(ones, 1f);
                String what = (dense ? "dense" : "dilated") + " query i=" + i;
                DeviceChecks.assertMatchesCpu(what + " out", od, oc, DeviceChecks.maxScale(v, 7, (i + 1) * C), RTOL, 2, C);
                DeviceChecks.assertMatchesCpu(what + " att", ad, ac, ones, RTOL, 0, attLen);
            }
        }
        DeviceChecks.assertRanOnDevice(device, AttentionGraphs.QUERY);
    }

    // ---------------------------------------------------------------- resident steps

    /** One array's expected state: compared in {@code slices} ({off, len} pairs), bit-equal to {@code init} outside. */
    static void checkSlices(String what, float[] dev, float[] ref, float[] init, float[] scale, int... slices) {
        assertThat(dev).as(what).hasSameSizeAs(ref);
        for (int i = 0; i < dev.length; i++) {
            boolean inside = false;
            for (int s = 0; s < slices.length; s += 2) {
                inside |= i >= slices[s] && i < slices[s] + slices[s + 1];
            }
            if (inside) {
                double allowed = RTOL * scale[i] + Float.MIN_NORMAL;
                assertThat((double) Math.abs(dev[i] - ref[i]))
                        .as("%s[%d]: device %.9g vs cpu %.9g (allowed %.3g)", what, i, dev[i], ref[i], allowed)
                        .isLessThanOrEqualTo(allowed);
            } else {
                assertThat(Float.floatToRawIntBits(dev[i])).as("%s[%d] lies outside the written slices: untouched", what, i)
                        .isEqualTo(Float.floatToRawIntBits(init[i]));
                assertThat(Float.floatToRawIntBits(ref[i])).as("cpu %s[%d] outside the slices", what, i)
                        .isEqualTo(Float.floatToRawIntBits(init[i]));
            }
        }
    }

    /** RoPE's scale in the slices: |src0| + |src1| of each element's pair (src at the same offset), plus |before|. */
    static float[] ropeScale(float[] src, float[] before, int... slices) {
        float[] sc = new float[src.length];
        for (int s = 0; s < slices.length; s += 2) {
            int off = slices[s];
            for (int i = 0; i < slices[s + 1]; i++) {
                int pair = off + (i & ~1);
                sc[off + i] = Math.abs(src[pair]) + Math.abs(src[pair + 1]) + (before == null ? 0 : Math.abs(before[off + i]));
            }
        }
        return sc;
    }

    /**
     * The model's calls inside a training step, on a backend with residency on: per sequence (two,
     * with different patch counts, at their own offsets of the same arrays) RoPE on q and k, dilated
     * and dense attention forward and backward, RoPE backward; and generation's one-query
     * attention (dilated and dense) for two positions. Each op reads what the previous one wrote,
     * so the second step passes arrays from graph to graph on the device.
     */
    @Test
    void residentStepsMatchCpu() {
        SplittableRandom r = new SplittableRandom(77);
        int H = 2, hd = 6, C = H * hd, w = 3, base = 3, pad = 5;
        int[] Ps = {7, 12}, rows0 = {0, 8};   // a row of gap between the sequences
        int n = base + (rows0[1] + Ps[1]) * C + pad;
        int[] offs = new int[2], aOffs = new int[2], dOffs = new int[2], Ss = new int[2];
        int na = 2, nd = 4;
        for (int s = 0; s < 2; s++) {
            offs[s] = base + rows0[s] * C;
            Ss[s] = Attention.dilatedSlots(w, Ps[s]);
            aOffs[s] = na;
            na += H * Ps[s] * Ss[s] + 3;
            dOffs[s] = nd;
            nd += H * Ps[s] * Ps[s] + 2;
        }
        // Inputs.
        float[] q = Tensors.gaussian(r, n, 1), k = Tensors.gaussian(r, n, 1), v = Tensors.gaussian(r, n, 1);
        float[] dO = Tensors.gaussian(r, n, 1);
        // Outputs, as garbage the ops overwrite or accumulate into.
        float[] qr = Tensors.uniform(r, n, -1, 1), kr = Tensors.uniform(r, n, -1, 1);
        float[] o = Tensors.uniform(r, n, -1, 1), att = Tensors.uniform(r, na, -1, 1);
        float[] o2 = Tensors.uniform(r, n, -1, 1), att2 = Tensors.uniform(r, nd, -1, 1);
        float[] dqr = Tensors.uniform(r, n, -1, 1), dkr = Tensors.uniform(r, n, -1, 1), dv = Tensors.uniform(r, n, -1, 1);
        float[] dqr2 = Tensors.uniform(r, n, -1, 1), dkr2 = Tensors.uniform(r, n, -1, 1), dv2 = Tensors.uniform(r, n, -1, 1);
        float[] dq = Tensors.uniform(r, n, -1, 1), dk = Tensors.uniform(r, n, -1, 1);
        // Generation's one query: cache of 12 rows, out at one offset per call, att at 0.
        int[] qis = {6, 11};
        float[] qq = Tensors.gaussian(r, 3 + C, 1);
        float[] kc = Tensors.gaussian(r, 5 + 12 * C, 1), vc = Tensors.gaussian(r, 7 + 12 * C, 1);
        int attQLen = H * Math.max(12, Attention.dilatedSlots(w, 12)) + 3;
        float[] oq = Tensors.uniform(r, 2 + 2 * C + 4, -1, 1), aq = Tensors.uniform(r, attQLen, -1, 1);
        float[] oqd = Tensors.uniform(r, 2 + 2 * C + 4, -1, 1), aqd = Tensors.uniform(r, attQLen, -1, 1);
        // RoPE in place, as the model may call it: no site (TornadoVM hangs on a task given one array twice), per-op.
        float[] xi = Tensors.gaussian(r, n, 1);
        float[][] outputs = {qr, kr, o, att, o2, att2, dqr, dkr, dv, dqr2, dkr2, dv2, dq, dk, oq, aq, oqd, aqd, xi};
        float[][] init = new float[outputs.length][];
        float[][] ref = new float[outputs.length][];
        for (int i = 0; i < outputs.length; i++) {
            init[i] = outputs[i].clone();
            ref[i] = outputs[i].clone();
        }
        // the scalar units as the reference: their dense att holds the probabilities, as the device's does
        runStep(scalarCpu, q, k, v, dO, ref, offs, aOffs, dOffs, Ps, Ss, H, hd, w, qq, kc, vc, qis);

        try (TornadoBackend res = new TornadoBackend(-1, 2, true, 0, true)) {
            for (int step = 0; step < 2; step++) {
                if (step == 1) {
                    for (int i = 0; i < outputs.length; i++) {
                        System.arraycopy(init[i], 0, outputs[i], 0, init[i].length);
                    }
                    res.hostChanged(outputs);
                }
                long runs0 = res.residency().runs();
                res.beginStep();
                int calls = runStep(res, q, k, v, dO, outputs, offs, aOffs, dOffs, Ps, Ss, H, hd, w, qq, kc, vc, qis);
                res.endStep();
                if (step == 1) {
                    res.toHost(outputs);
                    assertThat(res.residency().runs() - runs0).as("ops run on resident arrays in the second step").isEqualTo(calls);
                } else {
                    assertThat(res.residency().runs()).as("the first step runs per-op").isEqualTo(runs0);
                }
                assertThat(res.residency().rebuilds()).as("resident plans").isEqualTo(1);

                String tag = "step " + (step + 1) + " ";
                int[] rowSlices = {offs[0], Ps[0] * C, offs[1], Ps[1] * C};
                int[] attSlices = {aOffs[0], H * Ps[0] * Ss[0], aOffs[1], H * Ps[1] * Ss[1]};
                int[] denseSlices = {dOffs[0], H * Ps[0] * Ps[0], dOffs[1], H * Ps[1] * Ps[1]};
                int lo = offs[0], span = offs[1] + Ps[1] * C - lo;
                float[] ones = new float[Math.max(na, Math.max(nd, attQLen))];
                java.util.Arrays.fill(ones, 1f);
                float[] vScale = DeviceChecks.maxScale(v, lo, span);
                checkSlices(tag + "rope qr", qr, ref[0], init[0], ropeScale(q, null, rowSlices), rowSlices);
                checkSlices(tag + "rope kr", kr, ref[1], init[1], ropeScale(k, null, rowSlices), rowSlices);
                checkSlices(tag + "dilated out", o, ref[2], init[2], vScale, rowSlices);
                checkSlices(tag + "dilated att", att, ref[3], init[3], ones, attSlices);
                checkSlices(tag + "dense out", o2, ref[4], init[4], vScale, rowSlices);
                checkSlices(tag + "dense att", att2, ref[5], init[5], ones, denseSlices);
                String[] grads = {"dilated dq", "dilated dk", "dilated dv", "dense dq", "dense dk", "dense dv"};
                for (int g = 0; g < grads.length; g++) {
                    checkSlices(tag + grads[g], outputs[6 + g], ref[6 + g], init[6 + g],
                            DeviceChecks.gradScale(init[6 + g], ref[6 + g], lo, span), rowSlices);
                }
                checkSlices(tag + "rope dq", dq, ref[12], init[12], ropeScale(ref[6], init[12], rowSlices), rowSlices);
                checkSlices(tag + "rope dk", dk, ref[13], init[13], ropeScale(ref[7], init[13], rowSlices), rowSlices);
                int[] outQSlices = {2, C, 2 + C, C};
                float[] vcScale = DeviceChecks.maxScale(vc, 7, 12 * C);
                checkSlices(tag + "dilated query out", oq, ref[14], init[14], vcScale, outQSlices);
                checkSlices(tag + "dilated query att", aq, ref[15], init[15], ones,
                        0, H * Math.max(Attention.dilatedSlots(w, qis[0] + 1), Attention.dilatedSlots(w, qis[1] + 1)));
                checkSlices(tag + "dense query out", oqd, ref[16], init[16], vcScale, outQSlices);
                checkSlices(tag + "dense query att", aqd, ref[17], init[17], ones, 0, H * (qis[1] + 1));
                checkSlices(tag + "rope in place", xi, ref[18], init[18], ropeScale(init[18], null, rowSlices), rowSlices);
            }
            DeviceChecks.assertRanOnDevice(res, AttentionGraphs.DILATED_FORWARD, AttentionGraphs.DILATED_BACKWARD,
                    AttentionGraphs.DENSE_FORWARD, AttentionGraphs.DENSE_BACKWARD, AttentionGraphs.ROPE_FORWARD,
                    AttentionGraphs.ROPE_BACKWARD, AttentionGraphs.QUERY);
        }
    }

    /** The step's op calls on {@code be}; returns how many. {@code o} holds the outputs in the order of the test's list. */
    static int runStep(io.ionllama.backend.Backend be, float[] q, float[] k, float[] v, float[] dO, float[][] o, int[] offs,
                       int[] aOffs, int[] dOffs, int[] Ps, int[] Ss, int H, int hd, int w, float[] qq, float[] kc,
                       float[] vc, int[] qis) {
        float[] qr = o[0], kr = o[1], out = o[2], att = o[3], out2 = o[4], att2 = o[5];
        float[] dqr = o[6], dkr = o[7], dv = o[8], dqr2 = o[9], dkr2 = o[10], dv2 = o[11], dq = o[12], dk = o[13];
        int calls = 0;
        for (int s = 0; s < 2; s++) {
            int off = offs[s], P = Ps[s];
            be.ropeForward(qr, off, q, off, P, P, 0, H, hd, 10000f);
            be.ropeForward(kr, off, k, off, P, P, 0, H, hd, 10000f);
            be.attentionDilatedForward(out, off, att, aOffs[s], qr, off, kr, off, v, off, 1, P, H, hd, w, Ss[s]);
            be.attentionDenseForward(out2, off, att2, dOffs[s], qr, off, kr, off, v, off, 1, P, H, hd);
            be.ropeForward(o[18], off, o[18], off, P, P, 0, H, hd, 10000f);   // per-op: not counted
            calls += 4;
        }
        for (int s = 1; s >= 0; s--) {
            int off = offs[s], P = Ps[s];
            be.attentionDilatedBackward(dqr, off, dkr, off, dv, off, dO, off, qr, off, kr, off, v, off, out, off, att,
                    aOffs[s], 1, P, H, hd, w, Ss[s]);
            be.attentionDenseBackward(dqr2, off, dkr2, off, dv2, off, dO, off, qr, off, kr, off, v, off, out2, off, att2,
                    dOffs[s], 1, P, H, hd);
            be.ropeBackward(dq, off, dqr, off, P, P, 0, H, hd, 10000f);
            be.ropeBackward(dk, off, dkr, off, P, P, 0, H, hd, 10000f);
            calls += 4;
        }
        int C = H * hd;
        for (int c = 0; c < 2; c++) {
            int i = qis[c];
            int slots = Attention.dilatedSlots(w, i + 1);
            be.attentionQuery(false, o[14], 2 + c * C, o[15], qq, 3, kc, 5, vc, 7, i, H, hd, w, slots);
            be.attentionQuery(true, o[16], 2 + c * C, o[17], qq, 3, kc, 5, vc, 7, i, H, hd, w, slots);
            calls += 2;
        }
        return calls;
    }
}
