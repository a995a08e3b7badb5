package io.ionllama.generate;

import io.ionllama.model.ByteModel;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.IntPredicate;

/**
 * Generates bytes from a model. The default path is incremental (the model's
 * {@link ByteModel.Decoder}): each new byte costs O(1) in the context length for ionLlama's
 * recurrent decoder and the context-vector RNN's ({@code --model rnn}, whose state is its context
 * vectors only), O(context) for the dense model's key/value cache. The reference path reruns the full model over the
 * context window for every byte; it exists to measure the incremental path against.
 *
 * <p>When the context reaches {@code window} bytes, the most recent half window is kept: the
 * decoder is reset and re-primed with those bytes, so generation can run on without bound. A model
 * with a fixed context ({@link ByteModel#maxContext}, the dense model's) caps the window at it.
 */
public final class Generator {
    private final ByteModel model;
    private final int window;
    private final boolean incremental;
    private final ByteModel.Decoder decoder;

    public Generator(ByteModel model, int window) {
        this(model, window, true);
    }

    public Generator(ByteModel model, int window, boolean incremental) {
        if (window < 2) {
            throw new IllegalArgumentException("context window must be at least 2 bytes");
        }
        this.model = model;
        this.window = Math.min(window, Math.max(2, model.maxContext()));
        this.incremental = incremental;
        // A decoder never holds more than the window's bytes, so never more patches than that.
        this.decoder = incremental ? model.decoder(this.window) : null;
    }

    /**
     * Appends up to {@code maxNew} sampled bytes to {@code prompt}, handing each to {@code sink}
     * (which returns false to stop). An empty prompt starts from a newline. Returns the bytes made.
     */
    public int generate(int[] prompt, int maxNew, Sampling sampling, long seed, IntPredicate sink) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] start = prompt.length == 0 ? new int[] {'\n'} : prompt;
        int[] ctx = Arrays.copyOf(start, start.length + maxNew);
        int len = start.length;
        float[] scratch = new float[512];
        float[] logits;
        int logitsOff;
        if (incremental) {
            logits = prime(ctx, Math.max(0, len - window), len);
            logitsOff = 0;
        } else {
            logitsOff = forwardWindow(ctx, len);
            logits = model.logits();
        }
        int produced = 0;
        while (produced < maxNew) {
            int next = sampling.pick(logits, logitsOff, ctx, len, rnd, scratch);
            ctx[len++] = next;
            produced++;
            if (!sink.test(next)) {
                break;
            }
            if (produced == maxNew) {
                break;
            }
            if (incremental) {
                if (decoder.length() >= window) {
                    logits = prime(ctx, len - window / 2, len);
                } else {
                    logits = decoder.feed(next);
                }
            } else {
                logitsOff = forwardWindow(ctx, len);
                logits = model.logits();
            }
        }
        return produced;
    }

    private float[] prime(int[] ctx, int from, int to) {
        return decoder.prime(ctx, from, to);
    }

    /** Full forward over the last {@code window} bytes; returns the offset of the last row's logits. */
    private int forwardWindow(int[] ctx, int len) {
        int from = Math.max(0, len - window);
        int T = len - from;
        int[] x = Arrays.copyOfRange(ctx, from, len);
        int[] y = new int[T];
        Arrays.fill(y, -1);
        model.forward(x, y, 1, T);
        return (T - 1) * 256;
    }
}
