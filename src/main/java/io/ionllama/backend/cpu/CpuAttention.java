package io.ionllama.backend.cpu;

import io.ionllama.kernels.Attention;
import io.ionllama.kernels.GroupAttention;
import io.ionllama.kernels.Rope;

/**
 * The CPU schedule of attention (dense and dilated, forward and backward, and generation's
 * one-row query; {@code kernels.Attention}) and RoPE ({@code kernels.Rope}). The device
 * counterpart is {@code backend/tornado/AttentionGraphs}.
 *
 * <p>RoPE runs one unit per row. Attention runs one unit per (b, i, h) in that order, so a
 * thread's range walks query rows and their heads together; the backward is two passes (dq by
 * query, then dk/dv gathered by key), which write disjoint outputs and need no atomics. Dense
 * units interleave short and long rows ({@link AttentionFields#position}) so threads get even
 * work. With the Vector API, dense attention (forward and backward, not generation's one-row
 * query) runs on {@link SimdAttention} instead: blocked products per (sequence, head, block of
 * rows), tested against these units.
 *
 * <p>RoPE reads cos/sin from a table of positions [0, ropePositions) instead of computing them
 * per row and head (exp, log, cos, sin per pair). Each entry is computed by exactly the unit's
 * expressions, so the rotation gives the unit's bits, for the full pass and for generation's
 * one-row calls alike; positions past the table's cap use the unit itself.
 */
final class CpuAttention {

    private final WorkerPool pool;
    /** The Vector API path of dense attention ({@link SimdAttention}), or null: the scalar units. */
    private final SimdAttention simd;

    CpuAttention(WorkerPool pool, boolean simd) {
        this.pool = pool;
        // SimdAttention is referenced only behind this check (a JVM without jdk.incubator.vector).
        this.simd = simd ? new SimdAttention(pool) : null;
    }

    /** Positions the RoPE table may hold (a table of P x hd floats; 4 MiB at hd 64). */
    static final int ROPE_TABLE_MAX_POSITIONS = 1 << 14;

    private float[] ropeCos = new float[0], ropeSin = new float[0];
    /** With the Vector API: the same table expanded to the head's width, [positions][hd] (SimdElementwise.ropeHead). */
    private float[] ropeC2 = new float[0], ropeS2 = new float[0];
    private int ropePositions, ropeHalf;
    private float ropeBase;

    /** Makes the table cover positions [0, need) (up to the cap) for head size hd and base. */
    private void ropeTable(int need, int hd, float base) {
        int half = hd / 2;
        if (half != ropeHalf || Float.floatToRawIntBits(base) != Float.floatToRawIntBits(ropeBase)) {
            ropePositions = 0;
            ropeHalf = half;
            ropeBase = base;
        }
        need = Math.min(need, ROPE_TABLE_MAX_POSITIONS);
        if (need <= ropePositions) {
            return;
        }
        int cap = Math.min(ROPE_TABLE_MAX_POSITIONS, Math.max(need, 2 * ropePositions));
        if (ropeCos.length < cap * half) {
            ropeCos = java.util.Arrays.copyOf(ropeCos, cap * half);
            ropeSin = java.util.Arrays.copyOf(ropeSin, cap * half);
        }
        if (simd != null && ropeC2.length < cap * 2 * half) {
            ropeC2 = java.util.Arrays.copyOf(ropeC2, cap * 2 * half);
            ropeS2 = java.util.Arrays.copyOf(ropeS2, cap * 2 * half);
        }
        for (int p = ropePositions; p < cap; p++) {
            for (int j = 0; j < half; j++) {
                float angle = p * Rope.inverseFrequency(j, hd, base); // as Rope.forwardHead computes it
                float c = (float) Math.cos(angle), sn = (float) Math.sin(angle);
                ropeCos[p * half + j] = c;
                ropeSin[p * half + j] = sn;
                if (simd != null) {
                    int e = p * 2 * half + 2 * j;
                    ropeC2[e] = c;
                    ropeC2[e + 1] = c;
                    ropeS2[e] = -sn;
                    ropeS2[e + 1] = sn;
                }
            }
        }
        ropePositions = cap;
    }

    private final class RopeTask implements WorkerPool.RangeTask {
        float[] y, x;
        int yOff, xOff, P, pos0, heads, headDim;
        float base;
        /** backward: y += R^T x (or with overwrite, y = R^T x; only on the Vector API path). */
        boolean backward, overwrite;

        @Override
        public void run(int from, int to) {
            int hd = headDim, half = hd / 2, C = heads * hd;
            float[] cos = ropeCos, sin = ropeSin;
            for (int n = from; n < to; n++) {
                int p = pos0 + n % P;
                if (p >= ropePositions) {
                    if (overwrite) {
                        java.util.Arrays.fill(y, yOff + n * C, yOff + (n + 1) * C, 0f);
                    }
                    if (backward) {
                        Rope.backwardRow(y, yOff, x, xOff, P, pos0, heads, headDim, base, n);
                    } else {
                        Rope.forwardRow(y, yOff, x, xOff, P, pos0, heads, headDim, base, n);
                    }
                    continue;
                }
                int t = p * half;
                if (simd != null && hd % 2 == 0) {
                    for (int h = 0; h < heads; h++) {
                        SimdElementwise.ropeHead(y, yOff + n * C + h * hd, x, xOff + n * C + h * hd, ropeC2, ropeS2,
                                2 * t, hd, backward, overwrite);
                    }
                    continue;
                }
                for (int h = 0; h < heads; h++) {
                    int xr = xOff + n * C + h * hd, yr = yOff + n * C + h * hd;
                    for (int j = 0; j < half; j++) {
                        float c = cos[t + j], sn = sin[t + j];
                        float x0 = x[xr + 2 * j], x1 = x[xr + 2 * j + 1];
                        if (backward) { // y is dx, x is dy: dx += R(-p) dy
                            y[yr + 2 * j] += x0 * c + x1 * sn;
                            y[yr + 2 * j + 1] += x1 * c - x0 * sn;
                        } else {
                            y[yr + 2 * j] = x0 * c - x1 * sn;
                            y[yr + 2 * j + 1] = x0 * sn + x1 * c;
                        }
                    }
                }
            }
        }
    }

    /** Shared fields of the attention passes; {@code window < 0} selects the dense form. */
    private abstract static class AttentionFields {
        float[] out, att, q, k, v, dq, dk, dv, dout;
        int outOff, attOff, qOff, kOff, vOff, dqOff, dkOff, dvOff, doutOff;
        int P, heads, headDim, window, slots;

        /**
         * Dense units cost O(i): ranges of consecutive positions would hand one thread all the long
         * rows, so the dense order interleaves short and long ones (0, P-1, 1, P-2, ...). Units
         * write disjoint outputs, so the order changes no result.
         */
        int position(int r) {
            if (window >= 0) {
                return r;
            }
            return (r & 1) == 0 ? r >> 1 : P - 1 - (r >> 1);
        }

        void set(float[] out, int outOff, float[] att, int attOff, float[] q, int qOff, float[] k, int kOff,
                 float[] v, int vOff, int P, int heads, int headDim, int window, int slots) {
            this.out = out; this.outOff = outOff; this.att = att; this.attOff = attOff;
            this.q = q; this.qOff = qOff; this.k = k; this.kOff = kOff; this.v = v; this.vOff = vOff;
            this.P = P; this.heads = heads; this.headDim = headDim; this.window = window; this.slots = slots;
        }
    }

    private static final class AttentionForwardTask extends AttentionFields implements WorkerPool.RangeTask {
        @Override
        public void run(int from, int to) {
            for (int unit = from; unit < to; unit++) {
                int h = unit % heads, i = position(unit / heads % P), b = unit / (heads * P);
                if (window < 0) {
                    Attention.denseForward(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff,
                            P, heads, headDim, b, i, h);
                } else {
                    Attention.dilatedForward(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff,
                            P, heads, headDim, window, slots, b, i, h);
                }
            }
        }
    }

    private static final class AttentionQueryTask extends AttentionFields implements WorkerPool.RangeTask {
        @Override
        public void run(int from, int to) {
            for (int unit = from; unit < to; unit++) {
                int h = unit % heads, i = position(unit / heads % P), b = unit / (heads * P);
                if (window < 0) {
                    Attention.denseBackwardQuery(dq, dqOff, dout, doutOff, k, kOff, v, vOff, out, outOff,
                            att, attOff, P, heads, headDim, b, i, h);
                } else {
                    Attention.dilatedBackwardQuery(dq, dqOff, dout, doutOff, k, kOff, v, vOff, out, outOff,
                            att, attOff, P, heads, headDim, window, slots, b, i, h);
                }
            }
        }
    }

    private static final class AttentionKeyTask extends AttentionFields implements WorkerPool.RangeTask {
        @Override
        public void run(int from, int to) {
            for (int unit = from; unit < to; unit++) {
                int h = unit % heads, j = position(unit / heads % P), b = unit / (heads * P);
                if (window < 0) {
                    Attention.denseBackwardKey(dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, v, vOff,
                            out, outOff, att, attOff, P, heads, headDim, b, j, h);
                } else {
                    Attention.dilatedBackwardKey(dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, v, vOff,
                            out, outOff, att, attOff, P, heads, headDim, window, slots, b, j, h);
                }
            }
        }
    }

    private final RopeTask rope = new RopeTask();
    private final AttentionForwardTask attentionForward = new AttentionForwardTask();
    private final AttentionQueryTask attentionQuery = new AttentionQueryTask();
    private final AttentionKeyTask attentionKey = new AttentionKeyTask();

    void ropeForward(float[] y, int yOff, float[] x, int xOff, int rows, int P, int pos0,
                     int heads, int headDim, float base) {
        RopeTask t = rope;
        t.y = y; t.yOff = yOff; t.x = x; t.xOff = xOff; t.P = P; t.pos0 = pos0;
        t.heads = heads; t.headDim = headDim; t.base = base; t.backward = false; t.overwrite = false;
        ropeTable(pos0 + Math.min(rows, P), headDim, base);
        pool.parallelFor(rows, t);
    }

    void ropeBackward(float[] dx, int dxOff, float[] dy, int dyOff, int rows, int P, int pos0,
                      int heads, int headDim, float base) {
        RopeTask t = rope;
        t.y = dx; t.yOff = dxOff; t.x = dy; t.xOff = dyOff; t.P = P; t.pos0 = pos0;
        t.heads = heads; t.headDim = headDim; t.base = base; t.backward = true; t.overwrite = false;
        ropeTable(pos0 + Math.min(rows, P), headDim, base);
        pool.parallelFor(rows, t);
    }

    /** dx = R^T dy on the Vector API path (no clearing pass); false without it (the caller clears and accumulates). */
    boolean ropeBackwardOverwrite(float[] dx, int dxOff, float[] dy, int dyOff, int rows, int P, int pos0,
                                  int heads, int headDim, float base) {
        if (simd == null || headDim % 2 != 0) {
            return false;
        }
        RopeTask t = rope;
        t.y = dx; t.yOff = dxOff; t.x = dy; t.xOff = dyOff; t.P = P; t.pos0 = pos0;
        t.heads = heads; t.headDim = headDim; t.base = base; t.backward = true; t.overwrite = true;
        ropeTable(pos0 + Math.min(rows, P), headDim, base);
        pool.parallelFor(rows, t);
        t.overwrite = false;
        return true;
    }

    void attentionDenseForward(float[] out, int outOff, float[] att, int attOff,
                               float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                               int B, int P, int heads, int headDim) {
        if (simd != null && SimdAttention.supports(P)) {
            simd.denseForward(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, B, P, heads, headDim);
            return;
        }
        attentionForward(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, B, P, heads, headDim, -1, P);
    }

    void attentionDenseBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                                int B, int P, int heads, int headDim) {
        if (simd != null && SimdAttention.supports(P)) {
            simd.denseBackward(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff, v, vOff,
                    out, outOff, att, attOff, B, P, heads, headDim, false);
            return;
        }
        attentionBackward(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff, v, vOff,
                out, outOff, att, attOff, B, P, heads, headDim, -1, P);
    }

    /** Floats of att per (sequence, head) dense attention saves: the Vector API path's 2 P row statistics, else P*P probabilities. */
    long denseAttentionState(int P) {
        return simd != null && SimdAttention.supports(P) ? SimdAttention.state(P) : (long) P * P;
    }

    /** The Vector API path writing dq, dk, dv directly; false where it does not take the shape. */
    boolean attentionDenseBackwardOverwrite(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                            float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                            float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                                            int B, int P, int heads, int headDim) {
        if (simd == null || !SimdAttention.supports(P)) {
            return false;
        }
        simd.denseBackward(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff, v, vOff,
                out, outOff, att, attOff, B, P, heads, headDim, true);
        return true;
    }

    void attentionDilatedForward(float[] out, int outOff, float[] att, int attOff,
                                 float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                 int B, int P, int heads, int headDim, int window, int slots) {
        checkDilated(P, window, slots);
        attentionForward(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, B, P, heads, headDim, window, slots);
    }

    void attentionDilatedBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                  float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                  float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                                  int B, int P, int heads, int headDim, int window, int slots) {
        checkDilated(P, window, slots);
        attentionBackward(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff, v, vOff,
                out, outOff, att, attOff, B, P, heads, headDim, window, slots);
    }

    private static void checkDilated(int P, int window, int slots) {
        if (window < 1 || slots < Attention.dilatedSlots(window, P)) {
            throw new IllegalArgumentException("dilated attention needs window >= 1 and slots >= "
                    + "dilatedSlots(window, P); got window " + window + ", slots " + slots + ", P " + P);
        }
    }

    private void attentionForward(float[] out, int outOff, float[] att, int attOff,
                                  float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                  int B, int P, int heads, int headDim, int window, int slots) {
        AttentionForwardTask t = attentionForward;
        t.set(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, P, heads, headDim, window, slots);
        pool.parallelFor(B * P * heads, t);
    }

    private void attentionBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                   float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                   float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                                   int B, int P, int heads, int headDim, int window, int slots) {
        AttentionQueryTask tq = attentionQuery;
        tq.set(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, P, heads, headDim, window, slots);
        tq.dq = dq; tq.dqOff = dqOff; tq.dout = dout; tq.doutOff = doutOff;
        pool.parallelFor(B * P * heads, tq);
        AttentionKeyTask tk = attentionKey;
        tk.set(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, P, heads, headDim, window, slots);
        tk.dk = dk; tk.dkOff = dkOff; tk.dv = dv; tk.dvOff = dvOff; tk.dout = dout; tk.doutOff = doutOff;
        pool.parallelFor(B * P * heads, tk);
    }

    /** The three passes of group attention: forward, dq by query, dk/dv gathered by key. */
    private static final class GroupTask extends AttentionFields implements WorkerPool.RangeTask {
        int phase;

        @Override
        public void run(int from, int to) {
            int G = P;
            for (int unit = from; unit < to; unit++) {
                int h = unit % heads, i = unit / heads % G, g = unit / (heads * G);
                switch (phase) {
                    case 0 -> GroupAttention.forward(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff,
                            G, heads, headDim, g, i, h);
                    case 1 -> GroupAttention.backwardQuery(dq, dqOff, dout, doutOff, k, kOff, v, vOff, out, outOff,
                            att, attOff, G, heads, headDim, g, i, h);
                    default -> GroupAttention.backwardKey(dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, v, vOff,
                            out, outOff, att, attOff, G, heads, headDim, g, i, h);
                }
            }
        }
    }

    private final GroupTask group = new GroupTask();

    void attentionGroupForward(float[] out, int outOff, float[] att, int attOff,
                               float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                               int groups, int G, int heads, int headDim) {
        GroupTask t = group;
        t.set(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, G, heads, headDim, 0, G);
        t.phase = 0;
        pool.parallelFor(groups * G * heads, t);
    }

    void attentionGroupBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                                int groups, int G, int heads, int headDim) {
        GroupTask t = group;
        t.set(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, G, heads, headDim, 0, G);
        t.dq = dq; t.dqOff = dqOff; t.dk = dk; t.dkOff = dkOff; t.dv = dv; t.dvOff = dvOff;
        t.dout = dout; t.doutOff = doutOff;
        t.phase = 1;
        pool.parallelFor(groups * G * heads, t);
        t.phase = 2;
        pool.parallelFor(groups * G * heads, t);
    }

    void attentionQuery(boolean dense, float[] out, int outOff, float[] att, float[] q, int qOff,
                        float[] k, int kOff, float[] v, int vOff, int i, int heads, int headDim, int window, int slots) {
        // The units index rows as b*P + i; with b = 0 and P = i + 1, shifting the q/out/att offsets
        // by row i lets one-row buffers stand in for the full-sequence arrays.
        int C = heads * headDim, P = i + 1;
        for (int h = 0; h < heads; h++) {
            if (dense) {
                Attention.denseForward(out, outOff - i * C, att, h * P - (h * P + i) * P, q, qOff - i * C, k, kOff, v, vOff,
                        P, heads, headDim, 0, i, h);
            } else {
                Attention.dilatedForward(out, outOff - i * C, att, h * slots - (h * P + i) * slots, q, qOff - i * C, k, kOff,
                        v, vOff, P, heads, headDim, window, slots, 0, i, h);
            }
        }
    }
}
