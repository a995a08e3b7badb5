package io.ionllama.backend.cpu;

import io.ionllama.kernels.Attention;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API path of dense causal attention behind {@link CpuAttention}: the same outputs
 * and gradients as {@link Attention#denseForward}, {@link Attention#denseBackwardQuery} and {@link
 * Attention#denseBackwardKey} (the scalar units it is tested against), computed as blocked
 * products on one register-tiled micro-kernel ({@link SimdMatmul#micro}: MR = 8 rows by NR = 2
 * vectors). Unlike the units it saves no probabilities: each query row's softmax max and 1/sum,
 * and the backward recomputes the rest (reading a P x P matrix back from memory, in columns for dk
 * and dv, cost more than the products it saves).
 *
 * <pre>
 *   pack, per (b, block of QB positions), every head h:
 *     Xh = X[b, :, h] as panels [HDp/NR][P8][NR]      X = q, v (forward), q, k, dout (backward); P8 = P
 *                                                     rounded up to MR,
 *                                                     HDp = hd rounded up to NR; zero padded
 *     Yt = Y[b, :, h]^T as panels [Pn/NR][hd][NR]     Y = k (forward), k and v (backward)
 *     D[b, h, i] = dO_i . O_i                         (backward)
 *   forward, work item (b, h, query block), per group of MR queries g..last:
 *     S[g.., 0..n)  = Qh_g . Kt[:, 0..n)              n = last+1 rounded up to NR, in a slot buffer
 *     E[i, j]       = expNonPositive(scale S[i, j] - m_i) for j <= i, 0 above; m_i = max_j scale S[i, j]
 *                   r_i = 1 / sum_j E[i, j]           m_i and r_i -> att (2 floats a row, 2 P a
 *                                                     head: {@link #state})
 *     out_i         = r_i (E[i, 0..last] . Vh[0..last])   (the normalization after the product:
 *                                                     hd multiplies a row, not i+1)
 *   backward, work item (b, h): the head's blocks of QB queries q0..q1 in order, per block:
 *     S, dP[q0.., 0..n) = Qh . Kt, dOh . Vt            n = q1 rounded up to NR
 *     P[i, j]       = expNonPositive(scale S[i, j] - m_i) r_i, dS[i, j] = P[i, j] (dP[i, j] - D_i) scale
 *                     for j <= i, 0 above        (the forward's E and r bit for bit)
 *     dq_i         += dS[i, 0..i] . Kh[0..i]                      per group of MR queries
 *     dvSum_j      += P[q0..q1, j]^T . dOh[q0..q1],  dkSum_j += dS[q0..q1, j]^T . Qh[q0..q1]   keys j < q1
 *   then dv += dvSum, dk += dkSum  (the sums stay in the slot's buffer for the whole head)
 * </pre>
 *
 * <p>Why this shape: the micro-kernel's 16 accumulators cover the FMA latency of two pipes (8
 * would not: a 4 x 2-vector tile ran at half the speed of the same loop with 8 rows), and its B
 * operand is always a packed, contiguous, zero-padded panel, so no product needs a mask or a
 * strided vector load; head dimensions that are not a multiple of NR (the seed's 24) run as zero
 * columns. A broadcast operand may be strided (rows of the score buffer, of dS, of a packed head).
 *
 * <p>Each element of a product is one FMA chain over the reduction index in order from zero (or
 * through C, for the dk and dv sums, block after block), whichever tile or thread computed it, so
 * results depend on the shape only; dq, dk and dv get a work item's result added once. The softmax
 * uses {@link SimdElementwise#expNonPositive} (a polynomial, not {@code Math.exp}) on whole
 * vectors and sums lanes in a fixed order (no {@code reduceLanes} for sums). Work items write
 * disjoint outputs (forward: its queries' rows; backward: its head), so the results are identical
 * for any thread count; per-slot buffers (one per {@link WorkerPool} slot) hold a work item's
 * scores, products and sums. Forward blocks are handed out long and short alternately so threads
 * get even work; the backward's unit is a head (B x H units: on more threads than heads some
 * wait). Scratch grows only; dispatch allocates nothing.
 *
 * <p>Loop-carried vectors (the softmax's running max and sum) are never the receiver of a
 * Vector API call, always the argument ({@code load.max(vmax)}, {@code e.add(vsum)}; max and IEEE
 * add are commutative, so the bits are the same). C2 types a loop phi with the declared type
 * {@code FloatVector}, so {@code vmax.max(x)} reaches the abstract {@code FloatVector.lanewise} as a
 * virtual call that only a type profile of the JDK's shared call site can devirtualize. Without one
 * (-XX:-TieredCompilation, -Xbatch, or a loaded machine where softmaxRow compiles early) every
 * iteration boxes a vector. A freshly loaded or computed vector has its exact class ({@code
 * Float512Vector}, ...) in C2's types, so its calls always inline.
 *
 * <p>Loaded only when {@link SimdSupport#available()} is true.
 */
final class SimdAttention {

    /**
     * The products' species: the one every Vector API path of this backend uses. A second shape
     * (256-bit products beside 512-bit elementwise code) splits the JDK's type profiles inside
     * {@code FloatVector} between two classes, and C2 then may leave a tile's FMAs on the boxing
     * Java fallback for good ({@code SimdAttentionTest.steadyStateAllocatesNothing} caught it).
     */
    static final VectorSpecies<Float> V = SimdElementwise.S;
    static final int VL = V.length();
    /** Rows of a micro tile ({@link SimdMatmul#micro}). */
    static final int MR = SimdMatmul.MR;
    /** Columns of a micro tile: two vectors. */
    static final int NR = SimdMatmul.NR;
    /** Rows (queries or keys) of a work item; a multiple of MR. */
    static final int QB = 32;

    private final WorkerPool pool;
    /**
     * Packed heads, [B*H][HDp/NR][P8][NR] each (panels of NR dimensions): queries (forward and
     * backward), values (forward), keys and output gradient (backward).
     */
    private float[] qh = new float[0], kh = new float[0], vh = new float[0], doh = new float[0];
    /** Transposed panels, [B*H][Pn/NR][hd][NR] each: keys (forward and backward), values (backward). */
    private float[] kt = new float[0], vt = new float[0];
    /** D_i = dO_i . O_i per (b, h, i), [B*H][P], for the backward (made while packing). */
    private float[] rowD = new float[0];
    /**
     * Per slot: forward, a group's scores [MR][W] and product [MR][HDp]; backward, a block's P
     * [QB][W], a product [MR][HDp], and the head's dk and dv sums [P8][HDp] each.
     */
    private final float[][] slotBuffers;
    /** Per slot, backward: a block's dP, then dS, [QB][W] (an array of its own, so that C2 sees it cannot alias P). */
    private final float[][] slotGrads;

    private final PackTask pack = new PackTask();
    private final ForwardTask forward = new ForwardTask();
    private final BackwardTask backward = new BackwardTask();

    SimdAttention(WorkerPool pool) {
        this.pool = pool;
        this.slotBuffers = new float[pool.threads()][];
        this.slotGrads = new float[pool.threads()][];
    }

    static int roundUp(int v, int q) {
        return (v + q - 1) / q * q;
    }

    /** Row stride of the rows buffers: P rounded up to NR, plus NR of slack for vector tails. */
    static int width(int P) {
        return roundUp(P, NR) + NR;
    }

    /** Whether this path takes the shape: P >= 2 (below, the units' P x P is as small). */
    static boolean supports(int P) {
        return P >= 2;
    }

    /** Floats of att per (sequence, head): each query row's scaled max and 1/sum. */
    static long state(int P) {
        return 2L * P;
    }

    // ---------------------------------------------------------------- the two calls

    /**
     * out, and in att two floats per query row i of each (b, h): its scaled max and 1/sum
     * (att[attOff + (b H + h) 2 P + 2 i], + 1; {@link #state} floats a head, what {@code
     * CpuBackend.denseAttentionState} tells callers to allocate), all the backward needs to
     * recompute the probabilities.
     */
    void denseForward(float[] out, int outOff, float[] att, int attOff, float[] q, int qOff,
                      float[] k, int kOff, float[] v, int vOff, int B, int P, int H, int hd) {
        int heads = B * H, hs = roundUp(P, MR) * roundUp(hd, NR), ps = roundUp(P, NR) * hd;
        qh = grow(qh, heads, hs);
        vh = grow(vh, heads, hs);
        kt = grow(kt, heads, ps);
        growSlots(slotBuffers, MR * width(P) + MR * roundUp(hd, NR));
        PackTask p = pack;
        p.rows(0, q, qOff, qh).rows(1, v, vOff, vh).panels(0, k, kOff, kt);
        runPack(p, B, P, H, hd);
        ForwardTask t = forward;
        t.set(B, P, H, hd);
        t.att = att; t.attOff = attOff; t.out = out; t.outOff = outOff;
        pool.parallelFor(t.units, t);
        t.att = t.out = null;
    }

    /**
     * The gradients, added to dq, dk and dv, from the row statistics the forward left in att; the
     * probabilities are recomputed from q and k (from the forward's exponentials and 1/sum, bit for bit).
     */
    void denseBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                       float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                       float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                       int B, int P, int H, int hd, boolean overwrite) {
        int heads = B * H, P8 = roundUp(P, MR), HDp = roundUp(hd, NR), hs = P8 * HDp, ps = roundUp(P, NR) * hd;
        qh = grow(qh, heads, hs);
        kh = grow(kh, heads, hs);
        doh = grow(doh, heads, hs);
        kt = grow(kt, heads, ps);
        vt = grow(vt, heads, ps);
        growSlots(slotBuffers, QB * width(P) + MR * HDp + 2 * hs);
        growSlots(slotGrads, QB * width(P));
        PackTask p = pack;
        p.rows(0, q, qOff, qh).rows(1, k, kOff, kh).rows(2, dout, doutOff, doh);
        p.panels(0, k, kOff, kt).panels(1, v, vOff, vt);
        rowD = grow(rowD, heads, P);
        p.dout = dout; p.doutOff = doutOff; p.out = out; p.outOff = outOff; p.rowD = rowD;
        runPack(p, B, P, H, hd);
        BackwardTask t = backward;
        t.set(B, P, H, hd);
        t.units = heads;
        t.overwrite = overwrite;
        t.att = att; t.attOff = attOff;
        t.dq = dq; t.dqOff = dqOff; t.dk = dk; t.dkOff = dkOff; t.dv = dv; t.dvOff = dvOff;
        pool.parallelFor(heads, t);
        t.att = t.dq = t.dk = t.dv = null;
    }

    private static float[] grow(float[] a, int heads, int perHead) {
        long need = (long) heads * perHead;
        return a.length < need ? new float[Math.toIntExact(need)] : a;
    }

    private static void growSlots(float[][] buffers, int need) {
        for (int s = 0; s < buffers.length; s++) {
            if (buffers[s] == null || buffers[s].length < need) {
                buffers[s] = new float[need];
            }
        }
    }

    private void runPack(PackTask p, int B, int P, int H, int hd) {
        p.P = P; p.H = H; p.hd = hd;
        p.blocks = (Math.max(roundUp(P, MR), roundUp(P, NR)) + QB - 1) / QB;
        pool.parallelFor(B * p.blocks, p);
        p.clear();
    }

    // ---------------------------------------------------------------- tasks

    /**
     * Unit (b, block of QB positions): the packed heads (rows) and transposed panels of every head
     * of those positions, and (backward) D = dO . O per position and head. By positions, not by
     * head: each source row (all heads, C floats) is read once, front to back, which matters when it
     * comes cold from memory (a head's slice of a row is 4 to 8 lines a page apart).
     */
    private static final class PackTask implements WorkerPool.RangeTask {
        final float[][] rowSrc = new float[3][], rowDst = new float[3][], panelSrc = new float[2][], panelDst = new float[2][];
        final int[] rowOff = new int[3], panelOff = new int[2];
        float[] dout, out, rowD;
        int doutOff, outOff, P, H, hd, blocks;

        PackTask rows(int slot, float[] x, int xOff, float[] dst) {
            rowSrc[slot] = x; rowOff[slot] = xOff; rowDst[slot] = dst;
            return this;
        }

        PackTask panels(int slot, float[] x, int xOff, float[] dst) {
            panelSrc[slot] = x; panelOff[slot] = xOff; panelDst[slot] = dst;
            return this;
        }

        void clear() {
            java.util.Arrays.fill(rowSrc, null);
            java.util.Arrays.fill(rowDst, null);
            java.util.Arrays.fill(panelSrc, null);
            java.util.Arrays.fill(panelDst, null);
            dout = out = rowD = null;
        }

        @Override
        public void run(int from, int to) {
            int C = H * hd, P8 = roundUp(P, MR), HDp = roundUp(hd, NR), Pn = roundUp(P, NR);
            for (int u = from; u < to; u++) {
                int b = u / blocks, t0 = (u % blocks) * QB, t1 = Math.min(t0 + QB, Math.max(P8, Pn));
                for (int t = t0; t < t1; t++) {
                    int row = (b * P + t) * C;
                    for (int h = 0; h < H; h++) {
                        int bh = b * H + h;
                        for (int s = 0; s < rowSrc.length; s++) {
                            if (rowSrc[s] != null && t < P8) {
                                rowOfHead(rowSrc[s], rowOff[s] + row + h * hd, t < P, rowDst[s], bh * P8 * HDp + t * NR, P8, HDp);
                            }
                        }
                        if (rowD != null && t < P) {
                            rowD[bh * P + t] = dot(dout, doutOff + row + h * hd, out, outOff + row + h * hd, hd);
                        }
                    }
                }
                for (int s = 0; s < panelSrc.length; s++) {
                    if (panelSrc[s] != null) {
                        panelsOfBlock(panelSrc[s], panelOff[s], panelDst[s], b, t0, Math.min(t1, Pn), C, Pn);
                    }
                }
            }
        }

        /**
         * Positions t0..t1 of every head of batch row b into the transposed panels xt[bh][t / NR][d][t % NR]
         * (zeros past P): per head and dimension, VL positions' values a row apart to VL consecutive
         * floats. Stores in order, one panel line at a time: transposing inside the loop over
         * positions kept every head's panel lines live at once (more than L1 holds) and cost as much
         * as the rest of the packing. The source rows were just read by the row packing (from memory,
         * front to back), so these strided reads hit the cache.
         */
        private void panelsOfBlock(float[] x, int xOff, float[] xt, int b, int t0, int t1, int C, int Pn) {
            for (int h = 0; h < H; h++) {
                int ps = (b * H + h) * Pn * hd;
                for (int t = t0; t < t1; t += VL) {
                    int o = ps + (t - t % NR) * hd + t % NR, xr = xOff + (b * P + t) * C + h * hd;
                    int valid = Math.max(0, Math.min(VL, P - t));
                    // position by position, its hd values to one lane of the panel's hd lines (a 4 KB
                    // block, in L1): both indices step by a constant, so C2 drops the range checks
                    // (over positions, x's index steps by the variable C and kept one a float)
                    for (int l = 0; l < VL; l++) {
                        int ol = o + l, xl = xr + l * C;
                        if (l < valid) {
                            for (int d = 0; d < hd; d++) {
                                xt[ol + d * NR] = x[xl + d];
                            }
                        } else {
                            for (int d = 0; d < hd; d++) {
                                xt[ol + d * NR] = 0f;
                            }
                        }
                    }
                }
            }
        }

        /** One head's row t into the panels of its packed head (xh[d / NR][t][d % NR], at o + (d / NR) P8 NR): the row, or zeros. */
        private void rowOfHead(float[] x, int xr, boolean real, float[] xh, int o, int P8, int HDp) {
            for (int dp = 0; dp < HDp; dp += NR, o += P8 * NR, xr += NR) {
                int w = real ? Math.max(0, Math.min(NR, hd - dp)) : 0, c = 0;
                for (; c + VL <= w; c += VL) {
                    FloatVector.fromArray(V, x, xr + c).intoArray(xh, o + c);
                }
                for (; c < w; c++) {
                    xh[o + c] = x[xr + c];
                }
                for (; c < NR; c++) {
                    xh[o + c] = 0f;
                }
            }
        }
    }

    private abstract class Fields {
        float[] att;
        int attOff, B, P, H, hd, blocks, units;

        void set(int B, int P, int H, int hd) {
            this.B = B; this.P = P; this.H = H; this.hd = hd;
            this.blocks = (P + QB - 1) / QB;
            this.units = B * H * blocks;
        }

        /** Block of unit u within its (b, h): long and short alternately (0, n-1, 1, n-2, ...). */
        int block(int u) {
            int r = u % blocks;
            return (r & 1) == 0 ? r >> 1 : blocks - 1 - (r >> 1);
        }

        /** The buffer of the pool slot whose range starts at {@code from} (WorkerPool's split). */
        float[] slotBuffer(float[][] buffers, int from) {
            return buffers[(int) (((long) from * buffers.length + units - 1) / units)];
        }
    }

    /** Unit (b, h, query block), per group of MR queries: scores, softmax (statistics to att), out = P . V. */
    private final class ForwardTask extends Fields implements WorkerPool.RangeTask {
        float[] out;
        int outOff;

        @Override
        public void run(int from, int to) {
            float[] kt = SimdAttention.this.kt, qh = SimdAttention.this.qh, vh = SimdAttention.this.vh,
                    buf = slotBuffer(slotBuffers, from);
            int C = H * hd, P8 = roundUp(P, MR), HDp = roundUp(hd, NR), Pn = roundUp(P, NR), W = width(P);
            int ob = MR * W;
            float scale = Attention.scale(hd);
            for (int u = from; u < to; u++) {
                int bh = u / blocks, b = bh / H, h = bh % H;
                int q0 = block(u) * QB, q1 = Math.min(q0 + QB, P);
                int hs = bh * P8 * HDp, ps = bh * Pn * hd, a0 = attOff + bh * 2 * P;
                for (int g = q0; g < q1; g += MR) {
                    int last = Math.min(g + MR, P) - 1, n = roundUp(last + 1, NR);
                    scores(qh, hs, P8, g, kt, ps, hd, buf, 0, W, n / NR);
                    for (int i = g; i <= last; i++) {
                        softmaxRow(buf, (i - g) * W, i + 1, last + 1, scale, att, a0 + 2 * i);
                    }
                    for (int dp = 0; dp < HDp; dp += NR) {
                        SimdMatmul.micro(last + 1, buf, 0, W, 1, vh, hs + dp * P8, buf, ob + dp, HDp, false);
                    }
                    for (int i = g; i <= last; i++) {
                        scaledCopy(buf, ob + (i - g) * HDp, att[a0 + 2 * i + 1], out, outOff + (b * P + i) * C + h * hd, hd);
                    }
                }
            }
        }
    }

    /**
     * Unit (b, h): the whole head, block by block of QB queries. Per block: scores S and dP over
     * the keys up to the block's last query, P from the saved statistics, dS; dq of the block's
     * rows; and the block's share of every earlier key's dv (P^T dO) and dk (dS^T Q), added to
     * sums that stay in the slot's buffer until the head is done (so each key's sum runs over the
     * blocks in order, whichever thread runs the head).
     */
    private final class BackwardTask extends Fields implements WorkerPool.RangeTask {
        float[] dq, dk, dv;
        int dqOff, dkOff, dvOff;
        /** true: dq, dk, dv are written (each element has one contribution: its row's), not added to. */
        boolean overwrite;

        @Override
        public void run(int from, int to) {
            float[] kt = SimdAttention.this.kt, vt = SimdAttention.this.vt, qh = SimdAttention.this.qh,
                    kh = SimdAttention.this.kh, doh = SimdAttention.this.doh, buf = slotBuffer(slotBuffers, from),
                    gb = slotBuffer(slotGrads, from);
            int C = H * hd, P8 = roundUp(P, MR), HDp = roundUp(hd, NR), Pn = roundUp(P, NR), W = width(P);
            int ob = QB * W, kb = ob + MR * HDp, vb = kb + P8 * HDp;
            float scale = Attention.scale(hd);
            for (int bh = from; bh < to; bh++) {
                int b = bh / H, h = bh % H;
                int hs = bh * P8 * HDp, ps = bh * Pn * hd, a0 = attOff + bh * 2 * P;
                java.util.Arrays.fill(buf, kb, vb + P8 * HDp, 0f);
                for (int q0 = 0; q0 < P; q0 += QB) {
                    int q1 = Math.min(q0 + QB, P), n = roundUp(q1, NR), rows = roundUp(q1 - q0, MR);
                    for (int r = 0; r < rows; r += MR) {
                        int g = q0 + r;
                        scores(qh, hs, P8, g, kt, ps, hd, buf, r * W, W, n / NR);
                        scores(doh, hs, P8, g, vt, ps, hd, gb, r * W, W, n / NR);
                    }
                    for (int r = 0; r < rows; r++) {
                        int i = q0 + r, o = r * W;
                        if (i < P) {
                            float dsum = rowD[bh * P + i];
                            int ar = a0 + 2 * i;
                            probabilityRow(buf, o, gb, o, i + 1, n, att[ar], att[ar + 1], dsum, scale);
                        } else {
                            java.util.Arrays.fill(buf, o, o + n, 0f);
                            java.util.Arrays.fill(gb, o, o + n, 0f);
                        }
                    }
                    // dq of the block's rows: dS[g.., 0..last] . K
                    for (int r = 0; r < rows; r += MR) {
                        int g = q0 + r, last = Math.min(g + MR, P) - 1;
                        for (int dp = 0; dp < HDp; dp += NR) {
                            SimdMatmul.micro(last + 1, gb, r * W, W, 1, kh, hs + dp * P8, buf, ob + dp, HDp, false);
                        }
                        for (int i = g; i <= last; i++) {
                            put(overwrite, buf, ob + (i - g) * HDp, dq, dqOff + (b * P + i) * C + h * hd, hd);
                        }
                    }
                    // keys 0..q1: dv += P^T . dO_block, dk += dS^T . Q_block (rows of the block in order)
                    int groups = (q1 + MR - 1) / MR;
                    for (int dp = 0; dp < HDp; dp += NR) {
                        int bo = hs + dp * P8 + q0 * NR;
                        SimdMatmul.micro(rows, buf, 0, 1, W, MR, doh, bo, 0, buf, vb + dp, HDp, MR * HDp, true, groups);
                        SimdMatmul.micro(rows, gb, 0, 1, W, MR, qh, bo, 0, buf, kb + dp, HDp, MR * HDp, true, groups);
                    }
                }
                for (int j = 0; j < P; j++) {
                    int dst = (b * P + j) * C + h * hd;
                    put(overwrite, buf, vb + j * HDp, dv, dvOff + dst, hd);
                    put(overwrite, buf, kb + j * HDp, dk, dkOff + dst, hd);
                }
            }
        }
    }

    /**
     * C[0..MR, p NR..(p+1) NR) = X[g..g+MR) . Yt[:, panel p] for p < panels: rows g.. of a packed
     * head (panels of NR dimensions at xh[hs + dp P8 + t NR]) times consecutive transposed panels
     * (panel p at yt[yo + p NR hd + d NR ..]), the dimensions NR at a time, continuing each FMA
     * chain through C.
     */
    private static void scores(float[] xh, int hs, int P8, int g, float[] yt, int yo, int hd, float[] c, int ci, int ldc,
                               int panels) {
        if (hd <= NR) { // one call for the whole row of tiles (the kernel is a call: C2 does not inline it)
            SimdMatmul.micro(hd, xh, hs + g * NR, NR, 1, 0, yt, yo, NR * hd, c, ci, ldc, NR, false, panels);
            return;
        }
        for (int p = 0; p < panels; p++) {
            for (int dp = 0; dp < hd; dp += NR) {
                SimdMatmul.micro(Math.min(NR, hd - dp), xh, hs + dp * P8 + g * NR, NR, 1, yt, yo + p * NR * hd + dp * NR,
                        c, ci + p * NR, ldc, dp > 0);
            }
        }
    }

    /** sum_d x[xo + d] y[yo + d], d < n: an FMA chain per lane over whole vectors, lanes added in order, then the tail. */
    private static float dot(float[] x, int xo, float[] y, int yo, int n) {
        FloatVector acc = FloatVector.zero(V);
        int d = 0;
        for (; d + VL <= n; d += VL) {
            acc = FloatVector.fromArray(V, x, xo + d).fma(FloatVector.fromArray(V, y, yo + d), acc);
        }
        float sum = 0f;
        for (int l = 0; l < VL; l++) {
            sum += acc.lane(l);
        }
        for (; d < n; d++) {
            sum = Math.fma(x[xo + d], y[yo + d], sum);
        }
        return sum;
    }

    /** y[yo + d] = x[xo + d] s for d < n: whole vectors, then the tail. */
    private static void scaledCopy(float[] x, int xo, float s, float[] y, int yo, int n) {
        int d = 0;
        for (; d + VL <= n; d += VL) {
            FloatVector.fromArray(V, x, xo + d).mul(s).intoArray(y, yo + d);
        }
        for (; d < n; d++) {
            y[yo + d] = x[xo + d] * s;
        }
    }

    /**
     * y[yo + d] = x[xo + d] (overwrite) or y[yo + d] += x[xo + d] for d < n: whole vectors, then the
     * tail. A gradient row written whole needs no clearing pass before and is not read from memory.
     */
    private static void put(boolean overwrite, float[] x, int xo, float[] y, int yo, int n) {
        int d = 0;
        if (overwrite) {
            for (; d + VL <= n; d += VL) {
                FloatVector.fromArray(V, x, xo + d).intoArray(y, yo + d);
            }
            for (; d < n; d++) {
                y[yo + d] = x[xo + d];
            }
            return;
        }
        for (; d + VL <= n; d += VL) {
            FloatVector.fromArray(V, x, xo + d).add(FloatVector.fromArray(V, y, yo + d)).intoArray(y, yo + d);
        }
        for (; d < n; d++) {
            y[yo + d] += x[xo + d];
        }
    }

    // ---------------------------------------------------------------- softmax and dS rows

    /**
     * Row of n = i+1 raw scores at a[o..o+n) becomes its softmax numerators exp(scale s - max),
     * zeros from n to end (the group's last query + 1); the row's scaled max and 1/sum go to
     * st[so], st[so + 1] (the caller scales the product's row by 1/sum: hd multiplies, not n).
     * Max is exact in any order; exp on whole vectors (the buffer row holds n rounded up to VL
     * floats), lanes summed in lane order.
     */
    static void softmaxRow(float[] a, int o, int n, int end, float scale, float[] st, int so) {
        // Lanes n..N (N = n rounded up to VL) get the lowest float: never the max, and the exp
        // clamps them to exp(-87), below half an ulp of a sum that holds exp(0) = 1; the fill at the
        // end zeroes them. One exp call site: a second one (a masked tail) was left out of line by
        // C2's inlining budget and ran at a tenth of the speed.
        int N = roundUp(n, VL);
        java.util.Arrays.fill(a, o + n, o + N, -Float.MAX_VALUE);
        // max_j(scale s_j) = scale max_j(s_j) exactly (scale > 0, rounding is monotone)
        float max = SimdElementwise.maxOfVectors(a, o, N) * scale;
        FloatVector vsum = FloatVector.zero(V);
        for (int j = 0; j < N; j += VL) {
            FloatVector e = SimdElementwise.expNonPositive(FloatVector.fromArray(V, a, o + j).mul(scale).sub(max));
            e.intoArray(a, o + j);
            vsum = e.add(vsum); // the same IEEE sum as vsum + e; the loop phi is not the receiver
        }
        float sum = 0f;
        for (int l = 0; l < VL; l++) {
            sum += vsum.lane(l);
        }
        st[so] = max;
        st[so + 1] = 1.0f / sum;
        java.util.Arrays.fill(a, o + n, o + Math.max(n, end), 0f);
    }

    /**
     * Backward row of query i (n = i+1 keys): p_j = exp(scale s_j - max) inv, the exponential as
     * the forward computed it (same operations, same bits) and ds_j = p_j (dp_j - dsum) scale for j < n, both
     * zero from n to end. The exp on whole vectors; lanes past n (scores of later keys) are overwritten.
     */
    static void probabilityRow(float[] s, int so, float[] dp, int po, int n, int end, float max, float inv,
                               float dsum, float scale) {
        int N = roundUp(n, VL);
        FloatVector vinv = FloatVector.broadcast(V, inv), vdsum = FloatVector.broadcast(V, dsum),
                vscale = FloatVector.broadcast(V, scale);
        for (int j = 0; j < N; j += VL) {
            FloatVector p = SimdElementwise.expNonPositive(FloatVector.fromArray(V, s, so + j).mul(scale).sub(max)).mul(vinv);
            p.intoArray(s, so + j);
            p.mul(FloatVector.fromArray(V, dp, po + j).sub(vdsum)).mul(vscale).intoArray(dp, po + j);
        }
        java.util.Arrays.fill(s, so + n, so + Math.max(N, end), 0f);
        java.util.Arrays.fill(dp, po + n, po + Math.max(N, end), 0f);
    }
}
