package io.ionllama.backend.tornado;

import io.ionllama.kernels.Matmul;
import uk.ac.manchester.tornado.api.KernelContext;

/**
 * The matmul's device kernels: each maps one device thread (work-item) to one call of a unit in
 * {@link Matmul}, which TornadoVM inlines into the generated OpenCL/PTX. The math is never copied
 * here; a kernel only turns its thread index into the unit's indexes and masks the threads that
 * fall outside the tensor (the grid is rounded up to whole work-groups).
 *
 * <p>Arguments, and why they look like this (see docs/gpu.md):
 * <ul>
 *   <li>array offsets come from {@code params} too: 0 for the per-op graphs' staging buffers, the
 *       caller's offsets when a graph is bound to the caller's own arrays ({@link Residency});</li>
 *   <li>{@code in}, {@code out} and {@code hasBias} are scalars: TornadoVM compiles them in as
 *       constants, so they are part of the key a graph is cached under;</li>
 *   <li>the row count changes between executions (batch x sequence, patches per batch), so it is
 *       never a scalar: it is read from {@code params[ROWS]}, an {@code int[]} transferred on
 *       every execution (docs/gpu.md, pitfall 3), and the grid is set per execution.</li>
 * </ul>
 * Grids (x is the fastest-varying dimension, chosen so neighbouring threads read neighbouring
 * floats where the unit allows it):
 * <pre>
 *   forward        x = o (output feature), y = n (row)       one y[n,o] each
 *   backwardInput  x = i (input feature),  y = n (row)       one dx[n,i] each
 *   backwardWeight x = i (input feature),  y = o (output)    one dW[o,i] each, sums over rows
 *   backwardBias   x = o                                     one db[o] each, sums over rows
 *   forwardTiled   x = o, y = n, work-groups of tile x tile  one y[n,o] each, via local memory
 * </pre>
 */
public final class MatmulKernels {
    private MatmulKernels() {}

    /** Index of the row count in the {@code params} array every matmul graph transfers. */
    public static final int ROWS = 0;
    /**
     * Offsets in {@code params}, in the order of each kernel's arrays: forward y, x, w, b;
     * backwardInput dx, dy, w; backwardWeight dw, dy, x, then db (read by backwardBias with dy).
     */
    public static final int OFF0 = 1, PARAMS = 5;

    /** Largest tile of {@link #forwardTiled}: its local arrays are sized for it (2 x 4 KiB). */
    public static final int MAX_TILE = 32;

    public static void forward(KernelContext c, float[] y, float[] x, float[] w, float[] b, int[] params, int pb,
                               int hasBias, int in, int out) {
        int o = c.globalIdx;
        int n = c.globalIdy;
        if (n < params[pb + ROWS] && o < out) {
            Matmul.forwardCell(y, params[pb + OFF0], x, params[pb + OFF0 + 1], w, params[pb + OFF0 + 2], b, params[pb + OFF0 + 3], hasBias, in, out,
                    n, o);
        }
    }

    /**
     * {@link #forward} for a bias stored in the weight's own array (the model keeps all
     * parameters in one array): TornadoVM cannot compile a task given the same array twice, so
     * this task gets it once and reads the bias at {@code params[OFF0 + 3]} of {@code w}.
     */
    public static void forwardBiasInWeights(KernelContext c, float[] y, float[] x, float[] w, int[] params, int pb, int in, int out) {
        int o = c.globalIdx;
        int n = c.globalIdy;
        if (n < params[pb + ROWS] && o < out) {
            Matmul.forwardCell(y, params[pb + OFF0], x, params[pb + OFF0 + 1], w, params[pb + OFF0 + 2], w, params[pb + OFF0 + 3], 1, in, out, n, o);
        }
    }

    public static void backwardInput(KernelContext c, float[] dx, float[] dy, float[] w, int[] params, int pb,
                                     int in, int out) {
        int i = c.globalIdx;
        int n = c.globalIdy;
        if (n < params[pb + ROWS] && i < in) {
            Matmul.backwardInputCell(dx, params[pb + OFF0], dy, params[pb + OFF0 + 1], w, params[pb + OFF0 + 2], in, out, n, i);
        }
    }

    public static void backwardWeight(KernelContext c, float[] dw, float[] dy, float[] x, int[] params, int pb,
                                      int in, int out) {
        int i = c.globalIdx;
        int o = c.globalIdy;
        if (o < out && i < in) {
            Matmul.backwardWeightCell(dw, params[pb + OFF0], dy, params[pb + OFF0 + 1], x, params[pb + OFF0 + 2], params[pb + ROWS], in, out, o, i);
        }
    }

    /** {@link #backwardBias} for a bias gradient in the weight gradient's own array (see {@link #forwardBiasInWeights}). */
    public static void backwardBiasInWeights(KernelContext c, float[] dw, float[] dy, int[] params, int pb, int out) {
        int o = c.globalIdx;
        if (o < out) {
            Matmul.backwardBiasCell(dw, params[pb + OFF0 + 3], dy, params[pb + OFF0 + 1], params[pb + ROWS], out, o);
        }
    }

    public static void backwardBias(KernelContext c, float[] db, float[] dy, int[] params, int pb, int out) {
        int o = c.globalIdx;
        if (o < out) {
            Matmul.backwardBiasCell(db, params[pb + OFF0 + 3], dy, params[pb + OFF0 + 1], params[pb + ROWS], out, o);
        }
    }

    /**
     * y = x W^T + b with tiles in local (work-group shared) memory: the device-specific variant,
     * tested against {@link Matmul#forwardCell}. A work-group of {@code tile x tile} threads (the
     * worker grid's local size, read here as {@code localGroupSizeX}; at most {@link #MAX_TILE})
     * computes a {@code tile x tile} block of y. For each slice of {@code tile} input features it
     * loads the x block and the W block once into local memory, waits at a barrier, and every
     * thread then reads its row of both from there instead of from global memory: each loaded
     * float is reused {@code tile} times.
     *
     * <p>Every thread still adds its products in order i = 0, 1, ..., in-1 (out-of-range features
     * are loaded as 0 and add exactly 0), so it matches the unit up to fma rounding. Threads
     * outside the tensor take part in the loads and barriers (a barrier must be reached by every
     * thread of the group) and only skip the final store.
     */
    public static void forwardTiled(KernelContext c, float[] y, float[] x, float[] w, float[] b, int[] params, int pb,
                                    int hasBias, int in, int out) {
        float[] xs = c.allocateFloatLocalArray(MAX_TILE * MAX_TILE);
        float[] ws = c.allocateFloatLocalArray(MAX_TILE * MAX_TILE);
        int tile = c.localGroupSizeX;
        int lo = c.localIdx;
        int ln = c.localIdy;
        int o0 = c.groupIdx * tile;
        int n0 = c.groupIdy * tile;
        int rows = params[pb + ROWS];
        int yOff = params[pb + OFF0];
        int xOff = params[pb + OFF0 + 1];
        int wOff = params[pb + OFF0 + 2];
        int bOff = params[pb + OFF0 + 3];
        int xRow = n0 + ln;
        int wRow = o0 + ln;
        float acc = 0f;
        for (int t = 0; t < in; t += tile) {
            int i = t + lo;
            // Thread (lo, ln) loads x[n0+ln, t+lo] and W[o0+ln, t+lo].
            xs[ln * tile + lo] = (xRow < rows && i < in) ? x[xOff + xRow * in + i] : 0f;
            ws[ln * tile + lo] = (wRow < out && i < in) ? w[wOff + wRow * in + i] : 0f;
            c.localBarrier();
            for (int k = 0; k < tile; k++) {
                acc += xs[ln * tile + k] * ws[lo * tile + k];
            }
            // Nobody may overwrite the tiles while a neighbour still reads them.
            c.localBarrier();
        }
        int o = o0 + lo;
        int n = n0 + ln;
        if (n < rows && o < out) {
            if (hasBias != 0) {
                acc += b[bOff + o];
            }
            y[yOff + n * out + o] = acc;
        }
    }
}
