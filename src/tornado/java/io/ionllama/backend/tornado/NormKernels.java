package io.ionllama.backend.tornado;

import io.ionllama.kernels.Norms;
import uk.ac.manchester.tornado.api.KernelContext;

/**
 * RMSNorm's and LayerNorm's device kernels: one thread per unit of {@link Norms}, which TornadoVM inlines.
 * The row count comes from {@code params[ROWS]} (it changes between executions); {@code C} and
 * {@code eps} are compiled in. Offsets into the arrays come from {@code params} too: 0 for the
 * per-op graphs' staging buffers, the caller's offsets when a graph is bound to the caller's own
 * arrays ({@link Residency}).
 * <pre>
 *   forward        x = n (row)       Norms.rmsNormForwardRow: rstd[n] and out[n,:]
 *   backwardInput  x = n (row)       Norms.rmsNormBackwardInputRow: dx[n,:] +=
 *   backwardWeight x = c (channel)   Norms.rmsNormBackwardWeightCell: dw[c] += sum over rows in order
 *   layer*         the same, over    Norms.layerNorm*: mean[n], rstd[n], out[n,:]; dx[n,:] +=;
 *                  rows or channels  dw[c] +=, db[c] += (LayerNorm's bias)
 * </pre>
 * LayerNorm's offsets: forward out, mean, rstd, x, w, b; backward dx, dy, x, w, mean, rstd, dw, db.
 */
public final class NormKernels {
    private NormKernels() {}

    /** Indexes into {@code params}: the row count, then the offset of each array in the order of the kernel's arguments. */
    public static final int ROWS = 0, OFF0 = 1, PARAMS = 9;

    public static void rmsForward(KernelContext k, float[] out, float[] rstd, float[] x, float[] w, int[] params, int pb,
                                  int C, float eps) {
        int n = k.globalIdx;
        if (n < params[pb + ROWS]) {
            Norms.rmsNormForwardRow(out, params[pb + OFF0], rstd, params[pb + OFF0 + 1], x, params[pb + OFF0 + 2], w, params[pb + OFF0 + 3], C, eps, n);
        }
    }

    public static void rmsBackwardInput(KernelContext k, float[] dx, float[] dy, float[] x, float[] w, float[] rstd,
                                        int[] params, int pb, int C) {
        int n = k.globalIdx;
        if (n < params[pb + ROWS]) {
            Norms.rmsNormBackwardInputRow(dx, params[pb + OFF0], dy, params[pb + OFF0 + 1], x, params[pb + OFF0 + 2], w, params[pb + OFF0 + 3],
                    rstd, params[pb + OFF0 + 4], C, n);
        }
    }

    public static void rmsBackwardWeight(KernelContext k, float[] dw, float[] dy, float[] x, float[] rstd,
                                         int[] params, int pb, int C) {
        int c = k.globalIdx;
        if (c < C) {
            Norms.rmsNormBackwardWeightCell(dw, params[pb + OFF0 + 5], dy, params[pb + OFF0 + 1], x, params[pb + OFF0 + 2], rstd, params[pb + OFF0 + 4],
                    params[pb + ROWS], C, c);
        }
    }

    public static void layerForward(KernelContext k, float[] out, float[] mean, float[] rstd, float[] x, float[] w, float[] b,
                                    int[] params, int pb, int C, float eps, int hasBias) {
        int n = k.globalIdx;
        if (n < params[pb + ROWS]) {
            Norms.layerNormForwardRow(out, params[pb + OFF0], mean, params[pb + OFF0 + 1], rstd, params[pb + OFF0 + 2],
                    x, params[pb + OFF0 + 3], w, params[pb + OFF0 + 4], b, params[pb + OFF0 + 5], hasBias, C, eps, n);
        }
    }

    /**
     * {@link #layerForward} for a bias in the weight's own array (the model keeps all parameters in
     * one array): TornadoVM cannot compile a task given the same array twice, so this task gets it
     * once and reads the bias at {@code params[OFF0 + 5]} of {@code w}.
     */
    public static void layerForwardBiasInWeights(KernelContext k, float[] out, float[] mean, float[] rstd, float[] x, float[] w,
                                                 int[] params, int pb, int C, float eps) {
        int n = k.globalIdx;
        if (n < params[pb + ROWS]) {
            Norms.layerNormForwardRow(out, params[pb + OFF0], mean, params[pb + OFF0 + 1], rstd, params[pb + OFF0 + 2],
                    x, params[pb + OFF0 + 3], w, params[pb + OFF0 + 4], w, params[pb + OFF0 + 5], 1, C, eps, n);
        }
    }

    public static void layerBackwardInput(KernelContext k, float[] dx, float[] dy, float[] x, float[] w, float[] mean, float[] rstd,
                                          int[] params, int pb, int C) {
        int n = k.globalIdx;
        if (n < params[pb + ROWS]) {
            Norms.layerNormBackwardInputRow(dx, params[pb + OFF0], dy, params[pb + OFF0 + 1], x, params[pb + OFF0 + 2],
                    w, params[pb + OFF0 + 3], mean, params[pb + OFF0 + 4], rstd, params[pb + OFF0 + 5], C, n);
        }
    }

    public static void layerBackwardWeight(KernelContext k, float[] dw, float[] dy, float[] x, float[] mean, float[] rstd,
                                           int[] params, int pb, int C) {
        int c = k.globalIdx;
        if (c < C) {
            Norms.layerNormBackwardWeightCell(dw, params[pb + OFF0 + 6], dy, params[pb + OFF0 + 1], x, params[pb + OFF0 + 2],
                    mean, params[pb + OFF0 + 4], rstd, params[pb + OFF0 + 5], params[pb + ROWS], C, c);
        }
    }

    /** db may be the weight gradient's own array (a separate task, so it is bound once here). */
    public static void layerBackwardBias(KernelContext k, float[] db, float[] dy, int[] params, int pb, int C) {
        int c = k.globalIdx;
        if (c < C) {
            Norms.layerNormBackwardBiasCell(db, params[pb + OFF0 + 7], dy, params[pb + OFF0 + 1], params[pb + ROWS], C, c);
        }
    }
}
