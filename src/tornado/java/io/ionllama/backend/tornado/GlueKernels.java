package io.ionllama.backend.tornado;

import io.ionllama.kernels.Activations;
import io.ionllama.kernels.Elementwise;
import uk.ac.manchester.tornado.api.KernelContext;

/**
 * The glue's device kernels: {@link Elementwise}'s range units called for a range of one element
 * per thread, and {@link Activations}'s SwiGLU and GELU cells (the IntegralLNN gate and generation's scan
 * step are the scan's, {@link ScanKernels}). The element count comes from {@code params[N]} (it changes with every call),
 * fill's value from {@code value[0]}, axpby's and scale's factors from {@code coef} (a scalar
 * argument would be compiled in). Offsets into the
 * arrays come from {@code params} too, in the order of the kernel's array arguments: 0 for the
 * per-op graphs' staging buffers, the caller's offsets when a graph is bound to the caller's own
 * arrays ({@link Residency}).
 * <pre>
 *   copy, accumulate, fill, swiglu*,  thread i = element i
 *   gelu* (only --model rnn calls GELU)
 *   axpby, scale, dropout, transpose  thread i = element i (of y; of dst)
 * </pre>
 */
public final class GlueKernels {
    private GlueKernels() {}

    /** Indexes into {@code params}: the element (or row) count, then the offset of each array in the order of the kernel's arguments. */
    public static final int N = 0, OFF0 = 1, PARAMS = 7;

    public static void copy(KernelContext k, float[] dst, float[] src, int[] params, int pb) {
        int i = k.globalIdx;
        if (i < params[pb + N]) {
            Elementwise.copyRange(dst, params[pb + OFF0], src, params[pb + OFF0 + 1], i, i + 1);
        }
    }

    public static void accumulate(KernelContext k, float[] dst, float[] src, int[] params, int pb) {
        int i = k.globalIdx;
        if (i < params[pb + N]) {
            Elementwise.accumulateRange(dst, params[pb + OFF0], src, params[pb + OFF0 + 1], i, i + 1);
        }
    }

    public static void fill(KernelContext k, float[] dst, float[] value, int vb, int[] params, int pb) {
        int i = k.globalIdx;
        if (i < params[pb + N]) {
            Elementwise.fillRange(dst, params[pb + OFF0], value[vb + params[pb + OFF0 + 1]], i, i + 1);
        }
    }

    /** y = alpha y + beta x, alpha and beta from {@code coef[cb]}, {@code coef[cb + 1]}. */
    public static void axpby(KernelContext k, float[] y, float[] x, float[] coef, int cb, int[] params, int pb) {
        int i = k.globalIdx;
        if (i < params[pb + N]) {
            Elementwise.axpbyRange(y, params[pb + OFF0], coef[cb], x, params[pb + OFF0 + 1], coef[cb + 1], i, i + 1);
        }
    }

    /** y = alpha y, alpha from {@code coef[cb]}. */
    public static void scale(KernelContext k, float[] y, float[] coef, int cb, int[] params, int pb) {
        int i = k.globalIdx;
        if (i < params[pb + N]) {
            Elementwise.scaleRange(y, params[pb + OFF0], coef[cb], i, i + 1);
        }
    }

    /**
     * Dropout in place: y = keep(seed, i) ? y * scale : 0; y's offset at OFF0, the seed at OFF0+1,
     * the threshold at OFF0+2 (integers: the mask is a hash of the seed and the element index),
     * scale from {@code coef[cb]}.
     */
    public static void dropout(KernelContext k, float[] y, float[] coef, int cb, int[] params, int pb) {
        int i = k.globalIdx;
        if (i < params[pb + N]) {
            Elementwise.dropoutRange(y, params[pb + OFF0], params[pb + OFF0 + 1], params[pb + OFF0 + 2], coef[cb], i, i + 1);
        }
    }

    /** dst [cols, rows] = src [rows, cols]^T; thread i = dst element i; rows, cols at OFF0+2, OFF0+3. */
    public static void transpose(KernelContext k, float[] dst, float[] src, int[] params, int pb) {
        int i = k.globalIdx;
        if (i < params[pb + N]) {
            Elementwise.transposeRange(dst, params[pb + OFF0], src, params[pb + OFF0 + 1], params[pb + OFF0 + 2], params[pb + OFF0 + 3], i, i + 1);
        }
    }

    public static void swigluForward(KernelContext k, float[] out, float[] a, float[] b, int[] params, int pb) {
        int i = k.globalIdx;
        if (i < params[pb + N]) {
            Activations.swigluForwardCell(out, params[pb + OFF0], a, params[pb + OFF0 + 1], b, params[pb + OFF0 + 2], i);
        }
    }

    public static void swigluBackward(KernelContext k, float[] da, float[] db, float[] dy, float[] a, float[] b,
                                      int[] params, int pb) {
        int i = k.globalIdx;
        if (i < params[pb + N]) {
            Activations.swigluBackwardCell(da, params[pb + OFF0], db, params[pb + OFF0 + 1], dy, params[pb + OFF0 + 2], a, params[pb + OFF0 + 3],
                    b, params[pb + OFF0 + 4], i);
        }
    }

    public static void geluForward(KernelContext k, float[] out, float[] x, int[] params, int pb) {
        int i = k.globalIdx;
        if (i < params[pb + N]) {
            Activations.geluForwardCell(out, params[pb + OFF0], x, params[pb + OFF0 + 1], i);
        }
    }

    /** dx += dy * gelu'(x). */
    public static void geluBackward(KernelContext k, float[] dx, float[] dy, float[] x, int[] params, int pb) {
        int i = k.globalIdx;
        if (i < params[pb + N]) {
            Activations.geluBackwardCell(dx, params[pb + OFF0], dy, params[pb + OFF0 + 1], x, params[pb + OFF0 + 2], i);
        }
    }
}
