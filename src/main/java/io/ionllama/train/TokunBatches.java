package io.ionllama.train;

import io.ionllama.data.ByteSource;
import io.ionllama.model.Tokun;
import java.util.SplittableRandom;

/**
 * tokun's training batches: chunks of {@code chunk} bytes, as many as the trainer's arrays hold
 * (batch · seq-len bytes, a multiple of the chunk), drawn at random offsets
 * (not aligned, so the model sees every alignment of the text), each its own target. A fraction of
 * the chunks is cut short and filled with {@link Tokun#PAD} (target -1, not scored), so the pad
 * byte's embedding is trained for the last chunk of a text, which is padded at evaluation.
 * Micro-batch {@code micro} depends only on (seed, micro): a resumed run draws the same chunks.
 */
public final class TokunBatches implements Trainer.Batches {
    /** Chunks cut short and padded. */
    public static final double PAD_FRACTION = 0.125;

    private final ByteSource source;
    private final long seed;
    private final int chunk;

    public TokunBatches(ByteSource source, long seed, int chunk) {
        if (source.size() < chunk) {
            throw new IllegalArgumentException("training data of " + source.size() + " bytes is shorter than one "
                    + chunk + "-byte chunk");
        }
        this.source = source;
        this.seed = seed;
        this.chunk = chunk;
    }

    /** The trainer's sequence length for this chunk: whole chunks, at least the 8 bytes TrainConfig asks. */
    public static int seqLen(int chunk) {
        return chunk * Math.max(1, (8 + chunk - 1) / chunk);
    }

    @Override
    public void fill(long micro, int[] x, int[] y) {
        SplittableRandom rnd = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (micro + 1)));
        long span = source.size() - chunk + 1;
        for (int b = 0; b < x.length / chunk; b++) {
            int at = b * chunk;
            source.read(rnd.nextLong(span), x, at, chunk);
            int cut = rnd.nextDouble() < PAD_FRACTION ? 1 + rnd.nextInt(chunk - 1) : chunk;
            for (int t = 0; t < chunk; t++) {
                if (t >= cut) {
                    x[at + t] = Tokun.PAD;
                }
                y[at + t] = t < cut ? x[at + t] : -1;
            }
        }
    }
}
