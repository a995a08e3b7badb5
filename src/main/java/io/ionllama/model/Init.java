package io.ionllama.model;

import java.util.SplittableRandom;

/** Parameter initialisation helpers (deterministic from the generator given). */
final class Init {
    private Init() {}

    static void fill(float[] p, int off, int n, float v) {
        for (int i = 0; i < n; i++) {
            p[off + i] = v;
        }
    }

    static void normal(float[] p, int off, int n, float std, SplittableRandom rnd) {
        for (int i = 0; i < n; i++) {
            double u1 = 1.0 - rnd.nextDouble();
            double u2 = rnd.nextDouble();
            p[off + i] = (float) (std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
        }
    }
}
