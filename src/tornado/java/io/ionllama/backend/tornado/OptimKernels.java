package io.ionllama.backend.tornado;

import io.ionllama.kernels.Optim;
import uk.ac.manchester.tornado.api.KernelContext;

/**
 * The optimizer's device kernels. AdamW: one thread per element, calling {@link Optim#adamwRange}
 * for a range of one; its hyper-parameters change every step (learning-rate schedule, bias
 * corrections, clip scale), so they come from the float array {@code hyper}, never scalars.
 * Sum of squares: one thread per block of {@link Optim#BLOCK} elements writing its partial sum
 * ({@link Optim#sumSquaresBlock}); the host adds the partials in block order, as the CPU does.
 * No {@code @Reduce} (docs/gpu.md, pitfall 4).
 */
public final class OptimKernels {
    private OptimKernels() {}

    /** Indexes into {@code params}: elements, then the offset of g (sums of squares). */
    public static final int N = 0, G_OFF = 1, PARAMS = 2;
    /** Indexes into {@code hyper}. */
    public static final int LR = 0, BETA1 = 1, BETA2 = 2, EPS = 3, WD = 4, BC1 = 5, BC2 = 6, SCALE = 7, HYPER = 8;

    public static void adamw(KernelContext k, float[] p, float[] g, float[] m, float[] v, float[] hyper, int[] params, int pb) {
        int i = k.globalIdx;
        if (i < params[pb + N]) {
            Optim.adamwRange(p, g, m, v, 0, hyper[LR], hyper[BETA1], hyper[BETA2], hyper[EPS], hyper[WD], hyper[BC1],
                    hyper[BC2], hyper[SCALE], i, i + 1);
        }
    }

    /** Layout of the {@code table} of {@link #adamwTensors}: the tensor count, then count + 1 prefix sums of the sizes, then count offsets. */
    public static final int COUNT = 0, PREFIX = 1;

    /**
     * AdamW over a list of tensors in one launch: thread j takes the j-th element of the tensors
     * laid end to end, finds its tensor k by binary search over the prefix sums (the last k with
     * prefix[k] <= j, which skips empty tensors) and updates element offs[k] + j - prefix[k] with
     * that tensor's weight decay, {@code hyper[HYPER + k]}.
     */
    public static void adamwTensors(KernelContext k, float[] p, float[] g, float[] m, float[] v, float[] hyper, int hb, int[] table, int tb) {
        int j = k.globalIdx;
        int count = table[tb + COUNT];
        if (j < table[tb + PREFIX + count]) {
            int lo = rangeOf(table, tb + PREFIX, count, j);
            int i = table[tb + PREFIX + count + 1 + lo] + j - table[tb + PREFIX + lo];
            Optim.adamwRange(p, g, m, v, 0, hyper[hb + LR], hyper[hb + BETA1], hyper[hb + BETA2], hyper[hb + EPS], hyper[hb + HYPER + lo], hyper[hb + BC1],
                    hyper[hb + BC2], hyper[hb + SCALE], i, i + 1);
        }
    }

    /**
     * Layout of the {@code table} of {@link #sumSquaresTensors}: the range count, count + 1 prefix
     * sums of the ranges' block counts, then count offsets and count sizes.
     */
    public static final int RANGES = 0, BLOCK_PREFIX = 1;

    /**
     * The blocks of several ranges of g in one launch: thread j takes the j-th block of the ranges
     * laid end to end, finds its range by binary search over the block prefix sums, and writes
     * that block's sum of squares to partial[j].
     */
    public static void sumSquaresTensors(KernelContext k, double[] partial, float[] g, int[] table, int tb) {
        int j = k.globalIdx;
        int count = table[tb + RANGES];
        if (j < table[tb + BLOCK_PREFIX + count]) {
            int lo = rangeOf(table, tb + BLOCK_PREFIX, count, j);
            int offs = tb + BLOCK_PREFIX + count + 1;
            Optim.sumSquaresBlockAt(partial, j, g, table[offs + lo], table[offs + count + lo], j - table[tb + BLOCK_PREFIX + lo]);
        }
    }

    /**
     * The range holding item j of ranges laid end to end: the last k with
     * table[prefix + k] <= j (binary search over the count + 1 prefix sums; skips empty ranges).
     */
    static int rangeOf(int[] table, int prefix, int count, int j) {
        int lo = 0;
        int hi = count - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) / 2;
            if (table[prefix + mid] <= j) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo;
    }

    /**
     * One thread: coef[0] = {@link Optim#inverseNorm} of the sum of the partials of
     * {@link #sumSquares} (same params), added in block order as the host adds them.
     */
    public static void inverseNorm(KernelContext k, float[] coef, double[] partial, int[] params, int pb, double eps) {
        if (k.globalIdx == 0) {
            int blocks = (params[pb + N] + Optim.BLOCK - 1) / Optim.BLOCK;
            double s = 0;
            for (int b = 0; b < blocks; b++) {
                s += partial[b];
            }
            coef[0] = Optim.inverseNorm(s, eps);
        }
    }

    public static void sumSquares(KernelContext k, double[] partial, float[] g, int[] params, int pb) {
        int block = k.globalIdx;
        int n = params[pb + N];
        if (block < (n + Optim.BLOCK - 1) / Optim.BLOCK) {
            Optim.sumSquaresBlock(partial, g, params[pb + G_OFF], n, block);
        }
    }
}
