package io.ionllama.testing;

import io.ionllama.backend.Backend;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import io.ionllama.model.Tokun;
import io.ionllama.model.TokunConfig;

/**
 * An ionLlama model patched by a tokun ({@code --patcher tokun:PATH}) for tests: a nano tokun with
 * random weights (its latents need not be good, only fixed and deterministic), and a small
 * ionLlama on top.
 */
public final class TokunPatched {
    private TokunPatched() {}

    /** tokun 2,2 at width 8: 4-byte chunks, a few thousand weights. */
    public static Tokun tokun(Backend be, long seed) {
        Tokun t = new Tokun(TokunConfig.of(new int[] {2, 2}, 8), be);
        t.init(seed);
        return t;
    }

    /** A small ionLlama configuration (max-patch 6: room for the 4-byte chunk). */
    public static ModelConfig config() {
        return new ModelConfig("nano", 16, 16, 2, 2, 1, 1, 8, 1, new int[] {3, 4}, 13, 24, 24, 2, 6, 3f).validate();
    }

    /** {@code c} patched by {@code tokun}, initialised from {@code seed}. */
    public static IonLlama model(ModelConfig c, Backend be, Tokun tokun, long seed) {
        IonLlama m = new IonLlama(c, be, Patcher.tokun("tokun-test.safetensors", tokun.chunk(), c.maxPatch(), c.targetPatch()),
                false, tokun);
        m.init(seed);
        return m;
    }

    /** {@link #config()} patched by a fresh {@link #tokun}. */
    public static IonLlama model(Backend be, long seed) {
        return model(config(), be, tokun(be, seed + 1000), seed);
    }

    /** {@code n} bytes of a small alphabet, drawn from {@code seed}. */
    public static int[] text(int n, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        String alphabet = "the quick brown fox, 0123. ";
        int[] x = new int[n];
        for (int i = 0; i < n; i++) {
            x[i] = alphabet.charAt(r.nextInt(alphabet.length()));
        }
        return x;
    }
}
