package io.ionllama.data;

import java.util.SplittableRandom;

/**
 * Picks the training windows of each step. The windows of step s depend only on (seed, s), so a
 * resumed run draws exactly the batches the uninterrupted run would have drawn: the checkpoint
 * needs to store only the step, never a generator's internal state.
 *
 * <p>A batch is {@code batch} windows of {@code seqLen + 1} bytes, laid out back to back:
 * inputs are bytes {@code [0, seqLen)} of each window, targets bytes {@code [1, seqLen]}. With
 * {@code train --mix-tasks F} a fraction F of the windows are task lines instead ({@link TaskMix}),
 * chosen by (seed, step, row) as well.
 */
public final class BatchSampler {
    private final ByteSource source;
    private final long seed;
    private final int batch;
    private final int seqLen;
    private final TaskMix taskMix;

    public BatchSampler(ByteSource source, long seed, int batch, int seqLen) {
        this(source, seed, batch, seqLen, 0);
    }

    /** A sampler that makes a fraction {@code mixTasks} of its windows task lines ({@link TaskMix}). */
    public BatchSampler(ByteSource source, long seed, int batch, int seqLen, double mixTasks) {
        if (source.size() < seqLen + 1L) {
            throw new Corpus.DataException(String.format("data too short: a window needs %,d bytes, the source has %,d",
                    seqLen + 1L, source.size()));
        }
        this.source = source;
        this.seed = seed;
        this.batch = batch;
        this.seqLen = seqLen;
        this.taskMix = new TaskMix(seed, mixTasks);
    }

    /** Fills {@code inputs[batch*seqLen]} and {@code targets[batch*seqLen]} with step {@code step}'s windows. */
    public void fill(long step, int[] inputs, int[] targets, int[] window) {
        SplittableRandom rnd = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (step + 1)));
        long span = source.size() - seqLen;
        for (int b = 0; b < batch; b++) {
            // Drawn for every row, task window or not: without mixing the batches are what they always were.
            long start = rnd.nextLong(span);
            if (!taskMix.fill(step, b, window, seqLen + 1)) {
                source.read(start, window, 0, seqLen + 1);
            }
            System.arraycopy(window, 0, inputs, b * seqLen, seqLen);
            System.arraycopy(window, 1, targets, b * seqLen, seqLen);
        }
    }

    /** The fraction of windows that are task lines. */
    public double mixTasks() {
        return taskMix.fraction();
    }

    public int batch() {
        return batch;
    }

    public int seqLen() {
        return seqLen;
    }
}
