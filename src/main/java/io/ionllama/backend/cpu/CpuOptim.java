package io.ionllama.backend.cpu;

import io.ionllama.kernels.Optim;

/**
 * The CPU schedule of the optimizer: the AdamW update over an element range and the sum of squares
 * of the gradient norm ({@code kernels.Optim}). The device counterpart is
 * {@code backend/tornado/OptimGraphs}.
 *
 * <p>AdamW splits element ranges (below {@link CpuGlue#GLUE_GRAIN} elements it runs on the
 * caller's thread; elements are independent). The sum of squares is computed per fixed block of
 * {@code Optim.BLOCK} elements, each block by one unit in order, and the block partials are added
 * in block order on the caller's thread, so the norm has the same bits for any thread count.
 */
final class CpuOptim {

    private final WorkerPool pool;

    CpuOptim(WorkerPool pool) {
        this.pool = pool;
    }

    /** The glue's grain: AdamW is elementwise too. */
    private static final int GLUE_GRAIN = CpuGlue.GLUE_GRAIN;

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

    void adamw(float[] p, float[] g, float[] m, float[] v, int off, int n, float lr, float beta1, float beta2,
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

    double sumSquares(float[] g, int off, int n) {
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
}
