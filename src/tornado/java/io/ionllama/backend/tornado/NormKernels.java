package io.ionllama.backend.tornado;

import io.ionllama.kernels.Norms;
import uk.ac.manchester.tornado.api.KernelContext;

/**
 * RMSNorm's device kernels: one thread per unit of {@link Norms}, which TornadoVM inlines.
 * The row count comes from {@code params[ROWS]} (it changes between executions); {@code C} and
 * {@code eps} are compiled in. All arrays are the backend's staging buffers (offset 0).
 * <pre>
 *   forward        x = n (row)       Norms.rmsNormForwardRow: rstd[n] and out[n,:]
 *   backwardInput  x = n (row)       Norms.rmsNormBackwardInputRow: dx[n,:] +=
 *   backwardWeight x = c (channel)   Norms.rmsNormBackwardWeightCell: dw[c] += sum over rows in order
 * </pre>
 */
public final class NormKernels {
    private NormKernels() {}

    public static final int ROWS = 0;

    public static void rmsForward(KernelContext k, float[] out, float[] rstd, float[] x, float[] w, int[] params,
                                  int C, float eps) {
        int n = k.globalIdx;
        if (n < params[ROWS]) {
            Norms.rmsNormForwardRow(out, 0, rstd, 0, x, 0, w, 0, C, eps, n);
        }
    }

    public static void rmsBackwardInput(KernelContext k, float[] dx, float[] dy, float[] x, float[] w, float[] rstd,
                                        int[] params, int C) {
        int n = k.globalIdx;
        if (n < params[ROWS]) {
            Norms.rmsNormBackwardInputRow(dx, 0, dy, 0, x, 0, w, 0, rstd, 0, C, n);
        }
    }

    public static void rmsBackwardWeight(KernelContext k, float[] dw, float[] dy, float[] x, float[] rstd,
                                         int[] params, int C) {
        int c = k.globalIdx;
        if (c < C) {
            Norms.rmsNormBackwardWeightCell(dw, 0, dy, 0, x, 0, rstd, 0, params[ROWS], C, c);
        }
    }
}
