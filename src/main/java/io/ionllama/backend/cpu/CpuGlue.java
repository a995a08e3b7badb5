package io.ionllama.backend.cpu;

import io.ionllama.kernels.Elementwise;

/**
 * The CPU schedule of the glue: copy, accumulate, fill, axpby, scale, transpose and dropout
 * ({@code kernels.Elementwise}). The device counterpart is {@code backend/tornado/GlueGraphs}.
 * (The IntegralLNN gate is the scan's: {@link CpuScan}.)
 *
 * <p>Element ranges split evenly; below {@link #GLUE_GRAIN} elements the dispatch would cost more
 * than the work, so small ones run on the caller's thread (same result: elementwise ops do not
 * reduce).
 *
 * <p>Each op keeps one reusable task object (fields set per call, then handed to the pool), so
 * dispatch allocates nothing; scratch arrays are grown, never allocated per call.
 */
final class CpuGlue {

    private final WorkerPool pool;
    CpuGlue(WorkerPool pool) {
        this.pool = pool;
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

    private final CopyTask copyTask = new CopyTask();

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
}
