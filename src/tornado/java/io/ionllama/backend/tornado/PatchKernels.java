package io.ionllama.backend.tornado;

import io.ionllama.kernels.Patching;
import uk.ac.manchester.tornado.api.KernelContext;

/**
 * The patch boundaries' device kernels, run in this order in one graph ({@link PatchGraphs}):
 * <pre>
 *   calibrate   one work-group of GROUP threads: θ = the batch's quantile (Patching.selectScore,
 *               each pass split over the threads, partials in local memory, thread 0 narrows)
 *   decide      thread b = sequence b            Patching.decideSequence (reads θ from the state)
 *   prefix      thread 0 only                    Patching.prefix
 *   rows        thread b = sequence b            Patching.rowsSequence
 * </pre>
 * B, T, the warm-up length, whether to calibrate and the quantile's rank come from {@code params}
 * (they change between calls: a generation prefill has other B and T than training, the warm-up
 * ends and the rank follows the level); the mode, fixed length and maxPatch are compiled in.
 * Every array is used from index 0 (the model's own arrays, or the per-op graph's staging).
 * The quantile uses comparisons only, so its result is the same score as on the CPU.
 */
public final class PatchKernels {
    private PatchKernels() {}

    /** Indexes into {@code params}. */
    public static final int B = 0, T = 1, WARMUP = 2, CALIBRATE = 3, RANK = 4, PARAMS = 5;

    /** Threads of the calibration's single work-group. */
    public static final int GROUP = 256;

    public static void calibrate(KernelContext k, float[] h, float[] state, int[] params, int pb, int mode) {
        int[] counts = k.allocateIntLocalArray(GROUP);
        float[] lows = k.allocateFloatLocalArray(GROUP);
        float[] highs = k.allocateFloatLocalArray(GROUP);
        float[] bounds = k.allocateFloatLocalArray(2);
        int lid = k.localIdx;
        int calibrate = params[pb + CALIBRATE];
        if (calibrate != 0) {
            int T = params[pb + PatchKernels.T];
            int n = params[pb + B] * T;
            int rank = params[pb + RANK];
            float init = Patching.score(h, mode, T, Patching.firstScore(mode));
            lows[lid] = Patching.minScore(h, mode, T, n, lid, GROUP, init);
            highs[lid] = Patching.maxScore(h, mode, T, n, lid, GROUP, init);
            k.localBarrier();
            if (lid == 0) {
                float lo = lows[0];
                float hi = highs[0];
                for (int j = 1; j < GROUP; j++) {
                    lo = Math.min(lo, lows[j]);
                    hi = Math.max(hi, highs[j]);
                }
                bounds[0] = lo;
                bounds[1] = hi;
            }
            k.localBarrier();
            // Every round moves lo up or hi down to another score: at most n rounds. All threads
            // read the same bounds after the barrier, so they leave the loop together.
            for (int round = 0; round <= n && bounds[0] < bounds[1]; round++) {
                float lo = bounds[0];
                float hi = bounds[1];
                float mid = Patching.midpoint(lo, hi);
                counts[lid] = Patching.countAtMost(h, mode, T, n, lid, GROUP, mid);
                lows[lid] = Patching.maxBetween(h, mode, T, n, lid, GROUP, lo, mid, lo);
                highs[lid] = Patching.minAbove(h, mode, T, n, lid, GROUP, mid, hi, hi);
                k.localBarrier();
                if (lid == 0) {
                    int c = 0;
                    float below = lo;
                    float above = hi;
                    for (int j = 0; j < GROUP; j++) {
                        c += counts[j];
                        below = Math.max(below, lows[j]);
                        above = Math.min(above, highs[j]);
                    }
                    if (c >= rank + 1) {
                        bounds[1] = below;
                    } else {
                        bounds[0] = above;
                    }
                }
                k.localBarrier();
            }
            if (lid == 0) {
                state[Patching.STATE_THETA] = bounds[1];
            }
        }
    }

    public static void decide(KernelContext k, int[] ends, int[] seqCount, int[] bytes, float[] h, float[] state, int[] params, int pb,
                              int mode, int fixedLength, int maxPatch) {
        int b = k.globalIdx;
        if (b < params[pb + B]) {
            Patching.decideSequence(ends, seqCount, bytes, h, mode, fixedLength, maxPatch, params[pb + WARMUP],
                    state[Patching.STATE_THETA], params[pb + T], b);
        }
    }

    public static void prefix(KernelContext k, int[] seqStart, int[] seqCount, int[] params, int pb) {
        if (k.globalIdx == 0) {
            Patching.prefix(seqStart, seqCount, params[pb + B]);
        }
    }

    public static void rows(KernelContext k, int[] endRows, int[] pi, int[] ends, int[] seqStart, int[] params, int pb) {
        int b = k.globalIdx;
        if (b < params[pb + B]) {
            Patching.rowsSequence(endRows, pi, ends, seqStart, params[pb + T], b);
        }
    }
}
