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
 *
 * <p>This class holds the decoding state ({@link DenseGpt.StepState}) and says where the backend
 * step begins and ends; the ops of a byte are the model's ({@link DenseGpt#step}).
 */
public final class DenseDecoder implements ByteModel.Decoder {
    /** The backend step one byte is (the same ops each byte, so a device backend can replay it). */
    static final String STEP = "generate: dense";

    private final DenseGpt m;
    private final Backend be;
    private final DenseGpt.StepState state;
    private int length;

    /** A decoder that will hold up to {@code window} bytes (at most the model's context) before it must be re-primed. */
    DenseDecoder(DenseGpt model, int window) {
        this.m = model;
        this.be = model.backend();
        this.state = model.newStepState(Math.max(1, Math.min(window, model.config.context())));
    }

    @Override
    public void reset() {
        for (GlobalBlock.Cache c : state.caches) {
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
        m.makeRoomForByte(state);
        be.beginStep(STEP);
        m.step(state, b);
        be.toHost(state.logits);
        be.endStep();
        length++;
        return state.logits;
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
        m.fromForward(state, n);
        length = n;
        return state.logits;
    }
}
