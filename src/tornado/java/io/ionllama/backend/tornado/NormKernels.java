package io.ionllama.backend.tornado;

import io.ionllama.kernels.Norms;
import uk.ac.manchester.tornado.api.KernelContext;

/**
 * RMSNorm's device kernels: one thread per unit of {@link Norms}, which TornadoVM inlines.
 * The row count comes from {@code params[ROWS]} (it changes between executions); {@code C} and
 * {@code eps} are compiled in. Offsets into the arrays come from {@code params} too: 0 for the
 * per-op graphs' staging buffers, the caller's offsets when a graph is bound to the caller's own
 * arrays ({@link Residency}).
 * <pre>
 *   forward        x = n (row)       Norms.rmsNormForwardRow: rstd[n] and out[n,:]
 *   backwardInput  x = n (row)       Norms.rmsNormBackwardInputRow: dx[n,:] +=
 *   backwardWeight x = c (channel)   Norms.rmsNormBackwardWeightCell: dw[c] += sum over rows in order
 * </pre>
 */
public final class NormKernels {
    private NormKernels() {}

    /** Indexes into {@code params}: the row count, then the offset of each array in the order of the kernel's arguments. */
    public static final int ROWS = 0, OFF0 = 1, PARAMS = 7;

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
}
