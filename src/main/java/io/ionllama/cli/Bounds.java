package io.ionllama.cli;

import java.util.Locale;

/**
 * The ranges of the numeric flags, and the check that says in one line which flag, which value
 * and which range. Each bound is what a run can actually do here, so a value outside it fails at
 * once instead of as an internal error, an endless step or an out-of-memory minutes later.
 */
final class Bounds {
    private Bounds() {}

    /** Sequences per micro-batch: beyond this the step's activations cannot fit any heap we run on. */
    static final int MAX_BATCH = 4096;
    /** Bytes per sequence (1 MiB of context). */
    static final int MAX_SEQ_LEN = 1 << 20;
    /** Bytes per micro-batch (batch x seq-len): the input arrays and every activation scale with it. */
    static final long MAX_BATCH_BYTES = 1 << 24;
    /** Micro-batches per optimizer step: more makes a step that does not end in any useful time. */
    static final int MAX_GRAD_ACCUM = 1024;
    /** Largest peak learning rate: far above anything that trains (1 already diverges). */
    static final double MAX_LR = 10;
    /** Counts of steps, evaluations and intervals: large enough for any run, small enough to be meant. */
    static final long MAX_STEPS = 1_000_000_000_000L;
    static final int MAX_INTERVAL = 1_000_000_000;
    /** --max-time: one year. */
    static final long MAX_SECONDS = 365L * 24 * 3600;
    /** Widths of the model's layers and of the n-gram tables. */
    static final int MAX_WIDTH = 16_384, MAX_MLP = 65_536, MAX_BUCKETS = 1 << 24, MAX_LAYERS = io.ionllama.model.ModelConfig.MAX_LAYERS, MAX_HEADS = 1024;
    /** Bytes generated or scored in one go (the generator keeps them all). */
    static final int MAX_BYTES = 1 << 20;

    /**
     * Worker threads: more than a few per hardware thread only adds stacks and waiting (100,000
     * took a minute to start and then ran out of memory).
     */
    static int maxThreads() {
        return Math.max(256, 4 * Runtime.getRuntime().availableProcessors());
    }

    static int check(String flag, int v, long lo, long hi) {
        return (int) check(flag, (long) v, lo, hi);
    }

    static long check(String flag, long v, long lo, long hi) {
        if (v < lo || v > hi) {
            throw new Errors.UserError(flag + " must be between " + num(lo) + " and " + num(hi) + " (got " + num(v) + ")");
        }
        return v;
    }

    static double check(String flag, double v, double lo, double hi) {
        if (!(v >= lo && v <= hi)) {
            throw new Errors.UserError(flag + " must be between " + num(lo) + " and " + num(hi) + " (got " + num(v) + ")");
        }
        return v;
    }

    /** {@code v} in [0, 1): a fraction of something that must leave some of the rest. */
    static double fraction(String flag, double v) {
        if (!(v >= 0 && v < 1)) {
            throw new Errors.UserError(flag + " must be at least 0 and below 1 (got " + num(v) + ")");
        }
        return v;
    }

    /** {@code v} in (0, hi]: a rate that must be above zero. */
    static double positive(String flag, double v, double hi) {
        if (!(v > 0 && v <= hi)) {
            throw new Errors.UserError(flag + " must be above 0 and at most " + num(hi) + " (got " + num(v) + ")");
        }
        return v;
    }

    /** Batch and sequence length together: each in range, and their product within {@link #MAX_BATCH_BYTES}. */
    static void batch(String batchFlag, int batch, String seqFlag, int seqLen, int minSeqLen) {
        check(batchFlag, batch, 1, MAX_BATCH);
        check(seqFlag, seqLen, minSeqLen, MAX_SEQ_LEN);
        if ((long) batch * seqLen > MAX_BATCH_BYTES) {
            throw new Errors.UserError(batchFlag + " x " + seqFlag + " must be at most " + num(MAX_BATCH_BYTES)
                    + " bytes per batch (got " + batch + " x " + seqLen + " = " + num((long) batch * seqLen) + ")");
        }
    }

    static String num(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        // A float flag's value widened to double: print it as the float it was (0.8, not 0.800000011920929).
        return String.format(Locale.ROOT, "%s", (double) (float) v == v ? (Object) (float) v : (Object) v);
    }
}
