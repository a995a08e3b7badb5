package io.ionllama.train;

/**
 * Everything that shapes a training run besides the model. Stored in checkpoints so a resumed
 * run continues with the same schedule.
 *
 * @param batch         sequences per micro-batch
 * @param seqLen        bytes per sequence
 * @param gradAccum     micro-batches per optimizer step
 * @param lr            peak learning rate
 * @param minLr         learning rate at the end of the cosine decay
 * @param warmup        linear warm-up steps
 * @param maxSteps      optimizer steps (the cosine's length)
 * @param optimizer     "adamw" or "muon"
 * @param weightDecay   decoupled weight decay on matrices
 * @param clip          global gradient-norm clip (0: off)
 * @param seed          initialisation and data order
 * @param entropyWarmup steps with fixed patches while the entropy model learns
 * @param adamwLr       with Muon, AdamW's peak rate for what Muon leaves to it (embeddings, norms,
 *                      heads), following the same schedule scaled by adamwLr / lr; 0: the same
 *                      rate as Muon's (ionLlama's default)
 * @param maxSeconds    a time budget in seconds (0: none). When set, the schedule is driven by time:
 *                      the warm-up stays in steps, and the cosine runs over the budget's training time
 *                      instead of over maxSteps ({@link #lrAt(long, double)}); the run stops at the
 *                      budget (or at maxSteps, whichever comes first)
 * @param dropout       dropout rate on the models' residual branches during training (0: off, the
 *                      default, as the source documents train); the masks of a step come from
 *                      (seed, step, micro-batch), so resume stays exact
 */
public record TrainConfig(int batch, int seqLen, int gradAccum, float lr, float minLr, int warmup, long maxSteps,
                          String optimizer, float weightDecay, float clip, long seed, int entropyWarmup, float adamwLr,
                          double maxSeconds, float dropout) {

    /** No dropout. */
    public TrainConfig(int batch, int seqLen, int gradAccum, float lr, float minLr, int warmup, long maxSteps,
                       String optimizer, float weightDecay, float clip, long seed, int entropyWarmup, float adamwLr,
                       double maxSeconds) {
        this(batch, seqLen, gradAccum, lr, minLr, warmup, maxSteps, optimizer, weightDecay, clip, seed, entropyWarmup, adamwLr,
                maxSeconds, 0f);
    }

    /** A step-driven run (no time budget). */
    public TrainConfig(int batch, int seqLen, int gradAccum, float lr, float minLr, int warmup, long maxSteps,
                       String optimizer, float weightDecay, float clip, long seed, int entropyWarmup, float adamwLr) {
        this(batch, seqLen, gradAccum, lr, minLr, warmup, maxSteps, optimizer, weightDecay, clip, seed, entropyWarmup, adamwLr, 0);
    }

    /** A run whose AdamW tensors, under Muon, share Muon's rate. */
    public TrainConfig(int batch, int seqLen, int gradAccum, float lr, float minLr, int warmup, long maxSteps,
                       String optimizer, float weightDecay, float clip, long seed, int entropyWarmup) {
        this(batch, seqLen, gradAccum, lr, minLr, warmup, maxSteps, optimizer, weightDecay, clip, seed, entropyWarmup, 0f);
    }

    public static TrainConfig defaults() {
        return new TrainConfig(8, 256, 1, 2e-3f, 2e-4f, 50, 1000, "adamw", 0.1f, 1.0f, 1337, 100);
    }

    /** Learning rate at optimizer step {@code step} (0-based): linear warm-up, then cosine to minLr. */
    public float lrAt(long step) {
        if (step < warmup) {
            return lr * (step + 1) / Math.max(1, warmup);
        }
        double progress = Math.min(1.0, (double) (step - warmup) / Math.max(1, maxSteps - warmup));
        return (float) (minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress)));
    }

    /** This configuration with a time budget of {@code seconds} (0: step-driven). */
    public TrainConfig withMaxSeconds(double seconds) {
        return new TrainConfig(batch, seqLen, gradAccum, lr, minLr, warmup, maxSteps, optimizer, weightDecay, clip, seed,
                entropyWarmup, adamwLr, seconds, dropout);
    }

    /** This configuration with dropout {@code p} on the residual branches. */
    public TrainConfig withDropout(float p) {
        return new TrainConfig(batch, seqLen, gradAccum, lr, minLr, warmup, maxSteps, optimizer, weightDecay, clip, seed,
                entropyWarmup, adamwLr, maxSeconds, p);
    }

    /** Whether a time budget drives the schedule. */
    public boolean timeDriven() {
        return maxSeconds > 0;
    }

    /**
     * Learning rate at optimizer step {@code step} after {@code seconds} of training. Step-driven
     * (no budget): {@link #lrAt(long)}. Time-driven: the linear warm-up over the first
     * {@code warmup} steps times a cosine from lr to minLr over the budget,
     * {@code minLr + (lr - minLr) (1 + cos(pi min(1, seconds / maxSeconds))) / 2}, so the rate
     * reaches minLr when the budget ends however fast the steps are.
     */
    public float lrAt(long step, double seconds) {
        if (!timeDriven()) {
            return lrAt(step);
        }
        double warm = step < warmup ? (double) (step + 1) / Math.max(1, warmup) : 1.0;
        double progress = Math.min(1.0, Math.max(0.0, seconds / maxSeconds));
        return (float) (warm * (minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress))));
    }

    /** AdamW's rate beside Muon at {@code step} after {@code seconds}, as {@link #adamwLrAt(long)}. */
    public float adamwLrAt(long step, double seconds) {
        return adamwLr == 0 ? lrAt(step, seconds) : lrAt(step, seconds) * (adamwLr / lr);
    }

    /**
     * AdamW's rate at {@code step} when Muon runs beside it: the schedule's rate scaled by
     * adamwLr / lr (so warm-up and decay act on both alike), or Muon's own when adamwLr is 0.
     */
    public float adamwLrAt(long step) {
        return adamwLr == 0 ? lrAt(step) : lrAt(step) * (adamwLr / lr);
    }

    public TrainConfig validate() {
        check(batch >= 1, "--batch-size must be >= 1");
        check(seqLen >= 8, "--seq-len must be >= 8");
        check(gradAccum >= 1, "--grad-accum must be >= 1");
        check(lr > 0 && Float.isFinite(lr), "--lr must be positive");
        check(minLr >= 0 && minLr <= lr, "--min-lr must be in [0, lr]");
        check(warmup >= 0, "--warmup must be >= 0");
        check(maxSteps >= 1, "--max-steps must be >= 1");
        check(optimizer.equals("adamw") || optimizer.equals("muon"), "--optimizer must be adamw or muon");
        check(weightDecay >= 0, "--weight-decay must be >= 0");
        check(clip >= 0, "--clip must be >= 0");
        check(entropyWarmup >= 0, "--entropy-warmup must be >= 0");
        check(adamwLr >= 0 && Float.isFinite(adamwLr), "--adamw-lr must be >= 0");
        check(maxSeconds >= 0 && Double.isFinite(maxSeconds), "--max-time must be >= 0");
        check(dropout >= 0 && dropout < 1, "--dropout must be in [0, 1)");
        return this;
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }
}
