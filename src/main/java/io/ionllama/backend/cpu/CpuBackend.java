package io.ionllama.backend.cpu;

import io.ionllama.backend.Backend;
import io.ionllama.kernels.Attention;
import io.ionllama.kernels.Matmul;
import io.ionllama.kernels.Rope;
import io.ionllama.kernels.Scan;

/**
 * The CPU backend: runs the kernel library's units over a fixed {@link WorkerPool}.
 *
 * <p>Every op splits its units (rows, channels, heads) into contiguous ranges, one per thread.
 * Each output is produced by exactly one unit in a fixed order, so results are bit-identical for
 * any thread count. The only code here that is not a plain unit call is the SIMD matmul, which is
 * tested against the scalar unit.
 */
public final class CpuBackend implements Backend {

    private final WorkerPool pool;

    public CpuBackend(int threads) {
        this.pool = new WorkerPool(threads);
    }

    public int threads() {
        return pool.threads();
    }

    public WorkerPool pool() {
        return pool;
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String describe() {
        return "cpu backend, " + pool.threads() + " thread(s)";
    }

    @Override
    public void close() {
        pool.close();
    }

    // ---------------------------------------------------------------- matmul
    //
    // Each op keeps one reusable task object: setting its fields and handing it to the pool
    // allocates nothing, which a capturing lambda per call would not guarantee. A backend has one
    // caller at a time (the model's step), so reuse is safe.

    private final class MatmulForwardTask implements WorkerPool.RangeTask {
        float[] y, x, w, b;
        int yOff, xOff, wOff, bOff, hasBias, in, out;

        @Override
        public void run(int from, int to) {
            for (int n = from; n < to; n++) {
                Matmul.forwardRow(y, yOff, x, xOff, w, wOff, b, bOff, hasBias, in, out, n);
            }
        }
    }

    private final class MatmulBackwardInputTask implements WorkerPool.RangeTask {
        float[] dx, dy, w;
        int dxOff, dyOff, wOff, in, out;

        @Override
        public void run(int from, int to) {
            for (int n = from; n < to; n++) {
                Matmul.backwardInputRow(dx, dxOff, dy, dyOff, w, wOff, in, out, n);
            }
        }
    }

    private final class MatmulBackwardWeightTask implements WorkerPool.RangeTask {
        float[] dw, db, dy, x;
        int dwOff, dbOff, hasBias, dyOff, xOff, rows, in, out;

        @Override
        public void run(int from, int to) {
            for (int o = from; o < to; o++) {
                Matmul.backwardWeightRow(dw, dwOff, db, dbOff, hasBias, dy, dyOff, x, xOff, rows, in, out, o);
            }
        }
    }

    private final MatmulForwardTask matmulForward = new MatmulForwardTask();
    private final MatmulBackwardInputTask matmulBackwardInput = new MatmulBackwardInputTask();
    private final MatmulBackwardWeightTask matmulBackwardWeight = new MatmulBackwardWeightTask();

    @Override
    public void matmulForward(float[] y, int yOff, float[] x, int xOff, float[] w, int wOff,
                              float[] b, int bOff, int rows, int in, int out) {
        MatmulForwardTask t = matmulForward;
        t.y = y; t.yOff = yOff; t.x = x; t.xOff = xOff; t.w = w; t.wOff = wOff;
        t.b = b == null ? y : b; t.bOff = bOff; t.hasBias = b == null ? 0 : 1;
        t.in = in; t.out = out;
        pool.parallelFor(rows, t);
    }

    @Override
    public void matmulBackwardInput(float[] dx, int dxOff, float[] dy, int dyOff, float[] w, int wOff,
                                    int rows, int in, int out) {
        MatmulBackwardInputTask t = matmulBackwardInput;
        t.dx = dx; t.dxOff = dxOff; t.dy = dy; t.dyOff = dyOff; t.w = w; t.wOff = wOff;
        t.in = in; t.out = out;
        pool.parallelFor(rows, t);
    }

    @Override
    public void matmulBackwardWeight(float[] dw, int dwOff, float[] db, int dbOff, float[] dy, int dyOff,
                                     float[] x, int xOff, int rows, int in, int out) {
        MatmulBackwardWeightTask t = matmulBackwardWeight;
        t.dw = dw; t.dwOff = dwOff; t.db = db == null ? dw : db; t.dbOff = dbOff; t.hasBias = db == null ? 0 : 1;
        t.dy = dy; t.dyOff = dyOff; t.x = x; t.xOff = xOff; t.rows = rows; t.in = in; t.out = out;
        pool.parallelFor(out, t);
    }

    // ---------------------------------------------------------------- norms and activations

    // ---------------------------------------------------------------- losses and embeddings

    // ---------------------------------------------------------------- attention and RoPE
    //
    // RoPE runs one unit per row. Attention runs one unit per (b, i, h) in that order, so a
    // thread's range walks query rows and their heads together; the backward is two passes (dq by
    // query, then dk/dv gathered by key), which write disjoint outputs and need no atomics.

    private final class RopeTask implements WorkerPool.RangeTask {
        float[] y, x;
        int yOff, xOff, P, pos0, heads, headDim;
        float base;
        boolean backward;

        @Override
        public void run(int from, int to) {
            for (int n = from; n < to; n++) {
                if (backward) {
                    Rope.backwardRow(y, yOff, x, xOff, P, pos0, heads, headDim, base, n);
                } else {
                    Rope.forwardRow(y, yOff, x, xOff, P, pos0, heads, headDim, base, n);
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

    @Override
    public void ropeForward(float[] y, int yOff, float[] x, int xOff, int rows, int P, int pos0,
                            int heads, int headDim, float base) {
        RopeTask t = rope;
        t.y = y; t.yOff = yOff; t.x = x; t.xOff = xOff; t.P = P; t.pos0 = pos0;
        t.heads = heads; t.headDim = headDim; t.base = base; t.backward = false;
        pool.parallelFor(rows, t);
    }

    @Override
    public void ropeBackward(float[] dx, int dxOff, float[] dy, int dyOff, int rows, int P, int pos0,
                             int heads, int headDim, float base) {
        RopeTask t = rope;
        t.y = dx; t.yOff = dxOff; t.x = dy; t.xOff = dyOff; t.P = P; t.pos0 = pos0;
        t.heads = heads; t.headDim = headDim; t.base = base; t.backward = true;
        pool.parallelFor(rows, t);
    }

    @Override
    public void attentionDenseForward(float[] out, int outOff, float[] att, int attOff,
                                      float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                      int B, int P, int heads, int headDim) {
        attentionForward(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, B, P, heads, headDim, -1, P);
    }

    @Override
    public void attentionDenseBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                       float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                       float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                                       int B, int P, int heads, int headDim) {
        attentionBackward(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff, v, vOff,
                out, outOff, att, attOff, B, P, heads, headDim, -1, P);
    }

    @Override
    public void attentionDilatedForward(float[] out, int outOff, float[] att, int attOff,
                                        float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                        int B, int P, int heads, int headDim, int window, int slots) {
        checkDilated(P, window, slots);
        attentionForward(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, B, P, heads, headDim, window, slots);
    }

    @Override
    public void attentionDilatedBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
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

    // ---------------------------------------------------------------- IntegralLNN scan
    //
    // scanForward/scanBackward run the sequential recurrence per (b, c), grouped into blocks of
    // SCAN_BLOCK channels stepped together (Scan.forwardBlock/backwardBlock: contiguous rows
    // instead of a stride-C walk per channel, same bits as Scan.forwardChannel). On a CPU with few
    // cores B*C channels already outnumber threads, and the sequential form does the least
    // arithmetic. The chunked methods run the three phases of the associative scan (units (b, chunk, c), then
    // (b, c), then (b, chunk, c)), the form a GPU uses; they are here so it is tested through a
    // backend too.

    private final class ScanTask implements WorkerPool.RangeTask {
        static final int FORWARD = 0, BACKWARD = 1;
        static final int SUMMARY = 2, CARRY = 3, APPLY = 4;
        static final int BACK_SUMMARY = 5, BACK_CARRY = 6, BACK_APPLY = 7;
        float[] h, a, u, da, du, dh, carryA, carryB;
        int op, off, T, C, L, nChunks, blocks;

        @Override
        public void run(int from, int to) {
            for (int unit = from; unit < to; unit++) {
                switch (op) {
                    case FORWARD, BACKWARD -> {
                        int b = unit / blocks, c0 = (unit % blocks) * SCAN_BLOCK, c1 = Math.min(C, c0 + SCAN_BLOCK);
                        if (op == FORWARD) {
                            Scan.forwardBlock(h, a, u, off + b * T * C, T, C, c0, c1);
                        } else {
                            Scan.backwardBlock(da, du, dh, h, a, u, scanCarry, b * C, off + b * T * C, T, C, c0, c1);
                        }
                    }
                    case CARRY -> Scan.chunkCarry(carryA, carryB, unit / C * nChunks * C, nChunks, C, unit % C);
                    case BACK_CARRY -> Scan.chunkBackwardCarry(carryA, carryB, unit / C * nChunks * C, nChunks, C, unit % C);
                    default -> {
                        int b = unit / (nChunks * C), chunk = (unit / C) % nChunks, c = unit % C;
                        int seq = off + b * T * C, carryOff = b * nChunks * C;
                        switch (op) {
                            case SUMMARY -> Scan.chunkSummary(carryA, carryB, a, u, seq, carryOff, T, C, L, chunk, c);
                            case APPLY -> Scan.chunkApply(h, a, u, carryB, seq, carryOff, T, C, L, chunk, c);
                            case BACK_SUMMARY -> Scan.chunkBackwardSummary(carryA, carryB, dh, a, seq, carryOff,
                                    T, C, L, chunk, c);
                            case BACK_APPLY -> Scan.chunkBackwardApply(da, du, dh, h, a, u, carryB, seq, carryOff,
                                    T, C, L, chunk, c);
                            default -> throw new IllegalStateException("scan op " + op);
                        }
                    }
                }
            }
        }

        void set(float[] h, float[] a, float[] u, int off, int T, int C) {
            this.h = h; this.a = a; this.u = u; this.off = off; this.T = T; this.C = C;
        }
    }

    /** Channels one sequential scan unit steps together: a few cache lines per row. */
    private static final int SCAN_BLOCK = 64;

    private final ScanTask scan = new ScanTask();
    /** Per-channel backward carries, [B, C]; grown when a call needs more, never per call. */
    private float[] scanCarry = new float[0];

    @Override
    public void scanForward(float[] h, float[] a, float[] u, int off, int B, int T, int C) {
        ScanTask t = scan;
        t.set(h, a, u, off, T, C);
        t.op = ScanTask.FORWARD;
        t.blocks = (C + SCAN_BLOCK - 1) / SCAN_BLOCK;
        pool.parallelFor(B * t.blocks, t);
    }

    @Override
    public void scanForwardChunked(float[] h, float[] a, float[] u, int off, int B, int T, int C, int chunk,
                                   float[] carryA, float[] carryB) {
        int nChunks = checkChunks(B, T, C, chunk, carryA, carryB);
        ScanTask t = scan;
        t.set(h, a, u, off, T, C);
        t.L = chunk; t.nChunks = nChunks; t.carryA = carryA; t.carryB = carryB;
        t.op = ScanTask.SUMMARY;
        pool.parallelFor(B * nChunks * C, t);
        t.op = ScanTask.CARRY;
        pool.parallelFor(B * C, t);
        t.op = ScanTask.APPLY;
        pool.parallelFor(B * nChunks * C, t);
    }

    @Override
    public void scanBackward(float[] da, float[] du, float[] dh, float[] h, float[] a, float[] u,
                             int off, int B, int T, int C) {
        ScanTask t = scan;
        t.set(h, a, u, off, T, C);
        t.da = da; t.du = du; t.dh = dh;
        t.op = ScanTask.BACKWARD;
        t.blocks = (C + SCAN_BLOCK - 1) / SCAN_BLOCK;
        if (scanCarry.length < B * C) {
            scanCarry = new float[B * C];
        }
        pool.parallelFor(B * t.blocks, t);
    }

    @Override
    public void scanBackwardChunked(float[] da, float[] du, float[] dh, float[] h, float[] a, float[] u,
                                    int off, int B, int T, int C, int chunk, float[] carryA, float[] carryB) {
        int nChunks = checkChunks(B, T, C, chunk, carryA, carryB);
        ScanTask t = scan;
        t.set(h, a, u, off, T, C);
        t.da = da; t.du = du; t.dh = dh;
        t.L = chunk; t.nChunks = nChunks; t.carryA = carryA; t.carryB = carryB;
        t.op = ScanTask.BACK_SUMMARY;
        pool.parallelFor(B * nChunks * C, t);
        t.op = ScanTask.BACK_CARRY;
        pool.parallelFor(B * C, t);
        t.op = ScanTask.BACK_APPLY;
        pool.parallelFor(B * nChunks * C, t);
    }

    private static int checkChunks(int B, int T, int C, int chunk, float[] carryA, float[] carryB) {
        if (chunk < 1) {
            throw new IllegalArgumentException("scan chunk length must be >= 1, got " + chunk);
        }
        int nChunks = Scan.chunkCount(T, chunk);
        long need = (long) B * nChunks * C;
        if (carryA.length < need || carryB.length < need) {
            throw new IllegalArgumentException("scan carries need " + need + " floats, got "
                    + carryA.length + " and " + carryB.length);
        }
        return nChunks;
    }

    @Override
    public void scanStep(float[] h, int hOff, float[] a, int aOff, float[] u, int uOff, int n) {
        // One row of a few hundred multiply-adds: cheaper on the calling thread than a dispatch.
        for (int c = 0; c < n; c++) {
            Scan.step(h, hOff, a, aOff, u, uOff, n, c);
        }
    }
}
