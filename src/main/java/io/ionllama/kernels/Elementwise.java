package io.ionllama.kernels;

/**
 * The glue between layers: residual sums, gradient accumulation, zeroing. Units are element
 * ranges {@code [from, to)} (the CPU runs one range per thread, a device one element per
 * work-item, i.e. a range of length one).
 *
 * <pre>
 *   copy:       dst[i]  = src[i]
 *   add:        out[i]  = a[i] + b[i]          (residual stream)
 *   accumulate: dst[i] += src[i]               (the backward of add, and of any fan-out)
 *   fill:       dst[i]  = value                (zeroing gradient buffers before a backward)
 *   axpby:      y[i]    = alpha y[i] + beta x[i]   (Muon's momentum, Newton–Schulz and update)
 *   scale:      y[i]    = alpha y[i]
 *   transpose:  dst[j, k] = src[k, j]          (src [rows, cols], dst [cols, rows]; i = j rows + k)
 * </pre>
 */
public final class Elementwise {
    private Elementwise() {}

    public static void copyRange(float[] dst, int dstOff, float[] src, int srcOff, int from, int to) {
        for (int i = from; i < to; i++) {
            dst[dstOff + i] = src[srcOff + i];
        }
    }

    public static void addRange(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int from, int to) {
        for (int i = from; i < to; i++) {
            out[outOff + i] = a[aOff + i] + b[bOff + i];
        }
    }

    public static void accumulateRange(float[] dst, int dstOff, float[] src, int srcOff, int from, int to) {
        for (int i = from; i < to; i++) {
            dst[dstOff + i] += src[srcOff + i];
        }
    }

    public static void fillRange(float[] dst, int dstOff, float value, int from, int to) {
        for (int i = from; i < to; i++) {
            dst[dstOff + i] = value;
        }
    }

    public static void axpbyRange(float[] y, int yOff, float alpha, float[] x, int xOff, float beta, int from, int to) {
        for (int i = from; i < to; i++) {
            y[yOff + i] = alpha * y[yOff + i] + beta * x[xOff + i];
        }
    }

    public static void scaleRange(float[] y, int yOff, float alpha, int from, int to) {
        for (int i = from; i < to; i++) {
            y[yOff + i] = alpha * y[yOff + i];
        }
    }

    /** Elements {@code [from, to)} of dst, the {@code [cols, rows]} transpose of src {@code [rows, cols]}. */
    public static void transposeRange(float[] dst, int dstOff, float[] src, int srcOff, int rows, int cols, int from, int to) {
        for (int i = from; i < to; i++) {
            int j = i / rows, k = i - j * rows;
            dst[dstOff + i] = src[srcOff + k * cols + j];
        }
    }
}
