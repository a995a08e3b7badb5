package io.ionllama.backend.cpu;

import io.ionllama.kernels.Norms;

/**
 * The CPU schedule of the norms: RMSNorm and LayerNorm, forward and backward
 * ({@code kernels.Norms}; RMSNorm's rows and weight gradient on {@link SimdElementwise} with the
 * Vector API). The device counterpart is {@code backend/tornado/NormGraphs}.
 *
 * <p>Row ops split rows; weight and bias gradients split channels, each channel summing its rows
 * in order (the vector RMSNorm dw: blocks of {@link #NORM_CHANNEL_BLOCK} channels walking every
 * row), so each gradient cell gets its terms in one order for any thread count.
 */
final class CpuNorms {

    private final WorkerPool pool;
    /**
     * Whether the ops below run on {@link SimdElementwise} (the Vector API; tested against the
     * scalar units) or on the units; {@link CpuBackend} decides once, at construction.
     */
    private final boolean simdOps;

    CpuNorms(WorkerPool pool, boolean simdOps) {
        this.pool = pool;
        this.simdOps = simdOps;
    }

    private final class RmsNormForwardTask implements WorkerPool.RangeTask {
        float[] out, rstd, x, w;
        int outOff, rstdOff, xOff, wOff, C;
        float eps;

        @Override
        public void run(int from, int to) {
            for (int n = from; n < to; n++) {
                if (simdOps) {
                    SimdElementwise.rmsNormForwardRow(out, outOff, rstd, rstdOff, x, xOff, w, wOff, C, eps, n);
                } else {
                    Norms.rmsNormForwardRow(out, outOff, rstd, rstdOff, x, xOff, w, wOff, C, eps, n);
                }
            }
        }
    }

    private final class RmsNormBackwardInputTask implements WorkerPool.RangeTask {
        float[] dx, dy, x, w, rstd;
        int dxOff, dyOff, xOff, wOff, rstdOff, C;

        @Override
        public void run(int from, int to) {
            for (int n = from; n < to; n++) {
                if (simdOps) {
                    SimdElementwise.rmsNormBackwardInputRow(dx, dxOff, dy, dyOff, x, xOff, w, wOff, rstd, rstdOff, C, n);
                } else {
                    Norms.rmsNormBackwardInputRow(dx, dxOff, dy, dyOff, x, xOff, w, wOff, rstd, rstdOff, C, n);
                }
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

    private final RmsNormForwardTask rmsNormForward = new RmsNormForwardTask();
    private final RmsNormBackwardInputTask rmsNormBackwardInput = new RmsNormBackwardInputTask();
    private final RmsNormBackwardWeightTask rmsNormBackwardWeight = new RmsNormBackwardWeightTask();
    private final LayerNormForwardTask layerNormForward = new LayerNormForwardTask();
    private final LayerNormBackwardInputTask layerNormBackwardInput = new LayerNormBackwardInputTask();
    private final LayerNormBackwardParamsTask layerNormBackwardParams = new LayerNormBackwardParamsTask();

    void rmsNormForward(float[] out, int outOff, float[] rstd, int rstdOff, float[] x, int xOff,
                        float[] w, int wOff, int rows, int C, float eps) {
        RmsNormForwardTask t = rmsNormForward;
        t.out = out; t.outOff = outOff; t.rstd = rstd; t.rstdOff = rstdOff; t.x = x; t.xOff = xOff;
        t.w = w; t.wOff = wOff; t.C = C; t.eps = eps;
        pool.parallelFor(rows, t);
    }

    void rmsNormBackward(float[] dx, int dxOff, float[] dw, int dwOff, float[] dy, int dyOff,
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

    void layerNormForward(float[] out, int outOff, float[] mean, int meanOff, float[] rstd, int rstdOff,
                          float[] x, int xOff, float[] w, int wOff, float[] b, int bOff,
                          int rows, int C, float eps) {
        LayerNormForwardTask t = layerNormForward;
        t.out = out; t.outOff = outOff; t.mean = mean; t.meanOff = meanOff; t.rstd = rstd; t.rstdOff = rstdOff;
        t.x = x; t.xOff = xOff; t.w = w; t.wOff = wOff;
        t.b = b == null ? w : b; t.bOff = bOff; t.hasBias = b == null ? 0 : 1;
        t.C = C; t.eps = eps;
        pool.parallelFor(rows, t);
    }

    void layerNormBackward(float[] dx, int dxOff, float[] dw, int dwOff, float[] db, int dbOff,
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
}
