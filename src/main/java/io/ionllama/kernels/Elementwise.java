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
 *   dropout:    y[i]    = keep(seed, i) ? y[i] / (1 - p) : 0
 * </pre>
 *
 * <p>Dropout's mask is a hash of (seed, element index), not stored random bits: the forward and
 * the backward (the same op applied to the gradient, since the mask is a linear map that is its
 * own transpose) recompute it, on any backend and for any thread split, from two integers.
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

    /**
     * The dropout threshold of rate {@code p}: an element is kept when its 24-bit hash is at least
     * this (so a fraction p of elements, to within 2^-24, is dropped).
     */
    public static int dropoutThreshold(float p) {
        return Math.round(p * (1 << 24));
    }

    /** Whether element {@code i} survives dropout of seed {@code seed} and threshold {@link #dropoutThreshold}. */
    public static boolean dropoutKeeps(int seed, int i, int threshold) {
        // The lowbias32 integer hash. Shifts are written as signed shifts and masks ((h >> 16) &
        // 0xFFFF is h >>> 16): TornadoVM 5.2's OpenCL code dropped elements the JVM kept with >>>.
        int h = seed ^ (i * 0x9E3779B9);
        h ^= (h >> 16) & 0xFFFF;
        h *= 0x7FEB352D;
        h ^= (h >> 15) & 0x1FFFF;
        h *= 0x846CA68B;
        h ^= (h >> 16) & 0xFFFF;
        return ((h >> 8) & 0xFFFFFF) >= threshold;
    }

    /** y[i] = keep(seed, i) ? y[i] * scale : 0 for i in [from, to); scale = 1 / (1 - p). */
    public static void dropoutRange(float[] y, int yOff, int seed, int threshold, float scale, int from, int to) {
        for (int i = from; i < to; i++) {
            y[yOff + i] = dropoutKeeps(seed, i, threshold) ? y[yOff + i] * scale : 0f;
        }
    }
}
