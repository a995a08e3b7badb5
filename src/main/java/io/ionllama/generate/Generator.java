package io.ionllama.generate;

import io.ionllama.model.IonLlama;
import java.util.SplittableRandom;
import java.util.function.IntPredicate;

/**
 * Generates bytes from a model. This is the reference path: every new byte reruns the model
 * over the context window (the most recent {@code window} bytes), which is what incremental
 * decoding must reproduce.
 */
public final class Generator {
    private final IonLlama model;
    private final int window;

    public Generator(IonLlama model, int window) {
        this.model = model;
        this.window = window;
    }

    /**
     * Appends up to {@code maxNew} sampled bytes to {@code prompt}, handing each to {@code sink}
     * (which returns false to stop early). Returns how many bytes were generated.
     */
    public int generate(int[] prompt, int maxNew, Sampling sampling, long seed, IntPredicate sink) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] ctx = new int[prompt.length + maxNew];
        System.arraycopy(prompt, 0, ctx, 0, prompt.length);
        int len = prompt.length;
        float[] scratch = new float[512];
        int produced = 0;
        for (int k = 0; k < maxNew; k++) {
            int start = Math.max(0, len - window);
            int T = len - start;
            int[] x = new int[T], y = new int[T];
            System.arraycopy(ctx, start, x, 0, T);
            java.util.Arrays.fill(y, -1);
            model.forward(x, y, 1, T);
            int next = sampling.pick(model.logits(), (T - 1) * 256, ctx, len, rnd, scratch);
            ctx[len++] = next;
            produced++;
            if (!sink.test(next)) {
                break;
            }
        }
        return produced;
    }
}
