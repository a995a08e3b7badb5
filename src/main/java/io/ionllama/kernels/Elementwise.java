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
}
