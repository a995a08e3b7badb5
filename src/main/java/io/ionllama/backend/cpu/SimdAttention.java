package io.ionllama.backend.cpu;

import io.ionllama.kernels.Attention;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API path of dense causal attention behind {@link CpuAttention}: the same inputs,
 * outputs and saved probabilities as {@link Attention#denseForward}, {@link
 * Attention#denseBackwardQuery} and {@link Attention#denseBackwardKey} (the scalar units it is
 * tested against), computed as small matrix products per (sequence b, head h, block of rows).
 *
 * <pre>
 *   per (b, h):  Kt = K_h^T (forward) or Vt = V_h^T (backward), [hd][Pp], Pp = P rounded up to VL,
 *                zero-padded, in a shared scratch (one transpose pass first)
 *   forward, work item (b, h, query block of QB rows), per group of MR rows g..last:
 *     att[i, 0..N)  = Q_g . Kt[:, 0..N)            N = last+1 rounded up to VL (at most P)
 *     att[i, :]     = softmax_j<=i (scale att[i, j]), zero for j > i
 *     out_g         = att[g.., 0..last] . V[0..last]
 *   backward pass 1 (dq), work item (b, h, query block):
 *     dS[i, 0..N)   = dO_g . Vt[:, 0..N)           (dp), into a [B*H][P][Pp] scratch
 *     dS[i, j]      = att[i, j] (dS[i, j] - D_i) scale for j <= i, 0 for i < j < N,  D_i = dO_i . O_i
 *     dq_g         += dS[g.., 0..last] . K[0..last]
 *   backward pass 2 (dk, dv), work item (b, h, key block), per group of MR keys g..:
 *     dv_g         += att[g.., g..]^T . dO[g..P)     (att[i, j] = 0 for j > i)
 *     dk_g         += dS[g.., g..]^T  . Q[g..P)
 * </pre>
 *
 * <p>Every product runs on one micro-kernel ({@link #gemm}): an MR-row tile of C in registers,
 * four vectors wide (then three, two, one), one broadcast-FMA per row per step of the reduction;
 * the last columns of a row are one masked vector (masked-off lanes load zeros and are never
 * stored). Each element of C is one FMA chain over the reduction index in order from its initial
 * value, whichever tile shape or vector width computed it, so results depend on the shape only.
 * The softmax uses {@link SimdElementwise#exp} (a polynomial, not {@code
 * Math.exp}) and sums lanes in a fixed order (no {@code reduceLanes} for sums). Rows of a group
 * read up to the group's last key: the extra entries are exact zeros (att and dS above the
 * diagonal), or, for the scores, overwritten by the softmax.
 *
 * <p>Work items write disjoint outputs (out/att rows and dq rows of their query block; dk/dv rows
 * of their key block; the dS rows of their query block), so the results are identical for any
 * thread count. Blocks are handed out long and short alternately (as {@link CpuAttention} does
 * for the units) so threads get even work. Scratch grows only; dispatch allocates nothing.
 *
 * <p>Loop-carried vectors (the softmax's running max and sum) are never the receiver of a
 * Vector API call, always the argument ({@code load.max(vmax)}, {@code e.add(vsum)}; max and IEEE
 * add are commutative, so the bits are the same). C2 types a loop phi with the declared type
 * {@code FloatVector}, so {@code vmax.max(x)} reaches the abstract {@code FloatVector.lanewise} as a
 * virtual call that only a type profile of the JDK's shared call site can devirtualize. Without one
 * (-XX:-TieredCompilation, -Xbatch, or a loaded machine where softmaxRow compiles early) PrintInlining
 * says {@code FloatVector::lanewise (0 bytes) failed to inline: virtual call}, the phi's back edge
 * stays an opaque call result, and every iteration boxes a vector: about 1.2 MB per 40 calls in
 * {@code SimdAttentionTest.steadyStateAllocatesNothing}. A freshly loaded or computed vector has
 * its exact class ({@code Float512Vector}, ...) in C2's types, so its calls always inline.
 *
 * <p>Loaded only when {@link SimdSupport#available()} is true.
 */
final class SimdAttention {

    /**
     * The products' species: the one every Vector API path of this backend uses. A second shape
     * (256-bit products beside 512-bit elementwise code) splits the JDK's type profiles inside
     * {@code FloatVector} between two classes, and C2 then may leave a tile's FMAs on the boxing
     * Java fallback for good: hundreds of KB allocated per call, several times slower, depending
     * on compile timing ({@code SimdAttentionTest.steadyStateAllocatesNothing} caught it on an
     * AVX-512 machine, and reproduces it with -XX:-TieredCompilation).
     */
    static final VectorSpecies<Float> V = SimdElementwise.S;
    static final int VL = V.length();
    /** The softmax's species (that of {@link SimdElementwise#exp}): the same. */
    static final VectorSpecies<Float> S = V;
    static final int SL = S.length();
    /** Rows of a micro tile. */
    static final int MR = 4;
    /** Rows (queries or keys) of a work item; a multiple of MR. */
    static final int QB = 32;

    private final WorkerPool pool;
    /** Kt or Vt per (b, h): [B*H][hd][Pp]. */
    private float[] tr = new float[0];
    /** dS per (b, h): [B*H][P][Pp]. */
    private float[] ds = new float[0];

    private final TransposeTask transpose = new TransposeTask();
    private final ForwardTask forward = new ForwardTask();
    private final QueryTask query = new QueryTask();
    private final KeyTask key = new KeyTask();

    SimdAttention(WorkerPool pool) {
        this.pool = pool;
    }

    static int padded(int P) {
        return (P + VL - 1) / VL * VL;
    }

    // ---------------------------------------------------------------- the two calls

    void denseForward(float[] out, int outOff, float[] att, int attOff, float[] q, int qOff,
                      float[] k, int kOff, float[] v, int vOff, int B, int P, int H, int hd) {
        int Pp = padded(P);
        long need = (long) B * H * hd * Pp;
        if (tr.length < need) {
            tr = new float[Math.toIntExact(need)];
        }
        transposeHeads(k, kOff, B, P, H, hd);
        ForwardTask t = forward;
        t.set(att, attOff, q, qOff, k, kOff, v, vOff, B, P, H, hd);
        t.out = out; t.outOff = outOff;
        pool.parallelFor(B * H * t.blocks, t);
        t.clear();
        t.out = null;
    }

    void denseBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                       float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                       float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                       int B, int P, int H, int hd) {
        int Pp = padded(P);
        long needT = (long) B * H * hd * Pp, needS = (long) B * H * P * Pp;
        if (tr.length < needT) {
            tr = new float[Math.toIntExact(needT)];
        }
        if (ds.length < needS) {
            ds = new float[Math.toIntExact(needS)];
        }
        transposeHeads(v, vOff, B, P, H, hd);
        QueryTask tq = query;
        tq.set(att, attOff, q, qOff, k, kOff, v, vOff, B, P, H, hd);
        tq.dq = dq; tq.dqOff = dqOff; tq.dout = dout; tq.doutOff = doutOff; tq.out = out; tq.outOff = outOff;
        pool.parallelFor(B * H * tq.blocks, tq);
        tq.clear();
        tq.dq = tq.dout = tq.out = null;
        KeyTask tk = key;
        tk.set(att, attOff, q, qOff, k, kOff, v, vOff, B, P, H, hd);
        tk.dk = dk; tk.dkOff = dkOff; tk.dv = dv; tk.dvOff = dvOff; tk.dout = dout; tk.doutOff = doutOff;
        pool.parallelFor(B * H * tk.blocks, tk);
        tk.clear();
        tk.dk = tk.dv = tk.dout = null;
    }

    private void transposeHeads(float[] x, int xOff, int B, int P, int H, int hd) {
        TransposeTask t = transpose;
        t.x = x; t.xOff = xOff; t.P = P; t.H = H; t.hd = hd; t.tr = tr;
        pool.parallelFor(B * H, t);
        t.x = null; t.tr = null;
    }

    // ---------------------------------------------------------------- tasks

    /** Unit (b*H + h): tr[(bh hd + d) Pp + j] = x[(b P + j) C + h hd + d], zero for P <= j < Pp. */
    private static final class TransposeTask implements WorkerPool.RangeTask {
        float[] x, tr;
        int xOff, P, H, hd;

        @Override
        public void run(int from, int to) {
            int C = H * hd, Pp = padded(P);
            for (int bh = from; bh < to; bh++) {
                int b = bh / H, h = bh % H, t0 = bh * hd * Pp;
                for (int j = 0; j < P; j++) {
                    int xr = xOff + (b * P + j) * C + h * hd;
                    for (int d = 0; d < hd; d++) {
                        tr[t0 + d * Pp + j] = x[xr + d];
                    }
                }
                for (int d = 0; d < hd; d++) {
                    java.util.Arrays.fill(tr, t0 + d * Pp + P, t0 + (d + 1) * Pp, 0f);
                }
            }
        }
    }

    private abstract class Fields {
        float[] att, q, k, v;
        int attOff, qOff, kOff, vOff, B, P, H, hd, blocks;

        void set(float[] att, int attOff, float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                 int B, int P, int H, int hd) {
            this.att = att; this.attOff = attOff; this.q = q; this.qOff = qOff;
            this.k = k; this.kOff = kOff; this.v = v; this.vOff = vOff;
            this.B = B; this.P = P; this.H = H; this.hd = hd;
            this.blocks = (P + QB - 1) / QB;
        }

        void clear() {
            att = q = k = v = null;
        }

        /** Block of unit u within its (b, h): long and short alternately (0, n-1, 1, n-2, ...). */
        int block(int u) {
            int r = u % blocks;
            return (r & 1) == 0 ? r >> 1 : blocks - 1 - (r >> 1);
        }
    }

    private final class ForwardTask extends Fields implements WorkerPool.RangeTask {
        float[] out;
        int outOff;

        @Override
        public void run(int from, int to) {
            float[] tr = SimdAttention.this.tr;
            int C = H * hd, Pp = padded(P);
            float scale = Attention.scale(hd);
            for (int u = from; u < to; u++) {
                int bh = u / blocks, b = bh / H, h = bh % H;
                int q0 = block(u) * QB, q1 = Math.min(q0 + QB, P);
                int base = b * P * C + h * hd, kt = bh * hd * Pp, a0 = attOff + bh * P * P;
                for (int g = q0; g < q1; g += MR) {
                    int rows = Math.min(MR, q1 - g), last = g + rows - 1;
                    int n = Math.min(padded(last + 1), P);
                    gemm(att, a0 + g * P, P, q, qOff + base + g * C, C, 1, tr, kt, Pp, 0, hd, rows, n, false);
                    for (int i = g; i <= last; i++) {
                        softmaxRow(att, a0 + i * P, i + 1, P, scale);
                    }
                    gemm(out, outOff + base + g * C, C, att, a0 + g * P, P, 1, v, vOff + base, C, 0, last + 1,
                            rows, hd, false);
                }
            }
        }
    }

    private final class QueryTask extends Fields implements WorkerPool.RangeTask {
        float[] dq, dout, out;
        int dqOff, doutOff, outOff;

        @Override
        public void run(int from, int to) {
            float[] tr = SimdAttention.this.tr, ds = SimdAttention.this.ds;
            int C = H * hd, Pp = padded(P);
            float scale = Attention.scale(hd);
            for (int u = from; u < to; u++) {
                int bh = u / blocks, b = bh / H, h = bh % H;
                int q0 = block(u) * QB, q1 = Math.min(q0 + QB, P);
                int base = b * P * C + h * hd, vt = bh * hd * Pp, a0 = attOff + bh * P * P, s0 = bh * P * Pp;
                for (int g = q0; g < q1; g += MR) {
                    int rows = Math.min(MR, q1 - g), last = g + rows - 1;
                    int n = padded(last + 1);
                    gemm(ds, s0 + g * Pp, Pp, dout, doutOff + base + g * C, C, 1, tr, vt, Pp, 0, hd, rows, n, false);
                    for (int i = g; i <= last; i++) {
                        int ir = base + i * C;
                        float dsum = 0f;
                        for (int d = 0; d < hd; d++) {
                            dsum = Math.fma(dout[doutOff + ir + d], out[outOff + ir + d], dsum);
                        }
                        dsRow(ds, s0 + i * Pp, att, a0 + i * P, i + 1, n, dsum, scale);
                    }
                    gemm(dq, dqOff + base + g * C, C, ds, s0 + g * Pp, Pp, 1, k, kOff + base, C, 0, last + 1,
                            rows, hd, true);
                }
            }
        }
    }

    private final class KeyTask extends Fields implements WorkerPool.RangeTask {
        float[] dk, dv, dout;
        int dkOff, dvOff, doutOff;

        @Override
        public void run(int from, int to) {
            float[] ds = SimdAttention.this.ds;
            int C = H * hd, Pp = padded(P);
            for (int u = from; u < to; u++) {
                int bh = u / blocks, b = bh / H, h = bh % H;
                int k0 = block(u) * QB, k1 = Math.min(k0 + QB, P);
                int base = b * P * C + h * hd, a0 = attOff + bh * P * P, s0 = bh * P * Pp;
                for (int g = k0; g < k1; g += MR) {
                    int rows = Math.min(MR, k1 - g);
                    gemm(dv, dvOff + base + g * C, C, att, a0 + g, 1, P, dout, doutOff + base, C, g, P, rows, hd, true);
                    gemm(dk, dkOff + base + g * C, C, ds, s0 + g, 1, Pp, q, qOff + base, C, g, P, rows, hd, true);
                }
            }
        }
    }

    // ---------------------------------------------------------------- softmax and dS rows

    /**
     * Row of n = i+1 raw scores at a[o..o+n): p_j = softmax(scale s_j), then zeros up to P. Max
     * is exact in any order; the sum adds vector lanes in lane order, then the tail.
     */
    static void softmaxRow(float[] a, int o, int n, int P, float scale) {
        // max_j(scale s_j) = scale max_j(s_j) exactly (scale > 0, rounding is monotone)
        int j = 0;
        FloatVector vmax = FloatVector.broadcast(S, -Float.MAX_VALUE);
        for (; j + SL <= n; j += SL) {
            // the fresh load is the receiver, the loop phi the argument (class comment: virtual call)
            vmax = FloatVector.fromArray(S, a, o + j).max(vmax);
        }
        float raw = vmax.reduceLanes(VectorOperators.MAX);
        for (; j < n; j++) {
            raw = Math.max(raw, a[o + j]);
        }
        float max = raw * scale;
        FloatVector vsum = FloatVector.zero(S);
        j = 0;
        for (; j + SL <= n; j += SL) {
            FloatVector e = SimdElementwise.exp(FloatVector.fromArray(S, a, o + j).mul(scale).sub(max));
            e.intoArray(a, o + j);
            vsum = e.add(vsum); // the same IEEE sum as vsum + e; the loop phi is not the receiver
        }
        float sum = 0f;
        for (int l = 0; l < SL; l++) {
            sum += vsum.lane(l);
        }
        for (; j < n; j++) {
            float e = SimdElementwise.expLane(a[o + j] * scale - max);
            a[o + j] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
        // A scalar loop (C2's SuperWord vectorizes it; the same product per element, the same
        // bits), no Vector API: the max and exp loops' Vector API inlining uses up C2's parse-time
        // node budget (NodeCountInliningCutoff; PrintInlining: expLane and Arrays.fill "failed to
        // inline: NodeCountInliningCutoff"), so Vector API calls after them are inlined late, when
        // the loaded vector is still typed as the declared FloatVector, and their virtual calls
        // inline behind type profile guards ("callee changed to ... TypeProfile"). With
        // FloatVector.fromArray(S, a, o + j).mul(inv).intoArray(a, o + j) here (mul(float) adds a
        // guarded this.broadcast(e)), C2 kept the loaded vector's box under -XX:-TieredCompilation
        // -Xbatch: 641,552 bytes per 10 steps of StepAllocationTest's dense model, every JFR sample
        // at this load. A hoisted broadcast and mul(vinv) measured 0 but is still inlined late; a
        // loop without vectors cannot box whatever C2's budget. Keep Vector API code before the
        // exp loop's end in this method.
        for (j = 0; j < n; j++) {
            a[o + j] = a[o + j] * inv;
        }
        java.util.Arrays.fill(a, o + n, o + P, 0f);
    }

    /** ds[o + j] = p_j (dp_j - dsum) scale for j < n (dp already at ds[o + j]), 0 for n <= j < end. */
    static void dsRow(float[] ds, int o, float[] att, int ao, int n, int end, float dsum, float scale) {
        int j = 0;
        for (; j + SL <= n; j += SL) {
            FloatVector p = FloatVector.fromArray(S, att, ao + j);
            p.mul(FloatVector.fromArray(S, ds, o + j).sub(dsum)).mul(scale).intoArray(ds, o + j);
        }
        for (; j < n; j++) {
            ds[o + j] = att[ao + j] * (ds[o + j] - dsum) * scale;
        }
        java.util.Arrays.fill(ds, o + n, o + end, 0f);
    }

    // ---------------------------------------------------------------- micro-kernel

    /**
     * C(r, c) = (acc ? C(r, c) : 0) + sum_{t = t0}^{t1-1} A(r, t) B(t, c) for r < rows (at most MR),
     * c < n, each element one FMA chain in t order. C(r, c) = cm[co + r crs + c],
     * A(r, t) = a[ao + r ars + t acs], B(t, c) = bm[bo + t brs + c].
     */
    static void gemm(float[] cm, int co, int crs, float[] a, int ao, int ars, int acs,
                     float[] bm, int bo, int brs, int t0, int t1, int rows, int n, boolean acc) {
        if (rows == MR) {
            int c = 0;
            for (; c + 4 * VL <= n; c += 4 * VL) {
                tile4x4(cm, co + c, crs, a, ao, ars, acs, bm, bo + c, brs, t0, t1, acc, VL);
            }
            // the rest, fewer than four vectors, in one tile: each B row is loaded once per step
            int rest = n - c;
            if (rest > 3 * VL) {
                tile4x4(cm, co + c, crs, a, ao, ars, acs, bm, bo + c, brs, t0, t1, acc, rest - 3 * VL);
            } else if (rest > 2 * VL) {
                tile4x3(cm, co + c, crs, a, ao, ars, acs, bm, bo + c, brs, t0, t1, acc, rest - 2 * VL);
            } else if (rest > VL) {
                tile4x2(cm, co + c, crs, a, ao, ars, acs, bm, bo + c, brs, t0, t1, acc, rest - VL);
            } else if (rest > 0) {
                tile4x1(cm, co + c, crs, a, ao, ars, acs, bm, bo + c, brs, t0, t1, acc, rest);
            }
        } else {
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < n; c += VL) {
                    tile1x1(cm, co + r * crs + c, a, ao + r * ars, acs, bm, bo + c, brs, t0, t1, acc,
                            Math.min(VL, n - c));
                }
            }
        }
    }

    /** Four rows by 4 vectors of columns; of the last vector only the first {@code last} lanes. */
    private static void tile4x4(float[] cm, int co, int crs, float[] a, int ao, int ars, int acs,
                                float[] bm, int bo, int brs, int t0, int t1, boolean acc, int last) {
        VectorMask<Float> m = V.indexInRange(0, last);
        FloatVector c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33;
        if (acc) {
            c00 = FloatVector.fromArray(V, cm, co);
            c01 = FloatVector.fromArray(V, cm, co + VL);
            c02 = FloatVector.fromArray(V, cm, co + 2 * VL);
            c03 = FloatVector.fromArray(V, cm, co + 3 * VL, m);
            c10 = FloatVector.fromArray(V, cm, co + crs);
            c11 = FloatVector.fromArray(V, cm, co + crs + VL);
            c12 = FloatVector.fromArray(V, cm, co + crs + 2 * VL);
            c13 = FloatVector.fromArray(V, cm, co + crs + 3 * VL, m);
            c20 = FloatVector.fromArray(V, cm, co + 2 * crs);
            c21 = FloatVector.fromArray(V, cm, co + 2 * crs + VL);
            c22 = FloatVector.fromArray(V, cm, co + 2 * crs + 2 * VL);
            c23 = FloatVector.fromArray(V, cm, co + 2 * crs + 3 * VL, m);
            c30 = FloatVector.fromArray(V, cm, co + 3 * crs);
            c31 = FloatVector.fromArray(V, cm, co + 3 * crs + VL);
            c32 = FloatVector.fromArray(V, cm, co + 3 * crs + 2 * VL);
            c33 = FloatVector.fromArray(V, cm, co + 3 * crs + 3 * VL, m);
        } else {
            c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = FloatVector.zero(V);
        }
        for (int t = t0; t < t1; t++) {
            int bi = bo + t * brs, ai = ao + t * acs;
            FloatVector b0 = FloatVector.fromArray(V, bm, bi);
            FloatVector b1 = FloatVector.fromArray(V, bm, bi + VL);
            FloatVector b2 = FloatVector.fromArray(V, bm, bi + 2 * VL);
            FloatVector b3 = FloatVector.fromArray(V, bm, bi + 3 * VL, m);
            FloatVector a0 = FloatVector.broadcast(V, a[ai]);
            c00 = a0.fma(b0, c00);
            c01 = a0.fma(b1, c01);
            c02 = a0.fma(b2, c02);
            c03 = a0.fma(b3, c03);
            FloatVector a1 = FloatVector.broadcast(V, a[ai + ars]);
            c10 = a1.fma(b0, c10);
            c11 = a1.fma(b1, c11);
            c12 = a1.fma(b2, c12);
            c13 = a1.fma(b3, c13);
            FloatVector a2 = FloatVector.broadcast(V, a[ai + 2 * ars]);
            c20 = a2.fma(b0, c20);
            c21 = a2.fma(b1, c21);
            c22 = a2.fma(b2, c22);
            c23 = a2.fma(b3, c23);
            FloatVector a3 = FloatVector.broadcast(V, a[ai + 3 * ars]);
            c30 = a3.fma(b0, c30);
            c31 = a3.fma(b1, c31);
            c32 = a3.fma(b2, c32);
            c33 = a3.fma(b3, c33);
        }
        c00.intoArray(cm, co);
        c01.intoArray(cm, co + VL);
        c02.intoArray(cm, co + 2 * VL);
        c03.intoArray(cm, co + 3 * VL, m);
        c10.intoArray(cm, co + crs);
        c11.intoArray(cm, co + crs + VL);
        c12.intoArray(cm, co + crs + 2 * VL);
        c13.intoArray(cm, co + crs + 3 * VL, m);
        c20.intoArray(cm, co + 2 * crs);
        c21.intoArray(cm, co + 2 * crs + VL);
        c22.intoArray(cm, co + 2 * crs + 2 * VL);
        c23.intoArray(cm, co + 2 * crs + 3 * VL, m);
        c30.intoArray(cm, co + 3 * crs);
        c31.intoArray(cm, co + 3 * crs + VL);
        c32.intoArray(cm, co + 3 * crs + 2 * VL);
        c33.intoArray(cm, co + 3 * crs + 3 * VL, m);
    }

    /** Four rows by 3 vectors of columns; of the last vector only the first {@code last} lanes. */
    private static void tile4x3(float[] cm, int co, int crs, float[] a, int ao, int ars, int acs,
                                float[] bm, int bo, int brs, int t0, int t1, boolean acc, int last) {
        VectorMask<Float> m = V.indexInRange(0, last);
        FloatVector c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32;
        if (acc) {
            c00 = FloatVector.fromArray(V, cm, co);
            c01 = FloatVector.fromArray(V, cm, co + VL);
            c02 = FloatVector.fromArray(V, cm, co + 2 * VL, m);
            c10 = FloatVector.fromArray(V, cm, co + crs);
            c11 = FloatVector.fromArray(V, cm, co + crs + VL);
            c12 = FloatVector.fromArray(V, cm, co + crs + 2 * VL, m);
            c20 = FloatVector.fromArray(V, cm, co + 2 * crs);
            c21 = FloatVector.fromArray(V, cm, co + 2 * crs + VL);
            c22 = FloatVector.fromArray(V, cm, co + 2 * crs + 2 * VL, m);
            c30 = FloatVector.fromArray(V, cm, co + 3 * crs);
            c31 = FloatVector.fromArray(V, cm, co + 3 * crs + VL);
            c32 = FloatVector.fromArray(V, cm, co + 3 * crs + 2 * VL, m);
        } else {
            c00 = c01 = c02 = c10 = c11 = c12 = c20 = c21 = c22 = c30 = c31 = c32 = FloatVector.zero(V);
        }
        for (int t = t0; t < t1; t++) {
            int bi = bo + t * brs, ai = ao + t * acs;
            FloatVector b0 = FloatVector.fromArray(V, bm, bi);
            FloatVector b1 = FloatVector.fromArray(V, bm, bi + VL);
            FloatVector b2 = FloatVector.fromArray(V, bm, bi + 2 * VL, m);
            FloatVector a0 = FloatVector.broadcast(V, a[ai]);
            c00 = a0.fma(b0, c00);
            c01 = a0.fma(b1, c01);
            c02 = a0.fma(b2, c02);
            FloatVector a1 = FloatVector.broadcast(V, a[ai + ars]);
            c10 = a1.fma(b0, c10);
            c11 = a1.fma(b1, c11);
            c12 = a1.fma(b2, c12);
            FloatVector a2 = FloatVector.broadcast(V, a[ai + 2 * ars]);
            c20 = a2.fma(b0, c20);
            c21 = a2.fma(b1, c21);
            c22 = a2.fma(b2, c22);
            FloatVector a3 = FloatVector.broadcast(V, a[ai + 3 * ars]);
            c30 = a3.fma(b0, c30);
            c31 = a3.fma(b1, c31);
            c32 = a3.fma(b2, c32);
        }
        c00.intoArray(cm, co);
        c01.intoArray(cm, co + VL);
        c02.intoArray(cm, co + 2 * VL, m);
        c10.intoArray(cm, co + crs);
        c11.intoArray(cm, co + crs + VL);
        c12.intoArray(cm, co + crs + 2 * VL, m);
        c20.intoArray(cm, co + 2 * crs);
        c21.intoArray(cm, co + 2 * crs + VL);
        c22.intoArray(cm, co + 2 * crs + 2 * VL, m);
        c30.intoArray(cm, co + 3 * crs);
        c31.intoArray(cm, co + 3 * crs + VL);
        c32.intoArray(cm, co + 3 * crs + 2 * VL, m);
    }

    /** Four rows by 2 vectors of columns; of the last vector only the first {@code last} lanes. */
    private static void tile4x2(float[] cm, int co, int crs, float[] a, int ao, int ars, int acs,
                                float[] bm, int bo, int brs, int t0, int t1, boolean acc, int last) {
        VectorMask<Float> m = V.indexInRange(0, last);
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31;
        if (acc) {
            c00 = FloatVector.fromArray(V, cm, co);
            c01 = FloatVector.fromArray(V, cm, co + VL, m);
            c10 = FloatVector.fromArray(V, cm, co + crs);
            c11 = FloatVector.fromArray(V, cm, co + crs + VL, m);
            c20 = FloatVector.fromArray(V, cm, co + 2 * crs);
            c21 = FloatVector.fromArray(V, cm, co + 2 * crs + VL, m);
            c30 = FloatVector.fromArray(V, cm, co + 3 * crs);
            c31 = FloatVector.fromArray(V, cm, co + 3 * crs + VL, m);
        } else {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = FloatVector.zero(V);
        }
        for (int t = t0; t < t1; t++) {
            int bi = bo + t * brs, ai = ao + t * acs;
            FloatVector b0 = FloatVector.fromArray(V, bm, bi);
            FloatVector b1 = FloatVector.fromArray(V, bm, bi + VL, m);
            FloatVector a0 = FloatVector.broadcast(V, a[ai]);
            c00 = a0.fma(b0, c00);
            c01 = a0.fma(b1, c01);
            FloatVector a1 = FloatVector.broadcast(V, a[ai + ars]);
            c10 = a1.fma(b0, c10);
            c11 = a1.fma(b1, c11);
            FloatVector a2 = FloatVector.broadcast(V, a[ai + 2 * ars]);
            c20 = a2.fma(b0, c20);
            c21 = a2.fma(b1, c21);
            FloatVector a3 = FloatVector.broadcast(V, a[ai + 3 * ars]);
            c30 = a3.fma(b0, c30);
            c31 = a3.fma(b1, c31);
        }
        c00.intoArray(cm, co);
        c01.intoArray(cm, co + VL, m);
        c10.intoArray(cm, co + crs);
        c11.intoArray(cm, co + crs + VL, m);
        c20.intoArray(cm, co + 2 * crs);
        c21.intoArray(cm, co + 2 * crs + VL, m);
        c30.intoArray(cm, co + 3 * crs);
        c31.intoArray(cm, co + 3 * crs + VL, m);
    }

    /** Four rows by 1 vector of columns; of the last vector only the first {@code last} lanes. */
    private static void tile4x1(float[] cm, int co, int crs, float[] a, int ao, int ars, int acs,
                                float[] bm, int bo, int brs, int t0, int t1, boolean acc, int last) {
        VectorMask<Float> m = V.indexInRange(0, last);
        FloatVector c00, c10, c20, c30;
        if (acc) {
            c00 = FloatVector.fromArray(V, cm, co, m);
            c10 = FloatVector.fromArray(V, cm, co + crs, m);
            c20 = FloatVector.fromArray(V, cm, co + 2 * crs, m);
            c30 = FloatVector.fromArray(V, cm, co + 3 * crs, m);
        } else {
            c00 = c10 = c20 = c30 = FloatVector.zero(V);
        }
        for (int t = t0; t < t1; t++) {
            int bi = bo + t * brs, ai = ao + t * acs;
            FloatVector b0 = FloatVector.fromArray(V, bm, bi, m);
            FloatVector a0 = FloatVector.broadcast(V, a[ai]);
            c00 = a0.fma(b0, c00);
            FloatVector a1 = FloatVector.broadcast(V, a[ai + ars]);
            c10 = a1.fma(b0, c10);
            FloatVector a2 = FloatVector.broadcast(V, a[ai + 2 * ars]);
            c20 = a2.fma(b0, c20);
            FloatVector a3 = FloatVector.broadcast(V, a[ai + 3 * ars]);
            c30 = a3.fma(b0, c30);
        }
        c00.intoArray(cm, co, m);
        c10.intoArray(cm, co + crs, m);
        c20.intoArray(cm, co + 2 * crs, m);
        c30.intoArray(cm, co + 3 * crs, m);
    }

    private static void tile1x1(float[] cm, int co, float[] a, int ao, int acs,
                                float[] bm, int bo, int brs, int t0, int t1, boolean acc, int cols) {
        VectorMask<Float> m = V.indexInRange(0, cols);
        FloatVector c0 = acc ? FloatVector.fromArray(V, cm, co, m) : FloatVector.zero(V);
        for (int t = t0; t < t1; t++) {
            c0 = FloatVector.broadcast(V, a[ao + t * acs]).fma(FloatVector.fromArray(V, bm, bo + t * brs, m), c0);
        }
        c0.intoArray(cm, co, m);
    }
}
