package io.ionllama.backend.tornado;

import io.ionllama.kernels.Activations;
import io.ionllama.kernels.Elementwise;
import io.ionllama.kernels.IntegralGate;
import io.ionllama.kernels.Scan;
import uk.ac.manchester.tornado.api.KernelContext;

/**
 * The glue's device kernels: {@link Elementwise}'s range units called for a range of one element
 * per thread, {@link Activations}'s SwiGLU cells, and {@link IntegralGate}'s row and channel
 * units. Arrays are staging buffers (offset 0); the element or row count comes from
 * {@code params[N]} (it changes with every call), fill's value from {@code value[0]} (a scalar
 * argument would be compiled in).
 * <pre>
 *   copy, accumulate, fill, swiglu*   thread i = element i
 *   scanStep                          thread c = channel c (generation: h = a h + (1 - a) u)
 *   gateForward, gateBackwardInput    thread n = row n (C channels each)
 *   gateBackwardLambda                thread c = channel c, sums its rows in order
 * </pre>
 */
public final class GlueKernels {
    private GlueKernels() {}

    /** Index of the element (or row) count in {@code params}. */
    public static final int N = 0;

    public static void copy(KernelContext k, float[] dst, float[] src, int[] params) {
        int i = k.globalIdx;
        if (i < params[N]) {
            Elementwise.copyRange(dst, 0, src, 0, i, i + 1);
        }
    }

    public static void accumulate(KernelContext k, float[] dst, float[] src, int[] params) {
        int i = k.globalIdx;
        if (i < params[N]) {
            Elementwise.accumulateRange(dst, 0, src, 0, i, i + 1);
        }
    }

    public static void fill(KernelContext k, float[] dst, float[] value, int[] params) {
        int i = k.globalIdx;
        if (i < params[N]) {
            Elementwise.fillRange(dst, 0, value[0], i, i + 1);
        }
    }

    public static void swigluForward(KernelContext k, float[] out, float[] a, float[] b, int[] params) {
        int i = k.globalIdx;
        if (i < params[N]) {
            Activations.swigluForwardCell(out, 0, a, 0, b, 0, i);
        }
    }

    public static void swigluBackward(KernelContext k, float[] da, float[] db, float[] dy, float[] a, float[] b,
                                      int[] params) {
        int i = k.globalIdx;
        if (i < params[N]) {
            Activations.swigluBackwardCell(da, 0, db, 0, dy, 0, a, 0, b, 0, i);
        }
    }

    public static void gateForward(KernelContext k, float[] a, float[] z, float[] lambda, int[] params, int C) {
        int n = k.globalIdx;
        if (n < params[N]) {
            IntegralGate.forwardRow(a, 0, z, 0, lambda, 0, C, n);
        }
    }

    public static void gateBackwardInput(KernelContext k, float[] dz, float[] da, float[] a, float[] z, float[] lambda,
                                         int[] params, int C) {
        int n = k.globalIdx;
        if (n < params[N]) {
            IntegralGate.backwardInputRow(dz, 0, da, 0, a, 0, z, 0, lambda, 0, C, n);
        }
    }

    public static void gateBackwardLambda(KernelContext k, float[] dLambda, float[] da, float[] a, float[] z,
                                          float[] lambda, int[] params, int C) {
        int c = k.globalIdx;
        if (c < C) {
            IntegralGate.backwardLambdaCell(dLambda, 0, da, 0, a, 0, z, 0, lambda, 0, params[N], C, c);
        }
    }

    public static void scanStep(KernelContext k, float[] h, float[] a, float[] u, int[] params) {
        int c = k.globalIdx;
        if (c < params[N]) {
            Scan.step(h, 0, a, 0, u, 0, params[N], c);
        }
    }
}
