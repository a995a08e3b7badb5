package io.ionllama.backend.cpu;

import io.ionllama.kernels.Elementwise;
import io.ionllama.kernels.IntegralGate;

/**
 * The CPU schedule of the glue: copy, accumulate, fill, axpby, scale, transpose and dropout
 * ({@code kernels.Elementwise}) and the IntegralLNN gate, forward and backward
 * ({@code kernels.IntegralGate}, or {@link SimdElementwise}'s vector form). The device
 * counterpart is {@code backend/tornado/GlueGraphs}.
 *
 * <p>Element ranges split evenly; below {@link #GLUE_GRAIN} elements the dispatch would cost more
 * than the work, so small ones run on the caller's thread (same result: elementwise ops do not
 * reduce). The gate splits rows, and its dλ pass splits channels (each channel sums its rows in
 * order), so every output has one writer and one order of terms for any thread count.
 *
 * <p>Each op keeps one reusable task object (fields set per call, then handed to the pool), so
 * dispatch allocates nothing; scratch arrays are grown, never allocated per call.
 */
final class CpuGlue {

    private final WorkerPool pool;
    /**
     * Whether the ops below run on {@link SimdElementwise} (the Vector API; tested against the
     * scalar units) or on the units; {@link CpuBackend} decides once, at construction.
     */
    private final boolean simdOps;

    CpuGlue(WorkerPool pool, boolean simdOps) {
        this.pool = pool;
        this.simdOps = simdOps;
    }

    /** Elements below which a glue op (and AdamW, {@link CpuOptim}) runs on the caller's thread. */
    static final int GLUE_GRAIN = 1 << 14;

    private final class CopyTask implements WorkerPool.RangeTask {
        float[] dst, src;
        int dstOff, srcOff, mode; // 0 copy, 1 accumulate, 2 fill, 3 axpby, 4 scale, 5 transpose, 6 dropout
        int rows, cols, seed, threshold;
        float value, beta;

        @Override
        public void run(int from, int to) {
            switch (mode) {
                case 0 -> Elementwise.copyRange(dst, dstOff, src, srcOff, from, to);
                case 1 -> Elementwise.accumulateRange(dst, dstOff, src, srcOff, from, to);
                case 3 -> Elementwise.axpbyRange(dst, dstOff, value, src, srcOff, beta, from, to);
                case 4 -> Elementwise.scaleRange(dst, dstOff, value, from, to);
                case 5 -> Elementwise.transposeRange(dst, dstOff, src, srcOff, rows, cols, from, to);
                case 6 -> Elementwise.dropoutRange(dst, dstOff, seed, threshold, value, from, to);
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

    void copy(float[] dst, int dstOff, float[] src, int srcOff, int n) {
        elementwise(0, dst, dstOff, src, srcOff, 0f, n);
    }

    void accumulate(float[] dst, int dstOff, float[] src, int srcOff, int n) {
        elementwise(1, dst, dstOff, src, srcOff, 0f, n);
    }

    void fill(float[] dst, int dstOff, float value, int n) {
        elementwise(2, dst, dstOff, null, 0, value, n);
    }

    void axpby(float[] y, int yOff, float alpha, float[] x, int xOff, float beta, int n) {
        copyTask.beta = beta;
        elementwise(3, y, yOff, x, xOff, alpha, n);
    }

    void scale(float[] y, int yOff, float alpha, int n) {
        elementwise(4, y, yOff, null, 0, alpha, n);
    }

    void dropout(float[] y, int yOff, float p, int seed, int n) {
        copyTask.seed = seed;
        copyTask.threshold = Elementwise.dropoutThreshold(p);
        elementwise(6, y, yOff, null, 0, 1f / (1f - p), n);
    }

    void transpose(float[] dst, int dstOff, float[] src, int srcOff, int rows, int cols) {
        copyTask.rows = rows;
        copyTask.cols = cols;
        elementwise(5, dst, dstOff, src, srcOff, 0f, rows * cols);
    }

    void integralGateForward(float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows, int C) {
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

    void integralGateBackward(float[] dz, int dzOff, float[] dLambda, int dLambdaOff, float[] da, int daOff,
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
}
