package io.ionllama.model;

import io.ionllama.backend.Backend;

/**
 * Incremental decoding for {@link DenseGpt} with a key/value cache: each block keeps the keys
 * (after RoPE) and values of every byte fed since the last reset, so a new byte costs one row
 * through each block plus attention over the cached rows, O(context), not a forward pass over
 * the context. The logits equal those of a full forward pass over the same bytes (up to float
 * rounding of one-row versus many-row matmuls).
 *
 * <p>Positions: byte i of the cache sits at RoPE position i, as in training, where every window
 * starts at position 0. The decoder never holds more than the model's context; when the cache is
 * full the caller drops the oldest bytes and re-primes with the most recent ones (the
 * {@link io.ionllama.generate.Generator} keeps half a window), so positions restart at 0 for the
 * first byte kept. A rolling window that kept old keys would need them re-rotated to new
 * positions, which costs a re-forward anyway.
 */
public final class DenseDecoder implements ByteModel.Decoder {
    /** The backend step one byte is (the same ops each byte, so a device backend can replay it). */
    static final String STEP = "generate: dense";

    private final DenseGpt m;
    private final Backend be;
    private final float[] p;
    private final int d, capacity;
    private final GlobalBlock.Cache[] caches;
    private final float[] rowA, rowB, normed, r1, logits;
    private final int[] one = new int[1];
    private int length;

    /** A decoder that will hold up to {@code window} bytes (at most the model's context) before it must be re-primed. */
    DenseDecoder(DenseGpt model, int window) {
        this.m = model;
        this.be = model.backend();
        this.p = model.params;
        this.d = model.config.dModel();
        this.capacity = Math.max(1, Math.min(window, model.config.context()));
        caches = new GlobalBlock.Cache[model.blocks.length];
        for (int i = 0; i < caches.length; i++) {
            caches[i] = new GlobalBlock.Cache(d, model.config.mlp(), model.config.heads());
            model.blocks[i].ensureCache(be, caches[i], capacity);
        }
        rowA = new float[d]; rowB = new float[d]; normed = new float[d]; r1 = new float[1]; logits = new float[256];
    }

    @Override
    public void reset() {
        for (GlobalBlock.Cache c : caches) {
            c.rows = 0;
        }
        length = 0;
    }

    @Override
    public int length() {
        return length;
    }

    @Override
    public float[] feed(int b) {
        if (length >= m.config.context()) {
            throw new IllegalStateException("the dense decoder holds " + length + " bytes, the model's context: re-prime it");
        }
        // Room for this byte's key and value first: growing the caches copies them on the host, outside a step.
        for (int i = 0; i < caches.length; i++) {
            m.blocks[i].ensureCache(be, caches[i], caches[i].rows + 1);
        }
        be.beginStep(STEP);
        one[0] = b;
        be.hostChanged(one);
        be.byteEmbeddingForward(rowA, 0, p, m.embed, one, 0, 1, d);
        float[] cur = rowA, next = rowB;
        for (int i = 0; i < caches.length; i++) {
            m.blocks[i].step(be, p, cur, 0, next, 0, caches[i]);
            float[] t = cur;
            cur = next;
            next = t;
        }
        be.rmsNormForward(normed, 0, r1, 0, cur, 0, p, m.norm, 1, d, DenseGpt.EPS);
        be.matmulForward(logits, 0, normed, 0, p, m.head, null, 0, 1, d, 256);
        be.toHost(logits);
        be.endStep();
        length++;
        return logits;
    }

    /**
     * Resets and feeds {@code bytes[from..to)} through one forward pass (batched matmuls, not a
     * step per byte), then takes every block's keys and values from that pass into the caches.
     * More than the context's bytes: only the last context's are kept.
     */
    @Override
    public float[] prime(int[] bytes, int from, int to) {
        reset();
        from = Math.max(from, to - m.config.context());
        int n = to - from;
        if (n < 2) {
            float[] out = null;
            for (int i = from; i < to; i++) {
                out = feed(bytes[i]);
            }
            return out;
        }
        int[] x = java.util.Arrays.copyOfRange(bytes, from, to), y = new int[n];
        java.util.Arrays.fill(y, -1);
        m.forward(x, y, 1, n);
        for (int i = 0; i < caches.length; i++) {
            GlobalBlock blk = m.blocks[i];
            GlobalBlock.Cache c = caches[i];
            blk.ensureCache(be, c, n);
            be.toHost(blk.saved.kr, blk.saved.v);
            be.toHost(c.k, c.v);
            System.arraycopy(blk.saved.kr, blk.offset(n), c.k, 0, n * d);
            System.arraycopy(blk.saved.v, blk.offset(n), c.v, 0, n * d);
            be.hostChanged(c.k, c.v);
            c.rows = n;
        }
        System.arraycopy(m.logits(), (n - 1) * 256, logits, 0, 256);
        be.hostChanged(logits);
        length = n;
        return logits;
    }
}
