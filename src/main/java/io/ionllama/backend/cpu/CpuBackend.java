package io.ionllama.backend.cpu;

import io.ionllama.backend.Backend;
import io.ionllama.kernels.Activations;
import io.ionllama.kernels.Attention;
import io.ionllama.kernels.Elementwise;
import io.ionllama.kernels.Embeddings;
import io.ionllama.kernels.IntegralGate;
import io.ionllama.kernels.Losses;
import io.ionllama.kernels.Matmul;
import io.ionllama.kernels.Norms;
import io.ionllama.kernels.Optim;
import io.ionllama.kernels.Patching;
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
    /** The Vector API matmul, or null when this JVM lacks the module (then the scalar units run). */
    private final SimdMatmul simd;
    /**
     * The same matmul on a one-thread pool: small products (generation's one-row layers) run on the
     * caller's thread, where waking a worker would cost as much as the product.
     */
    private final SimdMatmul simdInline;
    /**
     * Whether the elementwise ops with transcendentals and the weight-gradient reductions run on
     * {@link SimdElementwise} (the Vector API; tested against the scalar units) or on the units.
     */
    private final boolean simdOps;

    public CpuBackend(int threads) {
        this(threads, true);
    }

    /**
     * @param simd false forces the scalar units (matmul, activations, gate, norm gradients) even
     *             where the Vector API is available (tests and benchmarks compare the two)
     */
    public CpuBackend(int threads, boolean simd) {
        this.pool = new WorkerPool(threads);
        // SimdMatmul is referenced only behind this check, so a JVM without jdk.incubator.vector
        // never loads it.
        this.simd = simd && SimdSupport.available() ? new SimdMatmul(pool) : null;
        this.simdInline = this.simd != null && threads > 1 ? new SimdMatmul(new WorkerPool(1)) : this.simd;
        this.simdOps = this.simd != null;
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

    /** Whether the matmul (and the elementwise ops with exp/log) run on the Vector API path. */
    public boolean simdMatmul() {
        return simd != null;
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
        int dstOff, srcOff, mode; // 0 copy, 1 accumulate, 2 fill, 3 axpby, 4 scale, 5 transpose
        int rows, cols;
        float value, beta;

        @Override
        public void run(int from, int to) {
            switch (mode) {
                case 0 -> Elementwise.copyRange(dst, dstOff, src, srcOff, from, to);
                case 1 -> Elementwise.accumulateRange(dst, dstOff, src, srcOff, from, to);
                case 3 -> Elementwise.axpbyRange(dst, dstOff, value, src, srcOff, beta, from, to);
                case 4 -> Elementwise.scaleRange(dst, dstOff, value, from, to);
                case 5 -> Elementwise.transposeRange(dst, dstOff, src, srcOff, rows, cols, from, to);
                default -> Elementwise.fillRange(dst, dstOff, value, from, to);
            }
        }
    }

    private final class GateForwardTask implements WorkerPool.RangeTask {
        float[] a, z, lambda;
        int aOff, zOff, lOff, C;

        @Override
        public void run(int from, int to) {
            if (simdOps) {
                SimdElementwise.gateExponent(a, aOff, z, zOff, gateRate, C, from, to);
                return;
            }
            for (int n = from; n < to; n++) {
                IntegralGate.forwardRow(a, aOff, z, zOff, lambda, lOff, C, n);
            }
        }
    }

    /** The vector forward's second pass (its own task, so C2 compiles it on its own): a = exp(a). */
    private static final class ExpRowsTask implements WorkerPool.RangeTask {
        float[] a;
        int aOff, C;

        @Override
        public void run(int from, int to) {
            SimdElementwise.expRows(a, aOff, C, from, to);
        }
    }

    private final ExpRowsTask expRows = new ExpRowsTask();

    /** The vector dλ pass, its own task class for the same reason as {@link ExpRowsTask}. */
    private final class GateLambdaTask implements WorkerPool.RangeTask {
        GateBackwardTask f;

        @Override
        public void run(int from, int to) {
            GateBackwardTask t = f;
            SimdElementwise.gateBackwardLambda(t.dLambda, t.dlOff, t.da, t.daOff, t.a, t.aOff, t.z, t.zOff, gateRate,
                    gateAcc, t.rows, t.C, from * GATE_CHANNEL_BLOCK, Math.min(t.C, to * GATE_CHANNEL_BLOCK));
        }
    }

    private final GateLambdaTask gateLambda = new GateLambdaTask();

    /** Units of the vector dλ pass: blocks of this many channels, each summing every row. */
    private static final int GATE_CHANNEL_BLOCK = 32;

    private final class GateBackwardTask implements WorkerPool.RangeTask {
        float[] dz, dLambda, da, a, z, lambda;
        int dzOff, dlOff, daOff, aOff, zOff, lOff, rows, C;
        boolean lambdaPass;

        @Override
        public void run(int from, int to) {
            if (simdOps) {
                SimdElementwise.gateBackwardInput(dz, dzOff, da, daOff, a, aOff, z, zOff, gateRate, C, from, to);
                return;
            }
            for (int u = from; u < to; u++) {
                if (lambdaPass) {
                    IntegralGate.backwardLambdaCell(dLambda, dlOff, da, daOff, a, aOff, z, zOff, lambda, lOff, rows, C, u);
                } else {
                    IntegralGate.backwardInputRow(dz, dzOff, da, daOff, a, aOff, z, zOff, lambda, lOff, C, u);
                }
            }
        }
    }

    /** rate[c] = exp(λ[c]) for the vector gate, and its dλ running sums; grown, never per call. */
    private float[] gateRate = new float[0], gateAcc = new float[0];

    private void gateRates(float[] lambda, int lOff, int C) {
        if (gateRate.length < C) {
            gateRate = new float[C];
            gateAcc = new float[C];
        }
        for (int c = 0; c < C; c++) {
            gateRate[c] = (float) Math.exp(lambda[lOff + c]); // as IntegralGate's units compute it
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
    public void axpby(float[] y, int yOff, float alpha, float[] x, int xOff, float beta, int n) {
        copyTask.beta = beta;
        elementwise(3, y, yOff, x, xOff, alpha, n);
    }

    @Override
    public void scale(float[] y, int yOff, float alpha, int n) {
        elementwise(4, y, yOff, null, 0, alpha, n);
    }

    @Override
    public void transpose(float[] dst, int dstOff, float[] src, int srcOff, int rows, int cols) {
        copyTask.rows = rows;
        copyTask.cols = cols;
        elementwise(5, dst, dstOff, src, srcOff, 0f, rows * cols);
    }

    @Override
    public void integralGateForward(float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows, int C) {
        GateForwardTask t = gateForward;
        t.a = a; t.aOff = aOff; t.z = z; t.zOff = zOff; t.lambda = lambda; t.lOff = lambdaOff; t.C = C;
        if (simdOps) {
            gateRates(lambda, lambdaOff, C);
            pool.parallelFor(rows, t);
            ExpRowsTask e = expRows;
            e.a = a; e.aOff = aOff; e.C = C;
            pool.parallelFor(rows, e);
            return;
        }
        pool.parallelFor(rows, t);
    }

    @Override
    public void integralGateBackward(float[] dz, int dzOff, float[] dLambda, int dLambdaOff, float[] da, int daOff,
                                     float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows, int C) {
        GateBackwardTask t = gateBackward;
        t.dz = dz; t.dzOff = dzOff; t.dLambda = dLambda; t.dlOff = dLambdaOff; t.da = da; t.daOff = daOff;
        t.a = a; t.aOff = aOff; t.z = z; t.zOff = zOff; t.lambda = lambda; t.lOff = lambdaOff; t.rows = rows; t.C = C;
        t.lambdaPass = false;
        if (simdOps) {
            gateRates(lambda, lambdaOff, C);
            pool.parallelFor(rows, t);
            gateLambda.f = t;
            pool.parallelFor((C + GATE_CHANNEL_BLOCK - 1) / GATE_CHANNEL_BLOCK, gateLambda);
            return;
        }
        pool.parallelFor(rows, t);
        t.lambdaPass = true;
        pool.parallelFor(C, t);
    }

    // ---------------------------------------------------------------- optimizer

    private final class AdamwTask implements WorkerPool.RangeTask {
        float[] p, g, m, v;
        int off;
        float lr, beta1, beta2, eps, wd, bc1, bc2, gradScale;

        @Override
        public void run(int from, int to) {
            Optim.adamwRange(p, g, m, v, off, lr, beta1, beta2, eps, wd, bc1, bc2, gradScale, from, to);
        }
    }

    private final class SumSquaresTask implements WorkerPool.RangeTask {
        double[] partial = new double[0];
        float[] g;
        int off, n;

        @Override
        public void run(int from, int to) {
            for (int b = from; b < to; b++) {
                Optim.sumSquaresBlock(partial, g, off, n, b);
            }
        }
    }

    private final AdamwTask adamwTask = new AdamwTask();
    private final SumSquaresTask sumSquaresTask = new SumSquaresTask();

    @Override
    public void adamw(float[] p, float[] g, float[] m, float[] v, int off, int n, float lr, float beta1, float beta2,
                      float eps, float weightDecay, float bc1, float bc2, float gradScale) {
        AdamwTask t = adamwTask;
        t.p = p; t.g = g; t.m = m; t.v = v; t.off = off; t.lr = lr; t.beta1 = beta1; t.beta2 = beta2; t.eps = eps;
        t.wd = weightDecay; t.bc1 = bc1; t.bc2 = bc2; t.gradScale = gradScale;
        if (n < GLUE_GRAIN) {
            t.run(0, n);
        } else {
            pool.parallelFor(n, t);
        }
    }

    @Override
    public double sumSquares(float[] g, int off, int n) {
        SumSquaresTask t = sumSquaresTask;
        int blocks = (n + Optim.BLOCK - 1) / Optim.BLOCK;
        if (t.partial.length < blocks) {
            t.partial = new double[blocks];
        }
        t.g = g; t.off = off; t.n = n;
        if (blocks <= 2) {
            t.run(0, blocks);
        } else {
            pool.parallelFor(blocks, t);
        }
        double s = 0;
        for (int b = 0; b < blocks; b++) {
            s += t.partial[b];
        }
        return s;
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

    /**
     * Products of fewer multiply-adds than this run on the caller's thread (about 10 µs of work at
     * one core's matmul speed, a few dispatches' worth). Every output element is computed the same
     * way on any pool, so this changes no result.
     */
    static final long INLINE_MACS = 1 << 18;

    private final MatmulForwardTask matmulForward = new MatmulForwardTask();
    private final MatmulBackwardInputTask matmulBackwardInput = new MatmulBackwardInputTask();
    private final MatmulBackwardWeightTask matmulBackwardWeight = new MatmulBackwardWeightTask();

    @Override
    public void matmulForward(float[] y, int yOff, float[] x, int xOff, float[] w, int wOff,
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
    //
    // Row ops split rows, weight/bias gradients split channels (each channel sums its rows in
    // order), elementwise ops split element ranges. Elementwise ops below SERIAL_ELEMENTS run on
    // the caller's thread: waking the pool costs more than the work, and elements are
    // independent, so the result is the same either way.

    static final int SERIAL_ELEMENTS = 4096;

    private void forElements(int n, WorkerPool.RangeTask t) {
        if (n < SERIAL_ELEMENTS) {
            if (n > 0) {
                t.run(0, n);
            }
        } else {
            pool.parallelFor(n, t);
        }
    }

    private final class RmsNormForwardTask implements WorkerPool.RangeTask {
        float[] out, rstd, x, w;
        int outOff, rstdOff, xOff, wOff, C;
        float eps;

        @Override
        public void run(int from, int to) {
            for (int n = from; n < to; n++) {
                Norms.rmsNormForwardRow(out, outOff, rstd, rstdOff, x, xOff, w, wOff, C, eps, n);
            }
        }
    }

    private final class RmsNormBackwardInputTask implements WorkerPool.RangeTask {
        float[] dx, dy, x, w, rstd;
        int dxOff, dyOff, xOff, wOff, rstdOff, C;

        @Override
        public void run(int from, int to) {
            for (int n = from; n < to; n++) {
                Norms.rmsNormBackwardInputRow(dx, dxOff, dy, dyOff, x, xOff, w, wOff, rstd, rstdOff, C, n);
            }
        }
    }

    /**
     * Units of the vector RMSNorm dw: blocks of this many channels, each walking every row (one
     * contiguous stretch per row instead of a stride-C column per channel).
     */
    private static final int NORM_CHANNEL_BLOCK = 32;
    /** Running sums of the vector RMSNorm dw, one per channel; grown, never per call. */
    private float[] normAcc = new float[0];

    private final class RmsNormBackwardWeightTask implements WorkerPool.RangeTask {
        float[] dw, dy, x, rstd;
        int dwOff, dyOff, xOff, rstdOff, rows, C;

        @Override
        public void run(int from, int to) {
            if (simdOps) {
                SimdElementwise.rmsNormBackwardWeight(dw, dwOff, dy, dyOff, x, xOff, rstd, rstdOff, normAcc, rows, C,
                        from * NORM_CHANNEL_BLOCK, Math.min(C, to * NORM_CHANNEL_BLOCK));
                return;
            }
            for (int c = from; c < to; c++) {
                Norms.rmsNormBackwardWeightCell(dw, dwOff, dy, dyOff, x, xOff, rstd, rstdOff, rows, C, c);
            }
        }
    }

    private final class LayerNormForwardTask implements WorkerPool.RangeTask {
        float[] out, mean, rstd, x, w, b;
        int outOff, meanOff, rstdOff, xOff, wOff, bOff, hasBias, C;
        float eps;

        @Override
        public void run(int from, int to) {
            for (int n = from; n < to; n++) {
                Norms.layerNormForwardRow(out, outOff, mean, meanOff, rstd, rstdOff, x, xOff, w, wOff,
                        b, bOff, hasBias, C, eps, n);
            }
        }
    }

    private final class LayerNormBackwardInputTask implements WorkerPool.RangeTask {
        float[] dx, dy, x, w, mean, rstd;
        int dxOff, dyOff, xOff, wOff, meanOff, rstdOff, C;

        @Override
        public void run(int from, int to) {
            for (int n = from; n < to; n++) {
                Norms.layerNormBackwardInputRow(dx, dxOff, dy, dyOff, x, xOff, w, wOff, mean, meanOff,
                        rstd, rstdOff, C, n);
            }
        }
    }

    private final class LayerNormBackwardParamsTask implements WorkerPool.RangeTask {
        float[] dw, db, dy, x, mean, rstd;
        int dwOff, hasWeight, dbOff, hasBias, dyOff, xOff, meanOff, rstdOff, rows, C;

        @Override
        public void run(int from, int to) {
            for (int c = from; c < to; c++) {
                if (hasWeight != 0) {
                    Norms.layerNormBackwardWeightCell(dw, dwOff, dy, dyOff, x, xOff, mean, meanOff,
                            rstd, rstdOff, rows, C, c);
                }
                if (hasBias != 0) {
                    Norms.layerNormBackwardBiasCell(db, dbOff, dy, dyOff, rows, C, c);
                }
            }
        }
    }

    /** The four unary activations share one task shape; {@code op} picks the unit. */
    private static final int ACT_SILU = 0, ACT_GELU = 1, ACT_SOFTPLUS = 2;

    private static final class UnaryForwardTask implements WorkerPool.RangeTask {
        float[] out, x;
        int outOff, xOff, op;

        @Override
        public void run(int from, int to) {
            switch (op) {
                case ACT_SILU -> Activations.siluForwardRange(out, outOff, x, xOff, from, to);
                case ACT_GELU -> Activations.geluForwardRange(out, outOff, x, xOff, from, to);
                default -> Activations.softplusForwardRange(out, outOff, x, xOff, from, to);
            }
        }
    }

    private static final class UnaryBackwardTask implements WorkerPool.RangeTask {
        float[] dx, dy, x;
        int dxOff, dyOff, xOff, op;

        @Override
        public void run(int from, int to) {
            switch (op) {
                case ACT_SILU -> Activations.siluBackwardRange(dx, dxOff, dy, dyOff, x, xOff, from, to);
                case ACT_GELU -> Activations.geluBackwardRange(dx, dxOff, dy, dyOff, x, xOff, from, to);
                default -> Activations.softplusBackwardRange(dx, dxOff, dy, dyOff, x, xOff, from, to);
            }
        }
    }

    /**
     * The vector activations, one task class per op: C2 compiles each task's {@code run} on its
     * own, and two vector exp chains in one compilation exceed its inlining budget (see
     * {@link SimdElementwise}).
     */
    private abstract static class VecUnaryTask implements WorkerPool.RangeTask {
        float[] out, x, dy;
        int outOff, xOff, dyOff;
    }

    private static final class VecSiluForwardTask extends VecUnaryTask {
        @Override
        public void run(int from, int to) {
            SimdElementwise.siluForward(out, outOff, x, xOff, from, to);
        }
    }

    private static final class VecSiluBackwardTask extends VecUnaryTask {
        @Override
        public void run(int from, int to) {
            SimdElementwise.siluBackward(out, outOff, dy, dyOff, x, xOff, from, to);
        }
    }

    private static final class VecSoftplusForwardTask extends VecUnaryTask {
        @Override
        public void run(int from, int to) {
            SimdElementwise.softplusForward(out, outOff, x, xOff, from, to);
        }
    }

    private static final class VecSoftplusBackwardTask extends VecUnaryTask {
        @Override
        public void run(int from, int to) {
            SimdElementwise.softplusBackward(out, outOff, dy, dyOff, x, xOff, from, to);
        }
    }

    private final VecUnaryTask vecSiluForward = new VecSiluForwardTask(), vecSiluBackward = new VecSiluBackwardTask();
    private final VecUnaryTask vecSoftplusForward = new VecSoftplusForwardTask();
    private final VecUnaryTask vecSoftplusBackward = new VecSoftplusBackwardTask();

    /** The vector form of an activation, or null where it runs on the scalar units (GELU; no Vector API). */
    private VecUnaryTask vecUnary(int op, boolean backward) {
        if (!simdOps || op == ACT_GELU) {
            return null;
        }
        if (op == ACT_SILU) {
            return backward ? vecSiluBackward : vecSiluForward;
        }
        return backward ? vecSoftplusBackward : vecSoftplusForward;
    }

    private static final class SwigluForwardTask implements WorkerPool.RangeTask {
        float[] out, a, b;
        int outOff, aOff, bOff;
        boolean vec;

        @Override
        public void run(int from, int to) {
            if (vec) {
                SimdElementwise.swigluForward(out, outOff, a, aOff, b, bOff, from, to);
            } else {
                Activations.swigluForwardRange(out, outOff, a, aOff, b, bOff, from, to);
            }
        }
    }

    private static final class SwigluBackwardTask implements WorkerPool.RangeTask {
        float[] da, db, dy, a, b;
        int daOff, dbOff, dyOff, aOff, bOff;
        boolean vec;

        @Override
        public void run(int from, int to) {
            if (vec) {
                SimdElementwise.swigluBackward(da, daOff, db, dbOff, dy, dyOff, a, aOff, b, bOff, from, to);
            } else {
                Activations.swigluBackwardRange(da, daOff, db, dbOff, dy, dyOff, a, aOff, b, bOff, from, to);
            }
        }
    }

    private final RmsNormForwardTask rmsNormForward = new RmsNormForwardTask();
    private final RmsNormBackwardInputTask rmsNormBackwardInput = new RmsNormBackwardInputTask();
    private final RmsNormBackwardWeightTask rmsNormBackwardWeight = new RmsNormBackwardWeightTask();
    private final LayerNormForwardTask layerNormForward = new LayerNormForwardTask();
    private final LayerNormBackwardInputTask layerNormBackwardInput = new LayerNormBackwardInputTask();
    private final LayerNormBackwardParamsTask layerNormBackwardParams = new LayerNormBackwardParamsTask();
    private final UnaryForwardTask unaryForward = new UnaryForwardTask();
    private final UnaryBackwardTask unaryBackward = new UnaryBackwardTask();
    private final SwigluForwardTask swigluForward = new SwigluForwardTask();
    private final SwigluBackwardTask swigluBackward = new SwigluBackwardTask();

    @Override
    public void rmsNormForward(float[] out, int outOff, float[] rstd, int rstdOff, float[] x, int xOff,
                               float[] w, int wOff, int rows, int C, float eps) {
        RmsNormForwardTask t = rmsNormForward;
        t.out = out; t.outOff = outOff; t.rstd = rstd; t.rstdOff = rstdOff; t.x = x; t.xOff = xOff;
        t.w = w; t.wOff = wOff; t.C = C; t.eps = eps;
        pool.parallelFor(rows, t);
    }

    @Override
    public void rmsNormBackward(float[] dx, int dxOff, float[] dw, int dwOff, float[] dy, int dyOff,
                                float[] x, int xOff, float[] w, int wOff, float[] rstd, int rstdOff,
                                int rows, int C) {
        RmsNormBackwardInputTask t = rmsNormBackwardInput;
        t.dx = dx; t.dxOff = dxOff; t.dy = dy; t.dyOff = dyOff; t.x = x; t.xOff = xOff; t.w = w; t.wOff = wOff;
        t.rstd = rstd; t.rstdOff = rstdOff; t.C = C;
        pool.parallelFor(rows, t);
        if (dw != null) {
            RmsNormBackwardWeightTask u = rmsNormBackwardWeight;
            u.dw = dw; u.dwOff = dwOff; u.dy = dy; u.dyOff = dyOff; u.x = x; u.xOff = xOff;
            u.rstd = rstd; u.rstdOff = rstdOff; u.rows = rows; u.C = C;
            if (simdOps) {
                if (normAcc.length < C) {
                    normAcc = new float[C];
                }
                pool.parallelFor((C + NORM_CHANNEL_BLOCK - 1) / NORM_CHANNEL_BLOCK, u);
            } else {
                pool.parallelFor(C, u);
            }
        }
    }

    @Override
    public void layerNormForward(float[] out, int outOff, float[] mean, int meanOff, float[] rstd, int rstdOff,
                                 float[] x, int xOff, float[] w, int wOff, float[] b, int bOff,
                                 int rows, int C, float eps) {
        LayerNormForwardTask t = layerNormForward;
        t.out = out; t.outOff = outOff; t.mean = mean; t.meanOff = meanOff; t.rstd = rstd; t.rstdOff = rstdOff;
        t.x = x; t.xOff = xOff; t.w = w; t.wOff = wOff;
        t.b = b == null ? w : b; t.bOff = bOff; t.hasBias = b == null ? 0 : 1;
        t.C = C; t.eps = eps;
        pool.parallelFor(rows, t);
    }

    @Override
    public void layerNormBackward(float[] dx, int dxOff, float[] dw, int dwOff, float[] db, int dbOff,
                                  float[] dy, int dyOff, float[] x, int xOff, float[] w, int wOff,
                                  float[] mean, int meanOff, float[] rstd, int rstdOff, int rows, int C) {
        LayerNormBackwardInputTask t = layerNormBackwardInput;
        t.dx = dx; t.dxOff = dxOff; t.dy = dy; t.dyOff = dyOff; t.x = x; t.xOff = xOff; t.w = w; t.wOff = wOff;
        t.mean = mean; t.meanOff = meanOff; t.rstd = rstd; t.rstdOff = rstdOff; t.C = C;
        pool.parallelFor(rows, t);
        if (dw != null || db != null) {
            LayerNormBackwardParamsTask u = layerNormBackwardParams;
            u.dw = dw == null ? dy : dw; u.dwOff = dwOff; u.hasWeight = dw == null ? 0 : 1;
            u.db = db == null ? dy : db; u.dbOff = dbOff; u.hasBias = db == null ? 0 : 1;
            u.dy = dy; u.dyOff = dyOff; u.x = x; u.xOff = xOff; u.mean = mean; u.meanOff = meanOff;
            u.rstd = rstd; u.rstdOff = rstdOff; u.rows = rows; u.C = C;
            pool.parallelFor(C, u);
        }
    }

    private void unaryForward(int op, float[] out, int outOff, float[] x, int xOff, int n) {
        VecUnaryTask v = vecUnary(op, false);
        if (v != null) {
            v.out = out; v.outOff = outOff; v.x = x; v.xOff = xOff;
            forElements(n, v);
            return;
        }
        UnaryForwardTask t = unaryForward;
        t.op = op; t.out = out; t.outOff = outOff; t.x = x; t.xOff = xOff;
        forElements(n, t);
    }

    private void unaryBackward(int op, float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff, int n) {
        VecUnaryTask v = vecUnary(op, true);
        if (v != null) {
            v.out = dx; v.outOff = dxOff; v.dy = dy; v.dyOff = dyOff; v.x = x; v.xOff = xOff;
            forElements(n, v);
            return;
        }
        UnaryBackwardTask t = unaryBackward;
        t.op = op; t.dx = dx; t.dxOff = dxOff; t.dy = dy; t.dyOff = dyOff; t.x = x; t.xOff = xOff;
        forElements(n, t);
    }

    @Override
    public void siluForward(float[] out, int outOff, float[] x, int xOff, int n) {
        unaryForward(ACT_SILU, out, outOff, x, xOff, n);
    }

    @Override
    public void siluBackward(float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff, int n) {
        unaryBackward(ACT_SILU, dx, dxOff, dy, dyOff, x, xOff, n);
    }

    @Override
    public void geluForward(float[] out, int outOff, float[] x, int xOff, int n) {
        unaryForward(ACT_GELU, out, outOff, x, xOff, n);
    }

    @Override
    public void geluBackward(float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff, int n) {
        unaryBackward(ACT_GELU, dx, dxOff, dy, dyOff, x, xOff, n);
    }

    @Override
    public void softplusForward(float[] out, int outOff, float[] x, int xOff, int n) {
        unaryForward(ACT_SOFTPLUS, out, outOff, x, xOff, n);
    }

    @Override
    public void softplusBackward(float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff, int n) {
        unaryBackward(ACT_SOFTPLUS, dx, dxOff, dy, dyOff, x, xOff, n);
    }

    @Override
    public void swigluForward(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n) {
        SwigluForwardTask t = swigluForward;
        t.out = out; t.outOff = outOff; t.a = a; t.aOff = aOff; t.b = b; t.bOff = bOff; t.vec = simdOps;
        forElements(n, t);
    }

    @Override
    public void swigluBackward(float[] da, int daOff, float[] db, int dbOff, float[] dy, int dyOff,
                               float[] a, int aOff, float[] b, int bOff, int n) {
        SwigluBackwardTask t = swigluBackward;
        t.da = da; t.daOff = daOff; t.db = db; t.dbOff = dbOff; t.dy = dy; t.dyOff = dyOff;
        t.a = a; t.aOff = aOff; t.b = b; t.bOff = bOff; t.vec = simdOps;
        forElements(n, t);
    }

    // ---------------------------------------------------------------- losses and embeddings
    //
    // Per-row ops split rows. The embedding scatter-adds split channels: each channel range walks
    // t (and k) in order, so a gradient cell gets its terms in one order for any split.

    private static final int LOSS_SOFTMAX = 0, LOSS_ENTROPY = 1, LOSS_ARGMAX = 2;

    private static final class RowLogitsTask implements WorkerPool.RangeTask {
        float[] outF, logits;
        int[] outI;
        int outOff, logitsOff, V, op;

        @Override
        public void run(int from, int to) {
            for (int n = from; n < to; n++) {
                switch (op) {
                    case LOSS_SOFTMAX -> Losses.softmaxRow(outF, outOff, logits, logitsOff, V, n);
                    case LOSS_ENTROPY -> Losses.entropyRow(outF, outOff, logits, logitsOff, V, n);
                    default -> Losses.argmaxRow(outI, outOff, logits, logitsOff, V, n);
                }
            }
        }
    }

    private static final class SoftmaxBackwardTask implements WorkerPool.RangeTask {
        float[] dx, dy, probs;
        int dxOff, dyOff, probsOff, V;

        @Override
        public void run(int from, int to) {
            for (int n = from; n < to; n++) {
                Losses.softmaxBackwardRow(dx, dxOff, dy, dyOff, probs, probsOff, V, n);
            }
        }
    }

    private static final class CrossEntropyForwardTask implements WorkerPool.RangeTask {
        float[] losses, probs, logits;
        int[] targets;
        int lossesOff, probsOff, logitsOff, targetsOff, V;

        @Override
        public void run(int from, int to) {
            for (int n = from; n < to; n++) {
                Losses.crossEntropyForwardRow(losses, lossesOff, probs, probsOff, logits, logitsOff,
                        targets, targetsOff, V, n);
            }
        }
    }

    private static final class CrossEntropyBackwardTask implements WorkerPool.RangeTask {
        float[] dlogits, probs, dloss;
        int[] targets;
        int dlogitsOff, probsOff, targetsOff, dlossOff, dlossStride, V;

        @Override
        public void run(int from, int to) {
            for (int n = from; n < to; n++) {
                Losses.crossEntropyBackwardRow(dlogits, dlogitsOff, probs, probsOff, targets, targetsOff,
                        dloss, dlossOff, dlossStride, V, n);
            }
        }
    }

    private static final class ByteEmbeddingForwardTask implements WorkerPool.RangeTask {
        float[] out, emb;
        int[] bytes;
        int outOff, embOff, bytesOff, D;

        @Override
        public void run(int from, int to) {
            for (int t = from; t < to; t++) {
                Embeddings.byteEmbeddingForwardRow(out, outOff, emb, embOff, bytes, bytesOff, D, t);
            }
        }
    }

    private static final class ByteEmbeddingBackwardTask implements WorkerPool.RangeTask {
        float[] dEmb, dout;
        int[] bytes;
        int dEmbOff, doutOff, bytesOff, rows, D;

        @Override
        public void run(int from, int to) {
            Embeddings.byteEmbeddingBackwardChannels(dEmb, dEmbOff, dout, doutOff, bytes, bytesOff, rows, D, from, to);
        }
    }

    private static final class NgramIndexTask implements WorkerPool.RangeTask {
        int[] idx, bytes, ns;
        int idxOff, bytesOff, buckets, T;

        @Override
        public void run(int from, int to) {
            for (int t = from; t < to; t++) {
                Embeddings.ngramIndexRow(idx, idxOff, bytes, bytesOff, ns, 0, ns.length, buckets, T, t);
            }
        }
    }

    private static final class NgramForwardTask implements WorkerPool.RangeTask {
        float[] out, tables;
        int[] idx;
        int outOff, tablesOff, idxOff, numN, D;

        @Override
        public void run(int from, int to) {
            for (int t = from; t < to; t++) {
                Embeddings.ngramForwardRow(out, outOff, tables, tablesOff, idx, idxOff, numN, D, t);
            }
        }
    }

    private static final class NgramBackwardTask implements WorkerPool.RangeTask {
        float[] dTables, dout;
        int[] idx;
        int dTablesOff, doutOff, idxOff, numN, rows, D;

        @Override
        public void run(int from, int to) {
            Embeddings.ngramBackwardChannels(dTables, dTablesOff, dout, doutOff, idx, idxOff, numN, rows, D, from, to);
        }
    }

    private final RowLogitsTask rowLogits = new RowLogitsTask();
    private final SoftmaxBackwardTask softmaxBackward = new SoftmaxBackwardTask();
    private final CrossEntropyForwardTask crossEntropyForward = new CrossEntropyForwardTask();
    private final CrossEntropyBackwardTask crossEntropyBackward = new CrossEntropyBackwardTask();
    private final ByteEmbeddingForwardTask byteEmbeddingForward = new ByteEmbeddingForwardTask();
    private final ByteEmbeddingBackwardTask byteEmbeddingBackward = new ByteEmbeddingBackwardTask();
    private final NgramIndexTask ngramIndex = new NgramIndexTask();
    private final NgramForwardTask ngramForward = new NgramForwardTask();
    private final NgramBackwardTask ngramBackward = new NgramBackwardTask();

    private void rowLogits(int op, float[] outF, int[] outI, int outOff, float[] logits, int logitsOff,
                           int rows, int V) {
        RowLogitsTask t = rowLogits;
        t.op = op; t.outF = outF; t.outI = outI; t.outOff = outOff; t.logits = logits; t.logitsOff = logitsOff;
        t.V = V;
        pool.parallelFor(rows, t);
    }

    @Override
    public void softmaxForward(float[] probs, int probsOff, float[] logits, int logitsOff, int rows, int V) {
        rowLogits(LOSS_SOFTMAX, probs, null, probsOff, logits, logitsOff, rows, V);
    }

    @Override
    public void softmaxBackward(float[] dx, int dxOff, float[] dy, int dyOff, float[] probs, int probsOff,
                                int rows, int V) {
        SoftmaxBackwardTask t = softmaxBackward;
        t.dx = dx; t.dxOff = dxOff; t.dy = dy; t.dyOff = dyOff; t.probs = probs; t.probsOff = probsOff; t.V = V;
        pool.parallelFor(rows, t);
    }

    @Override
    public void crossEntropyForward(float[] losses, int lossesOff, float[] probs, int probsOff,
                                    float[] logits, int logitsOff, int[] targets, int targetsOff, int rows, int V) {
        CrossEntropyForwardTask t = crossEntropyForward;
        t.losses = losses; t.lossesOff = lossesOff; t.probs = probs; t.probsOff = probsOff;
        t.logits = logits; t.logitsOff = logitsOff; t.targets = targets; t.targetsOff = targetsOff; t.V = V;
        pool.parallelFor(rows, t);
    }

    @Override
    public void crossEntropyBackward(float[] dlogits, int dlogitsOff, float[] probs, int probsOff,
                                     int[] targets, int targetsOff, float[] dloss, int dlossOff, int dlossStride,
                                     int rows, int V) {
        CrossEntropyBackwardTask t = crossEntropyBackward;
        t.dlogits = dlogits; t.dlogitsOff = dlogitsOff; t.probs = probs; t.probsOff = probsOff;
        t.targets = targets; t.targetsOff = targetsOff; t.dloss = dloss; t.dlossOff = dlossOff;
        t.dlossStride = dlossStride; t.V = V;
        pool.parallelFor(rows, t);
    }

    @Override
    public void entropy(float[] entropy, int entropyOff, float[] logits, int logitsOff, int rows, int V) {
        rowLogits(LOSS_ENTROPY, entropy, null, entropyOff, logits, logitsOff, rows, V);
    }

    @Override
    public void argmax(int[] argmax, int argmaxOff, float[] logits, int logitsOff, int rows, int V) {
        rowLogits(LOSS_ARGMAX, null, argmax, argmaxOff, logits, logitsOff, rows, V);
    }

    @Override
    public void lossStats(float[] stats, int statsOff, float[] losses, int lossesOff, int[] argmax, int argmaxOff,
                          int[] targets, int targetsOff, int rows) {
        // One sequential unit: a sum over a batch's rows is too cheap to split, and splitting it
        // would change its rounding with the thread count.
        Losses.lossStatsCell(stats, statsOff, losses, lossesOff, argmax == null ? targets : argmax, argmaxOff,
                argmax == null ? 0 : 1, targets, targetsOff, rows);
    }

    @Override
    public void byteEmbeddingForward(float[] out, int outOff, float[] emb, int embOff, int[] bytes, int bytesOff,
                                     int rows, int D) {
        ByteEmbeddingForwardTask t = byteEmbeddingForward;
        t.out = out; t.outOff = outOff; t.emb = emb; t.embOff = embOff; t.bytes = bytes; t.bytesOff = bytesOff;
        t.D = D;
        pool.parallelFor(rows, t);
    }

    @Override
    public void byteEmbeddingBackward(float[] dEmb, int dEmbOff, float[] dout, int doutOff, int[] bytes, int bytesOff,
                                      int rows, int D) {
        ByteEmbeddingBackwardTask t = byteEmbeddingBackward;
        t.dEmb = dEmb; t.dEmbOff = dEmbOff; t.dout = dout; t.doutOff = doutOff; t.bytes = bytes;
        t.bytesOff = bytesOff; t.rows = rows; t.D = D;
        pool.parallelFor(D, t);
    }

    @Override
    public void ngramIndex(int[] idx, int idxOff, int[] bytes, int bytesOff, int[] ns, int buckets, int T, int rows) {
        NgramIndexTask t = ngramIndex;
        t.idx = idx; t.idxOff = idxOff; t.bytes = bytes; t.bytesOff = bytesOff; t.ns = ns;
        t.buckets = buckets; t.T = T;
        pool.parallelFor(rows, t);
    }

    @Override
    public void ngramEmbeddingForward(float[] out, int outOff, float[] tables, int tablesOff, int[] idx, int idxOff,
                                      int numN, int rows, int D) {
        NgramForwardTask t = ngramForward;
        t.out = out; t.outOff = outOff; t.tables = tables; t.tablesOff = tablesOff; t.idx = idx; t.idxOff = idxOff;
        t.numN = numN; t.D = D;
        pool.parallelFor(rows, t);
    }

    @Override
    public void ngramEmbeddingBackward(float[] dTables, int dTablesOff, float[] dout, int doutOff, int[] idx, int idxOff,
                                       int numN, int rows, int D) {
        NgramBackwardTask t = ngramBackward;
        t.dTables = dTables; t.dTablesOff = dTablesOff; t.dout = dout; t.doutOff = doutOff; t.idx = idx;
        t.idxOff = idxOff; t.numN = numN; t.rows = rows; t.D = D;
        pool.parallelFor(D, t);
    }

    // ---------------------------------------------------------------- patch boundaries
    //
    // One unit per sequence (its bytes in order) for the decision and the rows; the prefix and
    // the quantile are sequential (the quantile's result is one of the scores, whatever the order).

    private static final class PatchTask implements WorkerPool.RangeTask {
        int[] ends, endRows, pi, seqStart, seqCount, bytes;
        float[] hNext;
        float theta;
        int T, mode, fixedLength, maxPatch, warmupFixed;
        boolean rows;

        @Override
        public void run(int from, int to) {
            for (int b = from; b < to; b++) {
                if (rows) {
                    Patching.rowsSequence(endRows, pi, ends, seqStart, T, b);
                } else {
                    Patching.decideSequence(ends, seqCount, bytes, hNext, mode, fixedLength, maxPatch, warmupFixed, theta, T, b);
                }
            }
        }
    }

    private final PatchTask patch = new PatchTask();

    @Override
    public void patchBoundaries(int[] ends, int[] endRows, int[] pi, int[] seqStart, int[] seqCount, int[] bytes,
                                float[] hNext, float[] state, int B, int T, int mode, int fixedLength, int maxPatch,
                                int warmupFixed, int calibrate, int rank) {
        if (calibrate != 0 && Patching.scoreCount(mode, B, T) > 0) {
            state[Patching.STATE_THETA] = Patching.selectScore(hNext, mode, B, T, rank);
        }
        PatchTask t = patch;
        t.ends = ends; t.endRows = endRows; t.pi = pi; t.seqStart = seqStart; t.seqCount = seqCount; t.bytes = bytes;
        t.hNext = hNext; t.theta = state[Patching.STATE_THETA]; t.T = T; t.mode = mode; t.fixedLength = fixedLength;
        t.maxPatch = maxPatch; t.warmupFixed = warmupFixed;
        t.rows = false;
        pool.parallelFor(B, t);
        Patching.prefix(seqStart, seqCount, B);
        t.rows = true;
        pool.parallelFor(B, t);
    }

    // ---------------------------------------------------------------- attention and RoPE
    //
    // RoPE runs one unit per row. Attention runs one unit per (b, i, h) in that order, so a
    // thread's range walks query rows and their heads together; the backward is two passes (dq by
    // query, then dk/dv gathered by key), which write disjoint outputs and need no atomics.
    //
    // RoPE reads cos/sin from a table of positions [0, ropePositions) instead of computing them
    // per row and head (exp, log, cos, sin per pair). Each entry is computed by exactly the
    // unit's expressions, so the rotation gives the unit's bits, for the full pass and for
    // generation's one-row calls alike; positions past the table's cap use the unit itself.

    /** Positions the RoPE table may hold (a table of P x hd floats; 4 MiB at hd 64). */
    static final int ROPE_TABLE_MAX_POSITIONS = 1 << 14;

    private float[] ropeCos = new float[0], ropeSin = new float[0];
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
        for (int p = ropePositions; p < cap; p++) {
            for (int j = 0; j < half; j++) {
                float angle = p * Rope.inverseFrequency(j, hd, base); // as Rope.forwardHead computes it
                ropeCos[p * half + j] = (float) Math.cos(angle);
                ropeSin[p * half + j] = (float) Math.sin(angle);
            }
        }
        ropePositions = cap;
    }

    private final class RopeTask implements WorkerPool.RangeTask {
        float[] y, x;
        int yOff, xOff, P, pos0, heads, headDim;
        float base;
        boolean backward;

        @Override
        public void run(int from, int to) {
            int hd = headDim, half = hd / 2, C = heads * hd;
            float[] cos = ropeCos, sin = ropeSin;
            for (int n = from; n < to; n++) {
                int p = pos0 + n % P;
                if (p >= ropePositions) {
                    if (backward) {
                        Rope.backwardRow(y, yOff, x, xOff, P, pos0, heads, headDim, base, n);
                    } else {
                        Rope.forwardRow(y, yOff, x, xOff, P, pos0, heads, headDim, base, n);
                    }
                    continue;
                }
                int t = p * half;
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

    @Override
    public void ropeForward(float[] y, int yOff, float[] x, int xOff, int rows, int P, int pos0,
                            int heads, int headDim, float base) {
        RopeTask t = rope;
        t.y = y; t.yOff = yOff; t.x = x; t.xOff = xOff; t.P = P; t.pos0 = pos0;
        t.heads = heads; t.headDim = headDim; t.base = base; t.backward = false;
        ropeTable(pos0 + Math.min(rows, P), headDim, base);
        pool.parallelFor(rows, t);
    }

    @Override
    public void ropeBackward(float[] dx, int dxOff, float[] dy, int dyOff, int rows, int P, int pos0,
                             int heads, int headDim, float base) {
        RopeTask t = rope;
        t.y = dx; t.yOff = dxOff; t.x = dy; t.xOff = dyOff; t.P = P; t.pos0 = pos0;
        t.heads = heads; t.headDim = headDim; t.base = base; t.backward = true;
        ropeTable(pos0 + Math.min(rows, P), headDim, base);
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

    @Override
    public void attentionQuery(boolean dense, float[] out, int outOff, float[] att, float[] q, int qOff,
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
