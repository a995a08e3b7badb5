package io.ionllama.model;

import io.ionllama.backend.Backend;

/**
 * Dropout on the residual branches of a model's blocks: each branch's output (attention or scan,
 * then MLP) is masked and scaled by 1 / (1 - p) before it joins the residual stream, during
 * training only. Off (p = 0) unless the trainer turns it on for a step, so evaluation and
 * generation never see it.
 *
 * <p>Nothing random is stored: the mask of branch {@code site} in a pass is a hash of the pass's
 * seed, the site and the element index ({@code kernels.Elementwise#dropoutKeeps}), so the backward
 * recomputes it, every backend gets the same mask, and a resumed run, whose seeds come from
 * (seed, step, micro-batch), draws the same masks as an uninterrupted one.
 */
public final class Dropout {
    /** Never on: the layers that must not drop (the entropy model, whose outputs place patch boundaries). */
    static final Dropout NONE = new Dropout();

    private float p;
    private int seed;

    /** The rate for the coming forward and backward passes (0: off), and their seed. */
    void set(float p, int seed) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("dropout must be in [0, 1), got " + p);
        }
        if (this == NONE && p > 0) {
            throw new IllegalStateException("Dropout.NONE cannot be turned on");
        }
        this.p = p;
        this.seed = seed;
    }

    public float rate() {
        return p;
    }

    boolean on() {
        return p > 0;
    }

    /** Masks {@code y[off..off+n)} in place for branch {@code site}, when on; the backward calls it on the branch's gradient. */
    void apply(Backend be, float[] y, int off, int n, int site) {
        if (p > 0) {
            be.dropout(y, off, p, seedOf(site), n);
        }
    }

    /** The pass's seed mixed with the site (a Murmur3 finaliser step), so every branch has its own mask. */
    private int seedOf(int site) {
        int h = seed ^ (site * 0x85EBCA6B);
        h ^= h >>> 13;
        h *= 0xC2B2AE35;
        return h ^ (h >>> 16);
    }
}
