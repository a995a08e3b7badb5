package io.ionllama.model;

/**
 * Incremental decoding for {@link ContextRnn}: the decoder holds one {@link ContextRnn.State}, the
 * context vector of every layer (L·dC floats) and fixed scratch, and each byte is one
 * {@link ContextRnn#step}: O(1) time and memory per byte, whatever the length. The logits equal
 * those of a full forward pass over the bytes since the last reset (up to float rounding of
 * one-row versus many-row matmuls).
 *
 * <p>Nothing bounds the length: the model has no positions to run out of, and the state does not
 * grow, so the window a {@link io.ionllama.generate.Generator} passes does not limit what the
 * decoder can hold (the generator still re-primes at its window, which forgets the older past as
 * training's truncated sequences do).
 */
public final class RnnDecoder implements ByteModel.Decoder {
    private final ContextRnn m;
    private final ContextRnn.State state;
    private int length;

    RnnDecoder(ContextRnn model) {
        this.m = model;
        this.state = model.newState();
    }

    /** The context vectors the decoder holds: everything it keeps between bytes. */
    public float[] context() {
        return state.context;
    }

    @Override
    public void reset() {
        state.reset();
        length = 0;
    }

    @Override
    public int length() {
        return length;
    }

    @Override
    public float[] feed(int b) {
        float[] logits = m.step(state, b);
        length++;
        return logits;
    }

    /**
     * Resets and feeds {@code bytes[from..to)} one step each: the recurrence is sequential in time,
     * so a batched forward pass would run the same per-byte steps over one row.
     */
    @Override
    public float[] prime(int[] bytes, int from, int to) {
        reset();
        float[] out = null;
        for (int i = from; i < to; i++) {
            out = feed(bytes[i]);
        }
        return out;
    }
}
