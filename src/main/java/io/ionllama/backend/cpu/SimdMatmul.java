package io.ionllama.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API matmul behind {@link CpuBackend}: the same three products as
 * {@link io.ionllama.kernels.Matmul} (the scalar reference it is tested against), as one blocked
 * GEMM with a register-blocked broadcast-FMA micro-kernel.
 *
 * <pre>
 *   one product:  C[M,N] += A[M,K] . B[K,N]        A(m,k) = a[aOff + m*ars + k*acs]
 *                                                 B(k,j) = b[bOff + k*brs + j*bcs]
 *   forward       y  = x . W^T (+ b)   M=rows N=out K=in    A = x (row-major)   B(k,j) = W[j,k]
 *   input grad    dx += dy . W         M=rows N=in  K=out   A = dy              B(k,j) = W[k,j]
 *   weight grad   dW += dy^T . x       M=out  N=in  K=rows  A(m,k) = dy[k,m]    B(k,j) = x[k,j]
 *
 *   blocking (GotoBLAS order):  for jc in N step NC        pack B[pc.., jc..] -> Bp  [N/NR][KC][NR]
 *                                 for pc in K step KC
 *                                   for ic in M step MC    (pack A[ic.., pc..] -> Ap only for partial tiles)
 *                                     for ir, jr: micro-kernel MR x NR tile, kc broadcast-FMA steps
 *                                     (weight grad: for jr, ir: a column of tiles on one B panel)
 * </pre>
 *
 * <p>The micro-kernel ({@link #micro}) keeps an {@code MR x NR} tile of C in {@code MR * NR / VL}
 * vector registers; each k step loads {@code NR/VL} vectors of packed B, broadcasts {@code MR}
 * scalars of A and does one FMA per accumulator (outer-product form). B is packed (contiguous,
 * zero-padded panels); A is read where it lies: MR rows side by side (forward, input grad) or MR
 * consecutive floats of a dy row (weight grad). A forward's first k block starts its tile from the
 * bias or from zero in registers, so C is never cleared in a separate pass. A partial C tile goes
 * through a small tile buffer with packed A, so edges run the very same kernel as full tiles.
 *
 * <p>Tile order: forward and input grad walk a row of tiles (the MR rows of A stay in L1, each tile
 * streams its B panel, kc x NR floats, from L2). The weight grad walks a column (each B panel stays
 * in L1 for the block's MC rows, the A strip streams): its A is a strip of dy rows one step apart,
 * half a cache line a step, which the row order reread from L2 for every tile. A column ran the
 * weight grad 5-10% faster in isolation (4,096 rows, d 256 and 576) and the other two no faster
 * (576-deep forward: a third slower); the bits are the same either way.
 *
 * <p>Determinism: every C element is one FMA chain over k = 0..K-1 in order, starting from its
 * initial value (the K blocks continue the chain through C, which is exact). Which thread, tile or
 * block computed it never changes its bits, so results are identical for any thread count. Work is
 * split into one contiguous range of M per thread (rows for forward and input grad, output rows o
 * for the weight grad), aligned to whole micro tiles. The bias gradient is a column sum in row order.
 * A forward of at most {@link #DOT_ROWS} rows (generation) takes a dot-product path instead, split
 * by output feature: the path depends on the shape only, never on the thread count.
 * Nothing here uses {@code reduceLanes}, whose order may differ between interpreted and compiled code.
 *
 * <p>Scratch: each thread's part owns packing buffers (Ap, Bp, a tile), allocated when a shape first
 * needs them and only ever grown, so once the largest shape has run, calls allocate nothing.
 *
 * <p>Loaded only when {@link SimdSupport#available()} is true.
 */
final class SimdMatmul {

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int VL = S.length();
    /** Rows of a micro tile. */
    static final int MR = 8;
    /** Columns of a micro tile: two vectors. */
    static final int NR = 2 * VL;
    /**
     * Depth of a block (the k range one micro-kernel call covers): the MR rows of A it reads
     * (MR x KC = 8 KiB) stay in L1 while B panels stream from L2.
     */
    static final int KC = 256;
    /** Rows of an A block (a multiple of MR): 128 KiB, in L2 beside the B block. */
    static final int MC = 128;
    /** Columns of a packed B block (a multiple of NR): KC x NC = 512 KiB, half of a Zen 4 L2. */
    static final int NC = 512;
    /** Forward with at most this many rows takes the dot-product path (generation), no packing. */
    static final int DOT_ROWS = 4;

    private final WorkerPool pool;
    private final int parts;
    private final float[][] ap, bp, tile;
    private final GemmTask gemm = new GemmTask();
    private final DotTask dot = new DotTask();

    SimdMatmul(WorkerPool pool) {
        this.pool = pool;
        this.parts = pool.threads();
        this.ap = new float[parts][];
        this.bp = new float[parts][];
        this.tile = new float[parts][MR * NR];
    }

    /** One line for {@link CpuBackend#describe()}. */
    static String describe() {
        return "Vector API matmul, " + VL + " float lanes, " + MR + "x" + NR + " micro-kernel";
    }

    // ---------------------------------------------------------------- the three products

    void forward(float[] y, int yOff, float[] x, int xOff, float[] w, int wOff,
                 float[] b, int bOff, int hasBias, int rows, int in, int out) {
        if (rows <= DOT_ROWS) {
            DotTask t = dot;
            t.y = y; t.yOff = yOff; t.x = x; t.xOff = xOff; t.w = w; t.wOff = wOff;
            t.b = b; t.bOff = bOff; t.hasBias = hasBias; t.rows = rows; t.in = in; t.out = out;
            pool.parallelFor(out, t);
            t.y = t.x = t.w = t.b = null;
            return;
        }
        GemmTask t = gemm;
        t.set(y, yOff, out, x, xOff, in, 1, w, wOff, 1, in, rows, out, in);
        t.init = 1; t.bias = b; t.biasOff = bOff; t.hasBias = hasBias;
        run(t);
    }

    /** dx += dy . W, or with {@code overwrite} dx = dy . W (each tile starts from zero in registers). */
    void backwardInput(float[] dx, int dxOff, float[] dy, int dyOff, float[] w, int wOff,
                       int rows, int in, int out, boolean overwrite) {
        GemmTask t = gemm;
        t.set(dx, dxOff, in, dy, dyOff, out, 1, w, wOff, in, 1, rows, in, out);
        t.init = overwrite ? 1 : 0; t.bias = null; t.hasBias = 0;
        run(t);
    }

    void backwardWeight(float[] dw, int dwOff, float[] db, int dbOff, int hasBias,
                        float[] dy, int dyOff, float[] x, int xOff, int rows, int in, int out) {
        GemmTask t = gemm;
        t.set(dw, dwOff, in, dy, dyOff, 1, out, x, xOff, in, 1, out, in, rows);
        t.init = 0; t.bias = null; t.hasBias = 0;
        t.db = db; t.dbOff = dbOff; t.dbRows = hasBias != 0 ? rows : 0;
        run(t);
        t.db = null; t.dbRows = 0;
    }

    private void run(GemmTask t) {
        t.tiles = (t.m + MR - 1) / MR;
        pool.parallelFor(parts, t);
        t.c = t.a = t.b = t.bias = null;
    }

    // ---------------------------------------------------------------- blocked GEMM

    /** One part per thread: the rows [tiles*s/parts, tiles*(s+1)/parts) of micro tiles. */
    private final class GemmTask implements WorkerPool.RangeTask {
        float[] c, a, b, bias, db;
        int cOff, ldc, aOff, ars, acs, bOff, brs, bcs, m, n, k, tiles;
        /** 1: C is overwritten, starting from the bias (or 0); 0: C accumulates. */
        int init, biasOff, hasBias;
        int dbOff, dbRows;

        void set(float[] c, int cOff, int ldc, float[] a, int aOff, int ars, int acs,
                 float[] b, int bOff, int brs, int bcs, int m, int n, int k) {
            this.c = c; this.cOff = cOff; this.ldc = ldc;
            this.a = a; this.aOff = aOff; this.ars = ars; this.acs = acs;
            this.b = b; this.bOff = bOff; this.brs = brs; this.bcs = bcs;
            this.m = m; this.n = n; this.k = k;
        }

        @Override
        public void run(int from, int to) {
            for (int s = from; s < to; s++) {
                int m0 = Math.min(m, (int) ((long) tiles * s / parts) * MR);
                int m1 = Math.min(m, (int) ((long) tiles * (s + 1) / parts) * MR);
                if (m0 < m1) {
                    part(s, m0, m1);
                }
            }
        }

        private void part(int s, int m0, int m1) {
            if (init != 0 && k == 0) {
                for (int r = m0; r < m1; r++) {
                    int cr = cOff + r * ldc;
                    for (int j = 0; j < n; j++) {
                        c[cr + j] = hasBias != 0 ? bias[biasOff + j] : 0f;
                    }
                }
            }
            if (dbRows > 0) {
                columnSums(db, dbOff, a, aOff, acs, dbRows, m0, m1);
            }
            if (k == 0) {
                return;
            }
            int kcMax = Math.min(KC, k);
            int ncMax = Math.min(NC, roundUp(n, NR));
            int mcMax = Math.min(MC, roundUp(m1 - m0, MR));
            float[] bps = bp[s];
            if (bps == null || bps.length < kcMax * ncMax) {
                bps = bp[s] = new float[kcMax * ncMax];
            }
            float[] aps = ap[s];
            if (aps == null || aps.length < kcMax * mcMax) {
                aps = ap[s] = new float[kcMax * mcMax];
            }
            float[] tl = tile[s];
            // A is read in place by full tiles (its MR broadcasts a step come from MR rows side by
            // side, or for the weight grad from MR consecutive floats of one dy row): packing it was
            // a scalar copy pass as long as a tenth of the products. Only a block with a partial
            // tile packs A, for the tile buffer path.
            for (int jc = 0; jc < n; jc += NC) {
                int nc = Math.min(NC, n - jc);
                for (int pc = 0; pc < k; pc += KC) {
                    int kc = Math.min(KC, k - pc);
                    packB(bps, b, bOff, brs, bcs, pc, kc, jc, nc);
                    for (int ic = m0; ic < m1; ic += MC) {
                        int mc = Math.min(MC, m1 - ic);
                        if (mc % MR != 0 || nc % NR != 0) {
                            packA(aps, a, aOff, ars, acs, ic, mc, pc, kc);
                        }
                        // the first k block of a forward starts C from the bias (or zero) in the tile
                        boolean fresh = init != 0 && pc == 0;
                        if (acs != 1) { // weight grad (never fresh): columns of full tiles, then the edges
                            int fullRows = mc / MR, fullCols = nc / NR;
                            int cr = cOff + ic * ldc + jc;
                            for (int jt = 0; fullRows > 0 && jt < fullCols; jt++) {
                                micro(kc, a, aOff + ic * ars + pc * acs, ars, acs, MR * ars, bps, jt * NR * kc, 0,
                                        c, cr + jt * NR, ldc, MR * ldc, true, fullRows);
                            }
                            for (int ir = 0; ir < mc; ir += MR) {
                                int mr = Math.min(MR, mc - ir);
                                for (int jr = mr == MR ? fullCols * NR : 0; jr < nc; jr += NR) {
                                    edge(kc, aps, ir * kc, bps, jr * kc, c, cr + ir * ldc + jr, ldc, mr,
                                            Math.min(NR, nc - jr), tl, c, -1);
                                }
                            }
                            continue;
                        }
                        for (int ir = 0; ir < mc; ir += MR) {
                            int mr = Math.min(MR, mc - ir);
                            int ai = ir * kc;
                            int cr = cOff + (ic + ir) * ldc + jc;
                            int full = mr == MR ? nc / NR : 0; // a row of full tiles: one kernel call
                            if (full > 0) {
                                if (fresh && hasBias != 0) {
                                    for (int r = 0; r < MR; r++) {
                                        System.arraycopy(bias, biasOff + jc, c, cr + r * ldc, full * NR);
                                    }
                                }
                                micro(kc, a, aOff + (ic + ir) * ars + pc * acs, ars, acs, 0, bps, 0, NR * kc,
                                        c, cr, ldc, NR, !fresh || hasBias != 0, full);
                            }
                            for (int jr = full * NR; jr < nc; jr += NR) {
                                int nr = Math.min(NR, nc - jr);
                                edge(kc, aps, ai, bps, jr * kc, c, cr + jr, ldc, mr, nr, tl,
                                        fresh ? (hasBias != 0 ? bias : null) : c, fresh ? biasOff + jc + jr : -1);
                            }
                        }
                    }
                }
            }
        }
    }

    private static int roundUp(int v, int q) {
        return (v + q - 1) / q * q;
    }

    /** Bp[p][kk][cc] = B(pc+kk, jc+p*NR+cc), zero past column jc+nc. */
    private static void packB(float[] bp, float[] b, int bOff, int brs, int bcs, int pc, int kc, int jc, int nc) {
        if (bcs != 1 && brs != 1) {
            throw new IllegalArgumentException("packB: B needs a unit row or column stride, got " + brs + ", " + bcs);
        }
        for (int p = 0; p < nc; p += NR) {
            int base = p * kc;
            int w = Math.min(NR, nc - p);
            if (bcs == 1 && w == NR) {
                for (int kk = 0; kk < kc; kk++) {
                    int src = bOff + (pc + kk) * brs + jc + p;
                    int dst = base + kk * NR;
                    for (int v = 0; v < NR; v += VL) {
                        FloatVector.fromArray(S, b, src + v).intoArray(bp, dst + v);
                    }
                }
            } else if (bcs == 1) {
                for (int kk = 0; kk < kc; kk++) {
                    int src = bOff + (pc + kk) * brs + jc + p;
                    int dst = base + kk * NR;
                    for (int cc = 0; cc < w; cc++) {
                        bp[dst + cc] = b[src + cc];
                    }
                    for (int cc = w; cc < NR; cc++) {
                        bp[dst + cc] = 0f;
                    }
                }
            } else {
                // Transposed source, the forward's B(k,j) = W[j,k] (brs 1, the only product with
                // bcs != 1): read each W row contiguously, indexed by kk (a constant scale lets C2
                // drop the range checks; kk * brs kept one a float).
                for (int cc = 0; cc < NR; cc++) {
                    if (cc < w) {
                        int src = bOff + pc + (jc + p + cc) * bcs;
                        for (int kk = 0; kk < kc; kk++) {
                            bp[base + kk * NR + cc] = b[src + kk];
                        }
                    } else {
                        for (int kk = 0; kk < kc; kk++) {
                            bp[base + kk * NR + cc] = 0f;
                        }
                    }
                }
            }
        }
    }

    /** Ap[p][kk][rr] = A(ic+p*MR+rr, pc+kk), zero past row ic+mc. */
    private static void packA(float[] ap, float[] a, int aOff, int ars, int acs, int ic, int mc, int pc, int kc) {
        if (acs == 1) {
            for (int p = 0; p < mc; p += MR) {
                int base = p * kc;
                int h = Math.min(MR, mc - p);
                if (h == MR) {
                    // Full panel: write Ap front to back, reading the MR rows side by side.
                    int src = aOff + (ic + p) * ars + pc;
                    for (int kk = 0; kk < kc; kk++) {
                        int dst = base + kk * MR;
                        int s0 = src + kk;
                        ap[dst] = a[s0];
                        ap[dst + 1] = a[s0 + ars];
                        ap[dst + 2] = a[s0 + 2 * ars];
                        ap[dst + 3] = a[s0 + 3 * ars];
                        ap[dst + 4] = a[s0 + 4 * ars];
                        ap[dst + 5] = a[s0 + 5 * ars];
                        ap[dst + 6] = a[s0 + 6 * ars];
                        ap[dst + 7] = a[s0 + 7 * ars];
                    }
                    continue;
                }
                for (int rr = 0; rr < MR; rr++) {
                    if (rr < h) {
                        int src = aOff + (ic + p + rr) * ars + pc;
                        for (int kk = 0; kk < kc; kk++) {
                            ap[base + kk * MR + rr] = a[src + kk];
                        }
                    } else {
                        for (int kk = 0; kk < kc; kk++) {
                            ap[base + kk * MR + rr] = 0f;
                        }
                    }
                }
            }
            return;
        }
        // Weight grad: A(m,k) = dy[k,m], so one k holds the block's mc rows as consecutive floats
        // of a dy row: read each dy row segment once, front to back, dealing MR floats per panel.
        for (int kk = 0; kk < kc; kk++) {
            int src = aOff + (pc + kk) * acs + ic * ars;
            for (int p = 0; p < mc; p += MR) {
                int dst = p * kc + kk * MR;
                int h = Math.min(MR, mc - p);
                for (int rr = 0; rr < h; rr++) {
                    ap[dst + rr] = a[src + (p + rr) * ars];
                }
                for (int rr = h; rr < MR; rr++) {
                    ap[dst + rr] = 0f;
                }
            }
        }
    }

    /**
     * A partial tile: a full MR x NR buffer starting from C ({@code start == c}), from the bias
     * row {@code start[startOff..]} (a forward's first k block) or from zero ({@code start ==
     * null}), the same micro-kernel on packed A, then the mr x nr corner copied back.
     */
    private static void edge(int kc, float[] ap, int ai, float[] bp, int bi, float[] c, int ci, int ldc,
                             int mr, int nr, float[] tl, float[] start, int startOff) {
        for (int r = 0; r < MR; r++) {
            for (int j = 0; j < NR; j++) {
                float v = 0f;
                if (r < mr && j < nr) {
                    v = start == c ? c[ci + r * ldc + j] : start != null ? start[startOff + j] : 0f;
                }
                tl[r * NR + j] = v;
            }
        }
        micro(kc, ap, ai, 1, MR, bp, bi, tl, 0, NR, true);
        for (int r = 0; r < mr; r++) {
            for (int j = 0; j < nr; j++) {
                c[ci + r * ldc + j] = tl[r * NR + j];
            }
        }
    }

    /**
     * C[0..MR, 0..NR) = (acc ? C : 0) + A . B over kc steps, each element one FMA chain in step
     * order: A(r, t) = a[ai + r ars + t acs] (broadcast; one of the two strides is 1: rows in place,
     * acs 1; packed A or a dy strip, ars 1), B(t, 0..NR) = b[bi + t NR ..] (two whole vectors of a packed
     * panel), C(r, c) = c[ci + r ldc + c]. B's row stride is the constant NR on purpose: with a
     * stride argument the same loop ran at 60% of this speed. 8 rows x 2 vectors = 16 accumulators
     * (of the 32 AVX-512 registers: enough to cover two FMA pipes' latency), each step 2 vector
     * loads, 8 broadcasts, 16 FMAs. The one register tile of the backend: {@link SimdAttention}'s
     * products run on it too.
     */
    static void micro(int kc, float[] a, int ai, int ars, int acs, float[] b, int bi,
                      float[] c, int ci, int ldc, boolean acc) {
        micro(kc, a, ai, ars, acs, 0, b, bi, 0, c, ci, ldc, 0, acc, 1);
    }

    /**
     * {@code tiles} micro tiles in one call, tile t at A offset ai + t aStep, B at bi + t bStep and C
     * at ci + t cStep (a row of tiles along a packed B, or a column along A). The kernel is too big
     * for C2 to inline, so each call costs a call; a row of tiles pays it once, which matters for
     * the short products (attention's kc of a head's width).
     */
    static void micro(int kc, float[] a, int ai, int ars, int acs, int aStep, float[] b, int bi, int bStep,
                      float[] c, int ci, int ldc, int cStep, boolean acc, int tiles) {
        if (acs != 1 && ars != 1) {
            throw new IllegalArgumentException("micro-kernel: A needs a unit row or column stride, got " + ars + ", " + acs);
        }
        for (int t = 0; t < tiles; t++, ai += aStep, bi += bStep, ci += cStep) {
            int c0 = ci, c1 = ci + ldc, c2 = c1 + ldc, c3 = c2 + ldc, c4 = c3 + ldc, c5 = c4 + ldc, c6 = c5 + ldc, c7 = c6 + ldc;
            FloatVector a00, a01, a10, a11, a20, a21, a30, a31, a40, a41, a50, a51, a60, a61, a70, a71;
            if (acc) {
                a00 = FloatVector.fromArray(S, c, c0); a01 = FloatVector.fromArray(S, c, c0 + VL);
                a10 = FloatVector.fromArray(S, c, c1); a11 = FloatVector.fromArray(S, c, c1 + VL);
                a20 = FloatVector.fromArray(S, c, c2); a21 = FloatVector.fromArray(S, c, c2 + VL);
                a30 = FloatVector.fromArray(S, c, c3); a31 = FloatVector.fromArray(S, c, c3 + VL);
                a40 = FloatVector.fromArray(S, c, c4); a41 = FloatVector.fromArray(S, c, c4 + VL);
                a50 = FloatVector.fromArray(S, c, c5); a51 = FloatVector.fromArray(S, c, c5 + VL);
                a60 = FloatVector.fromArray(S, c, c6); a61 = FloatVector.fromArray(S, c, c6 + VL);
                a70 = FloatVector.fromArray(S, c, c7); a71 = FloatVector.fromArray(S, c, c7 + VL);
            } else {
                a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = a40 = a41 = a50 = a51 = a60 = a61 = a70 = a71 = FloatVector.zero(S);
            }
            if (acs == 1) {
                // A's rows side by side: every index is a row base plus kk (a constant scale), so C2
                // drops the range checks from the loop; with kk * acs it kept a compare and branch per
                // broadcast and spilled the row offsets (46 instructions a step against 75-90)
                int r0 = ai, r1 = r0 + ars, r2 = r1 + ars, r3 = r2 + ars, r4 = r3 + ars, r5 = r4 + ars, r6 = r5 + ars, r7 = r6 + ars;
                for (int kk = 0; kk < kc; kk++) {
                    int bk = bi + kk * NR;
                    FloatVector b0 = FloatVector.fromArray(S, b, bk);
                    FloatVector b1 = FloatVector.fromArray(S, b, bk + VL);
                    FloatVector v = FloatVector.broadcast(S, a[r0 + kk]);
                    a00 = v.fma(b0, a00); a01 = v.fma(b1, a01);
                    v = FloatVector.broadcast(S, a[r1 + kk]);
                    a10 = v.fma(b0, a10); a11 = v.fma(b1, a11);
                    v = FloatVector.broadcast(S, a[r2 + kk]);
                    a20 = v.fma(b0, a20); a21 = v.fma(b1, a21);
                    v = FloatVector.broadcast(S, a[r3 + kk]);
                    a30 = v.fma(b0, a30); a31 = v.fma(b1, a31);
                    v = FloatVector.broadcast(S, a[r4 + kk]);
                    a40 = v.fma(b0, a40); a41 = v.fma(b1, a41);
                    v = FloatVector.broadcast(S, a[r5 + kk]);
                    a50 = v.fma(b0, a50); a51 = v.fma(b1, a51);
                    v = FloatVector.broadcast(S, a[r6 + kk]);
                    a60 = v.fma(b0, a60); a61 = v.fma(b1, a61);
                    v = FloatVector.broadcast(S, a[r7 + kk]);
                    a70 = v.fma(b0, a70); a71 = v.fma(b1, a71);
                }
            } else {
                // ars == 1 (checked on entry): A's MR rows are MR consecutive floats a step, one index
                // register (the eight range checks on ak + 0..7 fold into two)
                for (int kk = 0; kk < kc; kk++) {
                    int bk = bi + kk * NR, ak = ai + kk * acs;
                    FloatVector b0 = FloatVector.fromArray(S, b, bk);
                    FloatVector b1 = FloatVector.fromArray(S, b, bk + VL);
                    FloatVector v = FloatVector.broadcast(S, a[ak]);
                    a00 = v.fma(b0, a00); a01 = v.fma(b1, a01);
                    v = FloatVector.broadcast(S, a[ak + 1]);
                    a10 = v.fma(b0, a10); a11 = v.fma(b1, a11);
                    v = FloatVector.broadcast(S, a[ak + 2]);
                    a20 = v.fma(b0, a20); a21 = v.fma(b1, a21);
                    v = FloatVector.broadcast(S, a[ak + 3]);
                    a30 = v.fma(b0, a30); a31 = v.fma(b1, a31);
                    v = FloatVector.broadcast(S, a[ak + 4]);
                    a40 = v.fma(b0, a40); a41 = v.fma(b1, a41);
                    v = FloatVector.broadcast(S, a[ak + 5]);
                    a50 = v.fma(b0, a50); a51 = v.fma(b1, a51);
                    v = FloatVector.broadcast(S, a[ak + 6]);
                    a60 = v.fma(b0, a60); a61 = v.fma(b1, a61);
                    v = FloatVector.broadcast(S, a[ak + 7]);
                    a70 = v.fma(b0, a70); a71 = v.fma(b1, a71);
                }
            }
            a00.intoArray(c, c0); a01.intoArray(c, c0 + VL);
            a10.intoArray(c, c1); a11.intoArray(c, c1 + VL);
            a20.intoArray(c, c2); a21.intoArray(c, c2 + VL);
            a30.intoArray(c, c3); a31.intoArray(c, c3 + VL);
            a40.intoArray(c, c4); a41.intoArray(c, c4 + VL);
            a50.intoArray(c, c5); a51.intoArray(c, c5 + VL);
            a60.intoArray(c, c6); a61.intoArray(c, c6 + VL);
            a70.intoArray(c, c7); a71.intoArray(c, c7 + VL);
        }
    }

    /** db[o] += sum_n dy[n,o] for o in [o0, o1), rows summed in order. */
    private static void columnSums(float[] db, int dbOff, float[] dy, int dyOff, int out, int rows, int o0, int o1) {
        int o = o0;
        for (; o + VL <= o1; o += VL) {
            FloatVector acc = FloatVector.zero(S);
            for (int n = 0; n < rows; n++) {
                // the load is the receiver, the loop phi the argument: a phi receiver reaches
                // FloatVector.lanewise as a virtual call C2 may not inline (see SimdAttention)
                acc = FloatVector.fromArray(S, dy, dyOff + n * out + o).add(acc);
            }
            FloatVector.fromArray(S, db, dbOff + o).add(acc).intoArray(db, dbOff + o);
        }
        for (; o < o1; o++) {
            float acc = 0f;
            for (int n = 0; n < rows; n++) {
                acc += dy[dyOff + n * out + o];
            }
            db[dbOff + o] += acc;
        }
    }

    // ---------------------------------------------------------------- few rows: dot products

    /**
     * Forward for a handful of rows (generation): y[n,o] = dot(x[n,:], W[o,:]) + b[o], no packing.
     * Units are output features o. The vector lanes are summed in lane order, then the tail.
     */
    private static final class DotTask implements WorkerPool.RangeTask {
        float[] y, x, w, b;
        int yOff, xOff, wOff, bOff, hasBias, rows, in, out;

        @Override
        public void run(int from, int to) {
            int vecEnd = in - in % VL;
            for (int o = from; o < to; o++) {
                int wr = wOff + o * in;
                for (int r = 0; r < rows; r++) {
                    int xr = xOff + r * in;
                    FloatVector acc = FloatVector.zero(S);
                    for (int i = 0; i < vecEnd; i += VL) {
                        acc = FloatVector.fromArray(S, x, xr + i).fma(FloatVector.fromArray(S, w, wr + i), acc);
                    }
                    float sum = 0f;
                    for (int l = 0; l < VL; l++) {
                        sum += acc.lane(l);
                    }
                    for (int i = vecEnd; i < in; i++) {
                        sum = Math.fma(x[xr + i], w[wr + i], sum);
                    }
                    if (hasBias != 0) {
                        sum += b[bOff + o];
                    }
                    y[yOff + r * out + o] = sum;
                }
            }
        }
    }
}
