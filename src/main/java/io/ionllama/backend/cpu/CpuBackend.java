package io.ionllama.backend.cpu;

import io.ionllama.backend.Backend;
import io.ionllama.kernels.Elementwise;
import io.ionllama.kernels.IntegralGate;
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

    // ---------------------------------------------------------------- glue
    //
    // Element ranges split evenly; below GLUE_GRAIN elements the dispatch would cost more than the
    // work, so small ones run on the caller's thread (same result: elementwise ops do not reduce).

    private static final int GLUE_GRAIN = 1 << 14;

    private final class CopyTask implements WorkerPool.RangeTask {
        float[] dst, src;
        int dstOff, srcOff, mode; // 0 copy, 1 accumulate
        float value;

        @Override
        public void run(int from, int to) {
            switch (mode) {
                case 0 -> Elementwise.copyRange(dst, dstOff, src, srcOff, from, to);
                case 1 -> Elementwise.accumulateRange(dst, dstOff, src, srcOff, from, to);
                default -> Elementwise.fillRange(dst, dstOff, value, from, to);
            }
        }
    }

    private final class GateForwardTask implements WorkerPool.RangeTask {
        float[] a, z, lambda;
        int aOff, zOff, lOff, C;

        @Override
        public void run(int from, int to) {
            for (int n = from; n < to; n++) {
                IntegralGate.forwardRow(a, aOff, z, zOff, lambda, lOff, C, n);
            }
        }
    }

    private final class GateBackwardTask implements WorkerPool.RangeTask {
        float[] dz, dLambda, da, a, z, lambda;
        int dzOff, dlOff, daOff, aOff, zOff, lOff, rows, C;
        boolean lambdaPass;

        @Override
        public void run(int from, int to) {
            for (int u = from; u < to; u++) {
                if (lambdaPass) {
                    IntegralGate.backwardLambdaCell(dLambda, dlOff, da, daOff, a, aOff, z, zOff, lambda, lOff, rows, C, u);
                } else {
                    IntegralGate.backwardInputRow(dz, dzOff, da, daOff, a, aOff, z, zOff, lambda, lOff, C, u);
                }
            }
        }
    }

    private final CopyTask copyTask = new CopyTask();
    private final GateForwardTask gateForward = new GateForwardTask();
    private final GateBackwardTask gateBackward = new GateBackwardTask();

    private void elementwise(int mode, float[] dst, int dstOff, float[] src, int srcOff, float value, int n) {
        CopyTask t = copyTask;
        t.mode = mode; t.dst = dst; t.dstOff = dstOff; t.src = src; t.srcOff = srcOff; t.value = value;
        if (n < GLUE_GRAIN) {
            t.run(0, n);
        } else {
            pool.parallelFor(n, t);
        }
    }

    @Override
    public void copy(float[] dst, int dstOff, float[] src, int srcOff, int n) {
        elementwise(0, dst, dstOff, src, srcOff, 0f, n);
    }

    @Override
    public void accumulate(float[] dst, int dstOff, float[] src, int srcOff, int n) {
        elementwise(1, dst, dstOff, src, srcOff, 0f, n);
    }

    @Override
    public void fill(float[] dst, int dstOff, float value, int n) {
        elementwise(2, dst, dstOff, null, 0, value, n);
    }

    @Override
    public void integralGateForward(float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows, int C) {
        GateForwardTask t = gateForward;
        t.a = a; t.aOff = aOff; t.z = z; t.zOff = zOff; t.lambda = lambda; t.lOff = lambdaOff; t.C = C;
        pool.parallelFor(rows, t);
    }

    @Override
    public void integralGateBackward(float[] dz, int dzOff, float[] dLambda, int dLambdaOff, float[] da, int daOff,
                                     float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows, int C) {
        GateBackwardTask t = gateBackward;
        t.dz = dz; t.dzOff = dzOff; t.dLambda = dLambda; t.dlOff = dLambdaOff; t.da = da; t.daOff = daOff;
        t.a = a; t.aOff = aOff; t.z = z; t.zOff = zOff; t.lambda = lambda; t.lOff = lambdaOff; t.rows = rows; t.C = C;
        t.lambdaPass = false;
        pool.parallelFor(rows, t);
        t.lambdaPass = true;
        pool.parallelFor(C, t);
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

    // ---------------------------------------------------------------- IntegralLNN scan
}
