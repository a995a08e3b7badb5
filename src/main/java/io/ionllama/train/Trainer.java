package io.ionllama.train;

import io.ionllama.backend.Backend;
import io.ionllama.data.BatchSampler;
import io.ionllama.data.ByteSource;
import io.ionllama.model.ByteModel;
import io.ionllama.model.Patcher;
import java.io.IOException;

/**
 * One optimizer step at a time: gradient accumulation over micro-batches, entropy-patch warm-up
 * and threshold calibration, global-norm clipping, the learning-rate schedule, and skipping of
 * non-finite steps. The batches of step s depend only on (seed, s) ({@link BatchSampler}), so a
 * run resumed from a checkpoint continues exactly.
 */
public final class Trainer {

    /** What one optimizer step did. */
    public record Step(long step, double loss, double entropyLoss, double bpb, double accuracy, double bytesPerPatch,
                       float lr, double gradNorm, boolean skipped, long bytes, double seconds, double exchangeSeconds) {}

    /**
     * How the micro-batch gradients of a step are summed. IN_PLACE (the default): each backward
     * accumulates into the gradients of the micro-batches before it. SEPARATE: each micro-batch's
     * gradient is computed alone and the gradients are then added in order, each micro-batch starting
     * from the step's patch threshold; this is what N data-parallel workers do
     * ({@link GradientExchange}), so a run with it equals N workers bit for bit. It costs one more
     * gradient-sized array. Recorded in checkpoints as {@code train.grad_accum_sum}.
     */
    public enum AccumSum {
        IN_PLACE, SEPARATE;

        public String flag() {
            return this == IN_PLACE ? "in-place" : "separate";
        }

        public static AccumSum parse(String s) {
            return switch (s) {
                case "in-place" -> IN_PLACE;
                case "separate" -> SEPARATE;
                default -> throw new IllegalArgumentException("--grad-accum-sum must be in-place or separate (got '" + s + "')");
            };
        }
    }

    public final ByteModel model;
    public final TrainConfig cfg;
    private final ByteSource train;
    private BatchSampler sampler;
    /** Draws the micro-batches instead of {@link #sampler} when set (a model that is not a next-byte model). */
    private Batches batches;
    private final AdamW adamw;
    private final Muon muon;
    private final int[] x, y, window;
    /** Optimizer steps taken (the next step's index). */
    public long step;
    /** Steps skipped because the loss or gradients were not finite. */
    public long skippedSteps;
    private int consecutiveSkips;
    private AccumSum accumSum = AccumSum.IN_PLACE;
    /** SEPARATE's running sum of the micro-batch gradients (allocated on first use). */
    private float[] gradSum;
    /** This worker's share of a data-parallel run (null: one process does every micro-batch). */
    private GradientExchange exchange;
    /** The statistics of the step being taken (kept, so that a step allocates nothing). */
    private final double[] stepStats = new double[STATS];
    /** Nanosecond time source for the time-driven schedule (a test injects a fake one). */
    private java.util.function.LongSupplier clock = System::nanoTime;
    /** What {@link #clock} measures: "wall" or "cpu" (recorded in checkpoints, so a resumed run keeps it). */
    private String clockKind = "wall";
    private long clockStart = System.nanoTime();
    /**
     * Seconds of training before this session (restored from a checkpoint's {@code train.elapsed_s};
     * NaN when the checkpoint did not record it).
     */
    public double elapsedBefore;

    public Trainer(ByteModel model, ByteSource train, TrainConfig cfg) {
        this.model = model;
        this.cfg = cfg.validate();
        this.train = train;
        this.sampler = new BatchSampler(train, cfg.seed(), cfg.batch(), cfg.seqLen());
        this.adamw = AdamW.defaults(model.layout().total(), cfg.weightDecay());
        this.muon = cfg.optimizer().equals("muon") ? new Muon(model.layout(), cfg.weightDecay()) : null;
        int n = cfg.batch() * cfg.seqLen();
        this.x = new int[n];
        this.y = new int[n];
        this.window = new int[cfg.seqLen() + 1];
    }

    /**
     * Makes a fraction {@code fraction} (in [0, 1)) of the training windows task lines
     * ({@code train --mix-tasks}, {@link io.ionllama.data.TaskMix}); recorded in checkpoints as
     * {@code train.mix_tasks}. Chosen per (seed, step, row), so a resumed run mixes the same lines.
     */
    public Trainer mixTasks(double fraction) {
        sampler = new BatchSampler(train, cfg.seed(), cfg.batch(), cfg.seqLen(), fraction);
        return this;
    }

    /**
     * How a micro-batch's inputs and targets are drawn, for a model whose targets are not the next
     * bytes (tokun reconstructs its input). {@code fill} must depend only on {@code micro} (and what
     * the filler was built with), so that a resumed run draws the same batches.
     */
    public interface Batches {
        /** Fills {@code x[batch*seqLen]} and {@code y[batch*seqLen]} for micro-batch {@code micro}. */
        void fill(long micro, int[] x, int[] y);
    }

    /** Draws micro-batches with {@code b} instead of next-byte windows. */
    public Trainer batches(Batches b) {
        this.batches = b;
        return this;
    }

    /** Sums micro-batch gradients by {@code how} (see {@link AccumSum}). */
    public Trainer accumSum(AccumSum how) {
        this.accumSum = how;
        return this;
    }

    public AccumSum accumSum() {
        return accumSum;
    }

    /**
     * Makes this trainer worker {@code ex.rank()} of a data-parallel run: each step it computes only
     * micro-batch {@code rank} and sums the gradients with the others through {@code ex}. The
     * configuration's grad-accum must be the worker count (a step's micro-batches are the workers').
     */
    public Trainer dataParallel(GradientExchange ex) {
        if (ex.workers() != cfg.gradAccum()) {
            throw new IllegalArgumentException("a data-parallel run of " + ex.workers() + " workers needs grad-accum "
                    + ex.workers() + " (one micro-batch per worker), got " + cfg.gradAccum());
        }
        this.exchange = ex;
        this.accumSum = AccumSum.SEPARATE;
        return this;
    }

    /** The number of data-parallel workers (1 without {@link #dataParallel}). */
    public int workers() {
        return exchange == null ? 1 : exchange.workers();
    }

    /** The fraction of training windows that are task lines (0: the data alone). */
    public double mixTasks() {
        return sampler.mixTasks();
    }

    /** Uses {@code nanos} as the clock from now on, and starts this session's time at its current reading. */
    public Trainer clock(java.util.function.LongSupplier nanos) {
        this.clock = nanos;
        return startClock();
    }

    /**
     * Measures training time by {@code kind}: "wall" (elapsed time, the default) or "cpu" (this process's
     * CPU time, every thread's, garbage collection and compilation included). A CPU-time budget means the
     * same compute for every run even when other work shares the machine: a comparison of models run
     * beside other jobs stays fair, it only takes longer.
     */
    public Trainer clock(String kind) {
        switch (kind) {
            case "wall" -> clock(System::nanoTime);
            case "cpu" -> clock(Trainer::processCpuNanos);
            default -> throw new IllegalArgumentException("clock must be wall or cpu, got '" + kind + "'");
        }
        clockKind = kind;
        return this;
    }

    /** "wall" or "cpu": what {@link #elapsed} measures. */
    public String clockKind() {
        return clockKind;
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** Starts this session's training time now (a run calls it when its loop begins). */
    public Trainer startClock() {
        clockStart = clock.getAsLong();
        return this;
    }

    /** Seconds of training so far: before this session (checkpoint) plus since {@link #startClock}. */
    public double elapsed() {
        return (Double.isNaN(elapsedBefore) ? 0 : elapsedBefore) + (clock.getAsLong() - clockStart) / 1e9;
    }

    /** Whether the run's time budget ({@link TrainConfig#maxSeconds}) is spent. */
    public boolean budgetSpent() {
        return cfg.timeDriven() && elapsed() >= cfg.maxSeconds();
    }

    public AdamW adamw() {
        return adamw;
    }

    public Muon muon() {
        return muon;
    }

    /** Thrown when training keeps producing non-finite values. */
    public static final class DivergedException extends RuntimeException {
        public DivergedException(String message) {
            super(message);
        }
    }

    public Step step() {
        long t0 = System.nanoTime();
        Patcher patcher = model.patcher();
        if (patcher != null) {
            boolean warm = step < cfg.entropyWarmup() && patcher.usesEntropy();
            model.setWarmupFixed(warm ? Math.max(1, Math.round(patcher.target)) : 0);
        }
        Backend be = model.backend();
        be.beginStep();
        Step s;
        try {
            s = stepInside(t0, be);
        } catch (IOException e) {
            be.abortStep();
            throw new java.io.UncheckedIOException("a data-parallel worker's gradient exchange failed", e);
        } catch (RuntimeException | Error e) {
            be.abortStep();
            throw e;
        }
        be.endStep();
        return s;
    }

    /** The seed of micro-batch {@code micro}'s dropout masks: a SplitMix64 mix of the run's seed and the index. */
    static int dropoutSeed(long seed, long micro) {
        long z = seed * 0x9E3779B97F4A7C15L + micro + 0x632BE59BD9B4E019L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return (int) (z ^ (z >>> 31));
    }

    /** One step between the backend's beginStep and endStep: everything it does is the same every step. */
    private Step stepInside(long t0, Backend be) throws IOException {
        // The step's statistics, each summed over its micro-batches in order: loss and entropy loss
        // (scaled), correct predictions, bytes, patches.
        double[] stats = stepStats;
        java.util.Arrays.fill(stats, 0);
        float[] grads = model.grads();
        int n = grads.length;
        double exchanged = 0;
        if (exchange != null) {
            double before = exchange.seconds();
            be.fill(grads, 0, 0f, n);
            long micro = step * cfg.gradAccum() + exchange.rank();
            double[] mine = new double[STATS];
            microBatch(micro, mine);
            be.toHost(grads);
            exchange.sum(step, grads);
            be.hostChanged(grads);
            byte[][] all = exchange.allGather(WorkerStats.encode(mine, model.stateMeta()));
            for (byte[] b : all) {
                WorkerStats.addTo(stats, b);
            }
            // The patch threshold the last micro-batch left, as one process summing SEPARATE would have it.
            model.restoreState(WorkerStats.state(all[all.length - 1]));
            exchanged = exchange.seconds() - before;
        } else if (accumSum == AccumSum.SEPARATE && cfg.gradAccum() > 1) {
            java.util.Map<String, String> start = model.stateMeta();
            if (gradSum == null) {
                gradSum = new float[n];
            }
            for (int k = 0; k < cfg.gradAccum(); k++) {
                if (k > 0) {
                    model.restoreState(start);
                }
                be.fill(grads, 0, 0f, n);
                microBatch(step * cfg.gradAccum() + k, stats);
                if (k == 0) {
                    be.copy(gradSum, 0, grads, 0, n);
                } else {
                    be.accumulate(gradSum, 0, grads, 0, n);
                }
            }
            be.copy(grads, 0, gradSum, 0, n);
        } else {
            be.fill(grads, 0, 0f, n);
            for (int k = 0; k < cfg.gradAccum(); k++) {
                microBatch(step * cfg.gradAccum() + k, stats);
            }
        }
        double loss = stats[0], eloss = stats[1], correct = stats[2], bytes = stats[3], patches = stats[4];
        double norm = AdamW.gradNorm(model.backend(), model.layout(), model.grads());
        double seconds = cfg.timeDriven() ? elapsed() : 0;
        float lr = cfg.lrAt(step, seconds);
        boolean finite = Double.isFinite(loss) && Double.isFinite(norm);
        if (finite) {
            float clipScale = AdamW.clipScale(norm, cfg.clip());
            if (muon != null) {
                muon.update(model.backend(), model.params(), model.grads(), lr, clipScale);
                adamw.update(model.backend(), muon.adamwTensors(), model.params(), model.grads(), cfg.adamwLrAt(step, seconds), clipScale);
            } else {
                adamw.update(model.backend(), model.layout().tensors(), model.params(), model.grads(), lr, clipScale);
            }
            consecutiveSkips = 0;
        } else {
            skippedSteps++;
            if (++consecutiveSkips >= 10) {
                throw new DivergedException("training diverged: 10 steps in a row had non-finite loss or gradients (lower --lr or --clip)");
            }
        }
        long s = step++;
        double secs = (System.nanoTime() - t0) / 1e9;
        return new Step(s, loss, eloss, loss / Math.log(2), bytes == 0 ? 0 : correct / bytes,
                patches == 0 ? 0 : bytes / patches, lr, norm, !finite, (long) bytes, secs, exchanged);
    }

    static final int STATS = 5;

    /**
     * Forward and backward of micro-batch {@code micro}, its gradient (scaled by 1/grad-accum) added
     * into the model's gradients; its statistics added into {@code stats}.
     */
    private void microBatch(long micro, double[] stats) {
        float scale = 1f / cfg.gradAccum();
        if (batches != null) {
            batches.fill(micro, x, y);
        } else {
            sampler.fill(micro, x, y, window);
        }
        model.setCalibrating(true);
        ByteModel.Result o;
        // Dropout only between this micro-batch's forward and its backward, with masks from (seed, micro-batch).
        if (cfg.dropout() > 0) {
            model.setDropout(cfg.dropout(), dropoutSeed(cfg.seed(), micro));
        }
        try {
            try {
                o = model.forward(x, y, cfg.batch(), cfg.seqLen());
            } finally {
                model.setCalibrating(false);
            }
            model.backward(scale);
        } finally {
            if (cfg.dropout() > 0) {
                model.setDropout(0f, 0);
            }
        }
        stats[0] += o.loss() * scale;
        stats[1] += o.entropyLoss() * scale;
        stats[2] += o.correct();
        stats[3] += o.bytes();
        stats[4] += o.patches();
    }
}
