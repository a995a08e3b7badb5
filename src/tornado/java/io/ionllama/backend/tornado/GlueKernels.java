package io.ionllama.backend.tornado;

import io.ionllama.kernels.Activations;
import io.ionllama.kernels.Elementwise;
import io.ionllama.kernels.IntegralGate;
import io.ionllama.kernels.Scan;
import uk.ac.manchester.tornado.api.KernelContext;

/**
 * The glue's device kernels: {@link Elementwise}'s range units called for a range of one element
 * per thread, {@link Activations}'s SwiGLU cells, and {@link IntegralGate}'s row and channel
 * units. The element or row count comes from {@code params[N]} (it changes with every call),
 * fill's value from {@code value[0]}, axpby's and scale's factors from {@code coef} (a scalar
 * argument would be compiled in). Offsets into the
 * arrays come from {@code params} too, in the order of the kernel's array arguments: 0 for the
 * per-op graphs' staging buffers, the caller's offsets when a graph is bound to the caller's own
 * arrays ({@link Residency}).
 * <pre>
 *   copy, accumulate, fill, swiglu*   thread i = element i
 *   axpby, scale, transpose           thread i = element i (of y; of dst)
 *   scanStep                          thread c = channel c (generation: h = a h + (1 - a) u)
 *   gateForward, gateBackwardInput    thread n = row n (C channels each)
 *   gateBackwardLambda                thread c = channel c, sums its rows in order
 * </pre>
 * The gate's two backward tasks share one {@code params}: gateBackwardInput's arrays (dz, da, a,
 * z, lambda) at OFF0..OFF0+4, gateBackwardLambda's dLambda at OFF0+5 and its other arrays at the
 * same indexes as gateBackwardInput's.
 */
public final class GlueKernels {
    private GlueKernels() {}

    /** Indexes into {@code params}: the element (or row) count, then the offset of each array in the order of the kernel's arguments. */
    public static final int N = 0, OFF0 = 1, PARAMS = 7;

    public static void copy(KernelContext k, float[] dst, float[] src, int[] params) {
        int i = k.globalIdx;
        if (i < params[N]) {
            Elementwise.copyRange(dst, params[OFF0], src, params[OFF0 + 1], i, i + 1);
        }
    }

    public static void accumulate(KernelContext k, float[] dst, float[] src, int[] params) {
        int i = k.globalIdx;
        if (i < params[N]) {
            Elementwise.accumulateRange(dst, params[OFF0], src, params[OFF0 + 1], i, i + 1);
        }
    }

    public static void fill(KernelContext k, float[] dst, float[] value, int[] params) {
        int i = k.globalIdx;
        if (i < params[N]) {
            Elementwise.fillRange(dst, params[OFF0], value[params[OFF0 + 1]], i, i + 1);
        }
    }

    /** y = alpha y + beta x, alpha and beta from {@code coef[0]}, {@code coef[1]}. */
    public static void axpby(KernelContext k, float[] y, float[] x, float[] coef, int[] params) {
        int i = k.globalIdx;
        if (i < params[N]) {
            Elementwise.axpbyRange(y, params[OFF0], coef[0], x, params[OFF0 + 1], coef[1], i, i + 1);
        }
    }

    /** y = alpha y, alpha from {@code coef[0]}. */
    public static void scale(KernelContext k, float[] y, float[] coef, int[] params) {
        int i = k.globalIdx;
        if (i < params[N]) {
            Elementwise.scaleRange(y, params[OFF0], coef[0], i, i + 1);
        }
    }

    /** dst [cols, rows] = src [rows, cols]^T; thread i = dst element i; rows, cols at OFF0+2, OFF0+3. */
    public static void transpose(KernelContext k, float[] dst, float[] src, int[] params) {
        int i = k.globalIdx;
        if (i < params[N]) {
            Elementwise.transposeRange(dst, params[OFF0], src, params[OFF0 + 1], params[OFF0 + 2], params[OFF0 + 3], i, i + 1);
        }
    }

    public static void swigluForward(KernelContext k, float[] out, float[] a, float[] b, int[] params) {
        int i = k.globalIdx;
        if (i < params[N]) {
            Activations.swigluForwardCell(out, params[OFF0], a, params[OFF0 + 1], b, params[OFF0 + 2], i);
        }
    }

    public static void swigluBackward(KernelContext k, float[] da, float[] db, float[] dy, float[] a, float[] b,
                                      int[] params) {
        int i = k.globalIdx;
        if (i < params[N]) {
            Activations.swigluBackwardCell(da, params[OFF0], db, params[OFF0 + 1], dy, params[OFF0 + 2], a, params[OFF0 + 3],
                    b, params[OFF0 + 4], i);
        }
    }

    public static void gateForward(KernelContext k, float[] a, float[] z, float[] lambda, int[] params, int C) {
        int n = k.globalIdx;
        if (n < params[N]) {
            IntegralGate.forwardRow(a, params[OFF0], z, params[OFF0 + 1], lambda, params[OFF0 + 2], C, n);
        }
    }

    public static void gateBackwardInput(KernelContext k, float[] dz, float[] da, float[] a, float[] z, float[] lambda,
                                         int[] params, int C) {
        int n = k.globalIdx;
        if (n < params[N]) {
            IntegralGate.backwardInputRow(dz, params[OFF0], da, params[OFF0 + 1], a, params[OFF0 + 2], z, params[OFF0 + 3],
                    lambda, params[OFF0 + 4], C, n);
        }
    }

    public static void gateBackwardLambda(KernelContext k, float[] dLambda, float[] da, float[] a, float[] z,
                                          float[] lambda, int[] params, int C) {
        int c = k.globalIdx;
        if (c < C) {
            IntegralGate.backwardLambdaCell(dLambda, params[OFF0 + 5], da, params[OFF0 + 1], a, params[OFF0 + 2], z,
                    params[OFF0 + 3], lambda, params[OFF0 + 4], params[N], C, c);
        }
    }

    public static void scanStep(KernelContext k, float[] h, float[] a, float[] u, int[] params) {
        int c = k.globalIdx;
        if (c < params[N]) {
            Scan.step(h, params[OFF0], a, params[OFF0 + 1], u, params[OFF0 + 2], params[N], c);
        }
    }
}
