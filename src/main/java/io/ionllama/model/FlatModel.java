package io.ionllama.model;

import io.ionllama.backend.Backend;

/**
 * What every model of the tool shares, as llm.c lays a model out: one flat parameter buffer and
 * one gradient buffer of the same size, addressed through a {@link ParamLayout}'s offset table, the
 * backend that runs its ops, and the per-stage timers {@code bench step} reads.
 */
public abstract class FlatModel implements ByteModel {
    public final ParamLayout layout;
    public final float[] params;
    public final float[] grads;
    protected final Backend be;
    private final String[] stages;
    /** Dropout on the residual branches (off unless a trainer turns it on for its step). */
    protected final Dropout dropout = new Dropout();
    /** Nanoseconds spent per stage since the last {@link #resetTimers}. */
    public final long[] stageNanos;
    private long mark;

    protected FlatModel(ParamLayout layout, Backend backend, String[] stages) {
        if (!layout.fitsInOneArray()) {
            throw new IllegalArgumentException("model has " + layout.total() + " parameters: more than one Java array holds");
        }
        this.layout = layout;
        this.be = backend;
        this.params = new float[(int) layout.total()];
        this.grads = new float[(int) layout.total()];
        this.stages = stages;
        this.stageNanos = new long[stages.length];
    }

    @Override
    public final ParamLayout layout() {
        return layout;
    }

    @Override
    public final float[] params() {
        return params;
    }

    @Override
    public final float[] grads() {
        return grads;
    }

    @Override
    public final Backend backend() {
        return be;
    }

    @Override
    public void setDropout(float p, int seed) {
        dropout.set(p, seed);
    }

    /** The dropout rate now in force (0 outside a training step). */
    public final float dropoutRate() {
        return dropout.rate();
    }

    @Override
    public final String[] stages() {
        return stages;
    }

    @Override
    public final long[] stageNanos() {
        return stageNanos;
    }

    @Override
    public final void resetTimers() {
        java.util.Arrays.fill(stageNanos, 0);
    }

    /**
     * The mean cross-entropy of the last forward pass, summed in double over its {@code n} rows'
     * losses (ignored rows hold 0) and divided by the valid rows the loss statistics counted: the
     * objective a model's backward differentiates.
     */
    protected final double meanLoss(float[] losses, float[] stats, int n) {
        be.toHost(losses, stats);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += losses[i];
        }
        double valid = stats[io.ionllama.kernels.Losses.STAT_VALID];
        return valid == 0 ? 0 : sum / valid;
    }

    /** Starts timing the first stage of a pass. */
    protected final void startTimer() {
        mark = System.nanoTime();
    }

    /** Charges the time since the last mark to {@code stage}. */
    protected final void lap(int stage) {
        long now = System.nanoTime();
        stageNanos[stage] += now - mark;
        mark = now;
    }
}
