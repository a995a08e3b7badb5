package io.ionllama.backend.cpu;

import io.ionllama.kernels.Patching;

/**
 * The CPU schedule of the patch boundaries ({@code kernels.Patching}): the entropy threshold's
 * calibration, the boundary decision, the per-sequence prefix and the patch rows. The device
 * counterpart is {@code backend/tornado/PatchGraphs}.
 *
 * <p>One unit per sequence (its bytes in order) for the decision and the rows; the prefix and the
 * quantile are sequential on the caller's thread (the quantile's result is one of the scores,
 * whatever the order).
 */
final class CpuPatching {

    private final WorkerPool pool;

    CpuPatching(WorkerPool pool) {
        this.pool = pool;
    }

    private static final class PatchTask implements WorkerPool.RangeTask {
        int[] ends, endRows, pi, seqStart, seqCount, bytes;
        float[] hNext;
        float theta;
        int T, mode, fixedLength, maxPatch, warmupFixed;
        boolean rows;

        @Override
        public void run(int from, int to) {
            for (int b = from; b < to; b++) {
                if (rows) {
                    Patching.rowsSequence(endRows, pi, ends, seqStart, T, b);
                } else {
                    Patching.decideSequence(ends, seqCount, bytes, hNext, mode, fixedLength, maxPatch, warmupFixed, theta, T, b);
                }
            }
        }
    }

    private final PatchTask patch = new PatchTask();

    void patchBoundaries(int[] ends, int[] endRows, int[] pi, int[] seqStart, int[] seqCount, int[] bytes,
                         float[] hNext, float[] state, int B, int T, int mode, int fixedLength, int maxPatch,
                         int warmupFixed, int calibrate, int rank) {
        if (calibrate != 0 && Patching.scoreCount(mode, B, T) > 0) {
            state[Patching.STATE_THETA] = Patching.selectScore(hNext, mode, B, T, rank);
        }
        PatchTask t = patch;
        t.ends = ends; t.endRows = endRows; t.pi = pi; t.seqStart = seqStart; t.seqCount = seqCount; t.bytes = bytes;
        t.hNext = hNext; t.theta = state[Patching.STATE_THETA]; t.T = T; t.mode = mode; t.fixedLength = fixedLength;
        t.maxPatch = maxPatch; t.warmupFixed = warmupFixed;
        t.rows = false;
        pool.parallelFor(B, t);
        Patching.prefix(seqStart, seqCount, B);
        t.rows = true;
        pool.parallelFor(B, t);
    }
}
