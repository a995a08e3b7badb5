package io.ionllama.backend.cpu;

import io.ionllama.backend.Backend;
import io.ionllama.kernels.Matmul;

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
    /** The Vector API matmul, or null when this JVM lacks the module (then the scalar units run). */
    private final SimdMatmul simd;

    public CpuBackend(int threads) {
        this(threads, true);
    }

    /**
     * @param simd false forces the scalar matmul units even where the Vector API is available
     *             (tests and benchmarks compare the two)
     */
    public CpuBackend(int threads, boolean simd) {
        this.pool = new WorkerPool(threads);
        // SimdMatmul is referenced only behind this check, so a JVM without jdk.incubator.vector
        // never loads it.
        this.simd = simd && SimdSupport.available() ? new SimdMatmul(pool) : null;
        if (simd) {
            SimdSupport.noticeOnce();
        }
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
        return "cpu backend, " + pool.threads() + " thread(s), "
                + (simd != null ? SimdMatmul.describe() : "scalar matmul");
    }

    /** Whether the matmul runs on the Vector API path. */
    public boolean simdMatmul() {
        return simd != null;
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
    //
    // With the Vector API, SimdMatmul does the work (blocked GEMM; its packing scratch is grown
    // once per larger shape, then reused, so the steady state allocates nothing); the scalar unit
    // tasks below run otherwise and remain the reference SimdMatmul is tested against.

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
        if (simd != null) {
            simd.forward(y, yOff, x, xOff, w, wOff, b == null ? y : b, bOff, b == null ? 0 : 1, rows, in, out);
            return;
        }
        MatmulForwardTask t = matmulForward;
        t.y = y; t.yOff = yOff; t.x = x; t.xOff = xOff; t.w = w; t.wOff = wOff;
        t.b = b == null ? y : b; t.bOff = bOff; t.hasBias = b == null ? 0 : 1;
        t.in = in; t.out = out;
        pool.parallelFor(rows, t);
    }

    @Override
    public void matmulBackwardInput(float[] dx, int dxOff, float[] dy, int dyOff, float[] w, int wOff,
                                    int rows, int in, int out) {
        if (simd != null) {
            simd.backwardInput(dx, dxOff, dy, dyOff, w, wOff, rows, in, out);
            return;
        }
        MatmulBackwardInputTask t = matmulBackwardInput;
        t.dx = dx; t.dxOff = dxOff; t.dy = dy; t.dyOff = dyOff; t.w = w; t.wOff = wOff;
        t.in = in; t.out = out;
        pool.parallelFor(rows, t);
    }

    @Override
    public void matmulBackwardWeight(float[] dw, int dwOff, float[] db, int dbOff, float[] dy, int dyOff,
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

    // ---------------------------------------------------------------- norms and activations

    // ---------------------------------------------------------------- losses and embeddings

    // ---------------------------------------------------------------- attention and RoPE

    // ---------------------------------------------------------------- IntegralLNN scan
}
