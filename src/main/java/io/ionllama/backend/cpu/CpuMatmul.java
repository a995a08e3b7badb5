package io.ionllama.backend.cpu;

import io.ionllama.kernels.Matmul;

/**
 * The CPU schedule of the matmul (forward, input gradient, weight gradient). The device
 * counterpart is {@code backend/tornado/MatmulGraphs}.
 *
 * <p>With the Vector API, {@link SimdMatmul} does the work (blocked GEMM; its packing scratch is
 * grown once per larger shape, then reused, so the steady state allocates nothing); products
 * below {@link #INLINE_MACS} multiply-adds go to a one-thread copy of it on the caller's thread.
 * Otherwise the scalar unit tasks below run: rows for the forward and the input gradient, output
 * channels for the weight gradient (each sums its rows in order). They remain the reference
 * {@code SimdMatmul} is tested against.
 *
 * <p>Each op keeps one reusable task object: setting its fields and handing it to the pool
 * allocates nothing, which a capturing lambda per call would not guarantee. A backend has one
 * caller at a time (the model's step), so reuse is safe.
 */
final class CpuMatmul {

    private final WorkerPool pool;
    /** The Vector API matmul, or null when this JVM lacks the module (then the scalar units run). */
    private final SimdMatmul simd;
    /**
     * The same matmul on a one-thread pool: small products (generation's one-row layers) run on the
     * caller's thread, where waking a worker would cost as much as the product.
     */
    private final SimdMatmul simdInline;

    CpuMatmul(WorkerPool pool, SimdMatmul simd, SimdMatmul simdInline) {
        this.pool = pool;
        this.simd = simd;
        this.simdInline = simdInline;
    }

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

    /**
     * Products of fewer multiply-adds than this run on the caller's thread (about 10 µs of work at
     * one core's matmul speed, a few dispatches' worth). Every output element is computed the same
     * way on any pool, so this changes no result.
     */
    static final long INLINE_MACS = 1 << 18;

    private final MatmulForwardTask matmulForward = new MatmulForwardTask();
    private final MatmulBackwardInputTask matmulBackwardInput = new MatmulBackwardInputTask();
    private final MatmulBackwardWeightTask matmulBackwardWeight = new MatmulBackwardWeightTask();

    void matmulForward(float[] y, int yOff, float[] x, int xOff, float[] w, int wOff,
                       float[] b, int bOff, int rows, int in, int out) {
        if (simd != null) {
            SimdMatmul mm = (long) rows * in * out < INLINE_MACS ? simdInline : simd;
            mm.forward(y, yOff, x, xOff, w, wOff, b == null ? y : b, bOff, b == null ? 0 : 1, rows, in, out);
            return;
        }
        MatmulForwardTask t = matmulForward;
        t.y = y; t.yOff = yOff; t.x = x; t.xOff = xOff; t.w = w; t.wOff = wOff;
        t.b = b == null ? y : b; t.bOff = bOff; t.hasBias = b == null ? 0 : 1;
        t.in = in; t.out = out;
        pool.parallelFor(rows, t);
    }

    void matmulBackwardInput(float[] dx, int dxOff, float[] dy, int dyOff, float[] w, int wOff,
                             int rows, int in, int out) {
        if (simd != null) {
            simd.backwardInput(dx, dxOff, dy, dyOff, w, wOff, rows, in, out, false);
            return;
        }
        MatmulBackwardInputTask t = matmulBackwardInput;
        t.dx = dx; t.dxOff = dxOff; t.dy = dy; t.dyOff = dyOff; t.w = w; t.wOff = wOff;
        t.in = in; t.out = out;
        pool.parallelFor(rows, t);
    }

    /** dx = dy . W written directly by the Vector API GEMM; false where there is none (the caller clears and accumulates). */
    boolean matmulBackwardInputOverwrite(float[] dx, int dxOff, float[] dy, int dyOff, float[] w, int wOff,
                                         int rows, int in, int out) {
        if (simd == null) {
            return false;
        }
        simd.backwardInput(dx, dxOff, dy, dyOff, w, wOff, rows, in, out, true);
        return true;
    }

    void matmulBackwardWeight(float[] dw, int dwOff, float[] db, int dbOff, float[] dy, int dyOff,
                              float[] x, int xOff, int rows, int in, int out) {
        if (simd != null) {
            simd.backwardWeight(dw, dwOff, db == null ? dw : db, dbOff, db == null ? 0 : 1, dy, dyOff, x, xOff, rows, in, out);
            return;
        }
        MatmulBackwardWeightTask t = matmulBackwardWeight;
        t.dw = dw; t.dwOff = dwOff; t.db = db == null ? dw : db; t.dbOff = dbOff; t.hasBias = db == null ? 0 : 1;
        t.dy = dy; t.dyOff = dyOff; t.x = x; t.xOff = xOff; t.rows = rows; t.in = in; t.out = out;
        pool.parallelFor(out, t);
    }
}
