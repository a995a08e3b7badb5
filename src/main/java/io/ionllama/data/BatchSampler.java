package io.ionllama.data;

import java.util.SplittableRandom;

/**
 * Picks the training windows of each step. The windows of step s depend only on (seed, s), so a
 * resumed run draws exactly the batches the uninterrupted run would have drawn: the checkpoint
 * needs to store only the step, never a generator's internal state.
 *
 * <p>A batch is {@code batch} windows of {@code seqLen + 1} bytes, laid out back to back:
 * inputs are bytes {@code [0, seqLen)} of each window, targets bytes {@code [1, seqLen]}.
 */
public final class BatchSampler {
    private final ByteSource source;
    private final long seed;
    private final int batch;
    private final int seqLen;

    public BatchSampler(ByteSource source, long seed, int batch, int seqLen) {
        if (source.size() < seqLen + 1L) {
            throw new Corpus.DataException(String.format("data too short: a window needs %,d bytes, the source has %,d",
                    seqLen + 1L, source.size()));
        }
        this.source = source;
        this.seed = seed;
        this.batch = batch;
        this.seqLen = seqLen;
    }

    /** Fills {@code inputs[batch*seqLen]} and {@code targets[batch*seqLen]} with step {@code step}'s windows. */
    public void fill(long step, int[] inputs, int[] targets, int[] window) {
        SplittableRandom rnd = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (step + 1)));
        long span = source.size() - seqLen;
        for (int b = 0; b < batch; b++) {
            long start = rnd.nextLong(span);
            source.read(start, window, 0, seqLen + 1);
            System.arraycopy(window, 0, inputs, b * seqLen, seqLen);
            System.arraycopy(window, 1, targets, b * seqLen, seqLen);
        }
    }

    public int batch() {
        return batch;
    }

    public int seqLen() {
        return seqLen;
    }
}
