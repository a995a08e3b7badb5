package io.ionllama.backend.cpu;

import io.ionllama.kernels.Losses;

/**
 * The CPU schedule of the losses: cross-entropy forward and backward (its softmax fused),
 * entropy, argmax and the batch statistics ({@code kernels.Losses}). The device
 * counterpart is {@code backend/tornado/LossGraphs}.
 *
 * <p>Per-row ops split rows (a row's V logits are one unit). The batch statistics are one
 * sequential unit on the caller's thread, so their sums have the same rounding for any thread
 * count.
 */
final class CpuLosses {

    private final WorkerPool pool;
    /** Whether the cross-entropy forward runs on {@link SimdElementwise} (tested against the unit). */
    private final boolean simdOps;

    CpuLosses(WorkerPool pool, boolean simdOps) {
        this.pool = pool;
        this.simdOps = simdOps;
    }

    private static final int LOSS_ENTROPY = 1, LOSS_ARGMAX = 2;

    private static final class RowLogitsTask implements WorkerPool.RangeTask {
        float[] outF, logits;
        int[] outI;
        int outOff, logitsOff, V, op;

        @Override
        public void run(int from, int to) {
            for (int n = from; n < to; n++) {
                switch (op) {
                    case LOSS_ENTROPY -> Losses.entropyRow(outF, outOff, logits, logitsOff, V, n);
                    default -> Losses.argmaxRow(outI, outOff, logits, logitsOff, V, n);
                }
            }
        }
    }

    private final class CrossEntropyForwardTask implements WorkerPool.RangeTask {
        float[] losses, probs, logits;
        int[] targets;
        int lossesOff, probsOff, logitsOff, targetsOff, V;

        @Override
        public void run(int from, int to) {
            for (int n = from; n < to; n++) {
                if (simdOps) {
                    SimdElementwise.crossEntropyForwardRow(losses, lossesOff, probs, probsOff, logits, logitsOff,
                            targets, targetsOff, V, n);
                } else {
                    Losses.crossEntropyForwardRow(losses, lossesOff, probs, probsOff, logits, logitsOff,
                            targets, targetsOff, V, n);
                }
            }
        }
    }

    private static final class CrossEntropyBackwardTask implements WorkerPool.RangeTask {
        float[] dlogits, probs, dloss;
        int[] targets;
        int dlogitsOff, probsOff, targetsOff, dlossOff, dlossStride, V;

        @Override
        public void run(int from, int to) {
            for (int n = from; n < to; n++) {
                Losses.crossEntropyBackwardRow(dlogits, dlogitsOff, probs, probsOff, targets, targetsOff,
                        dloss, dlossOff, dlossStride, V, n);
            }
        }
    }

    private final RowLogitsTask rowLogits = new RowLogitsTask();
    private final CrossEntropyForwardTask crossEntropyForward = new CrossEntropyForwardTask();
    private final CrossEntropyBackwardTask crossEntropyBackward = new CrossEntropyBackwardTask();

    private void rowLogits(int op, float[] outF, int[] outI, int outOff, float[] logits, int logitsOff,
                           int rows, int V) {
        RowLogitsTask t = rowLogits;
        t.op = op; t.outF = outF; t.outI = outI; t.outOff = outOff; t.logits = logits; t.logitsOff = logitsOff;
        t.V = V;
        pool.parallelFor(rows, t);
    }

    void crossEntropyForward(float[] losses, int lossesOff, float[] probs, int probsOff,
                             float[] logits, int logitsOff, int[] targets, int targetsOff, int rows, int V) {
        CrossEntropyForwardTask t = crossEntropyForward;
        t.losses = losses; t.lossesOff = lossesOff; t.probs = probs; t.probsOff = probsOff;
        t.logits = logits; t.logitsOff = logitsOff; t.targets = targets; t.targetsOff = targetsOff; t.V = V;
        pool.parallelFor(rows, t);
    }

    void crossEntropyBackward(float[] dlogits, int dlogitsOff, float[] probs, int probsOff,
                              int[] targets, int targetsOff, float[] dloss, int dlossOff, int dlossStride,
                              int rows, int V) {
        CrossEntropyBackwardTask t = crossEntropyBackward;
        t.dlogits = dlogits; t.dlogitsOff = dlogitsOff; t.probs = probs; t.probsOff = probsOff;
        t.targets = targets; t.targetsOff = targetsOff; t.dloss = dloss; t.dlossOff = dlossOff;
        t.dlossStride = dlossStride; t.V = V;
        pool.parallelFor(rows, t);
    }

    void entropy(float[] entropy, int entropyOff, float[] logits, int logitsOff, int rows, int V) {
        rowLogits(LOSS_ENTROPY, entropy, null, entropyOff, logits, logitsOff, rows, V);
    }

    void argmax(int[] argmax, int argmaxOff, float[] logits, int logitsOff, int rows, int V) {
        rowLogits(LOSS_ARGMAX, null, argmax, argmaxOff, logits, logitsOff, rows, V);
    }

    void lossStats(float[] stats, int statsOff, float[] losses, int lossesOff, int[] argmax, int argmaxOff,
                   int[] targets, int targetsOff, int rows) {
        // One sequential unit: a sum over a batch's rows is too cheap to split, and splitting it
        // would change its rounding with the thread count.
        Losses.lossStatsCell(stats, statsOff, losses, lossesOff, argmax == null ? targets : argmax, argmaxOff,
                argmax == null ? 0 : 1, targets, targetsOff, rows);
    }
}
