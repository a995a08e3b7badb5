package io.ionllama.generate;

import java.util.SplittableRandom;

/**
 * Picks the next byte from 256 logits: repetition penalty over a window of recent bytes, then
 * temperature, top-k and top-p (nucleus) filtering. Greedy when temperature is 0 or top-k is 1.
 *
 * @param temperature       0 (greedy) to 2
 * @param topK              1..256 (256: off)
 * @param topP              0.1..1 (1: off)
 * @param repetitionPenalty 1 (off) or more: logits of recently seen bytes are divided (if
 *                          positive) or multiplied (if negative) by it, as in CTRL
 * @param penaltyWindow     how many recent bytes the penalty looks at
 */
public record Sampling(float temperature, int topK, float topP, float repetitionPenalty, int penaltyWindow) {

    public static Sampling defaults() {
        return new Sampling(0.8f, 256, 0.95f, 1.0f, 64);
    }

    public static Sampling greedy() {
        return new Sampling(0f, 1, 1f, 1f, 64);
    }

    public Sampling validate() {
        check(temperature >= 0 && temperature <= 2, "temperature must be between 0 and 2");
        check(topK >= 1 && topK <= 256, "top-k must be between 1 and 256");
        check(topP >= 0.1f && topP <= 1f, "top-p must be between 0.1 and 1.0");
        check(repetitionPenalty >= 1f && repetitionPenalty <= 10f, "repetition penalty must be between 1 and 10");
        check(penaltyWindow >= 0, "penalty window must be >= 0");
        return this;
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    public boolean isGreedy() {
        return temperature == 0f || topK == 1;
    }

    /**
     * Samples a byte. {@code recent[0..recentLen)} are the latest bytes (for the penalty);
     * {@code scratch} needs 2×256 floats and is overwritten.
     */
    public int pick(float[] logits, int off, int[] recent, int recentLen, SplittableRandom rnd, float[] scratch) {
        float[] l = scratch;
        System.arraycopy(logits, off, l, 0, 256);
        if (repetitionPenalty != 1f) {
            boolean[] seen = new boolean[256];
            for (int i = Math.max(0, recentLen - penaltyWindow); i < recentLen; i++) {
                seen[recent[i]] = true;
            }
            for (int v = 0; v < 256; v++) {
                if (seen[v]) {
                    l[v] = l[v] > 0 ? l[v] / repetitionPenalty : l[v] * repetitionPenalty;
                }
            }
        }
        if (isGreedy()) {
            int best = 0;
            for (int v = 1; v < 256; v++) {
                if (l[v] > l[best]) {
                    best = v;
                }
            }
            return best;
        }
        // Sort indices by logit, descending (256 entries: insertion into a ranked list is cheap).
        int[] order = new int[256];
        for (int v = 0; v < 256; v++) {
            order[v] = v;
        }
        for (int i = 1; i < 256; i++) {
            int cur = order[i];
            int j = i - 1;
            while (j >= 0 && l[order[j]] < l[cur]) {
                order[j + 1] = order[j];
                j--;
            }
            order[j + 1] = cur;
        }
        float max = l[order[0]];
        double total = 0;
        double[] p = new double[256];
        int keep = Math.min(topK, 256);
        for (int i = 0; i < keep; i++) {
            p[i] = Math.exp((l[order[i]] - max) / temperature);
            total += p[i];
        }
        // Nucleus: the smallest prefix whose mass reaches topP.
        double acc = 0;
        int cut = keep;
        for (int i = 0; i < keep; i++) {
            acc += p[i] / total;
            if (acc >= topP) {
                cut = i + 1;
                break;
            }
        }
        double mass = 0;
        for (int i = 0; i < cut; i++) {
            mass += p[i];
        }
        double u = rnd.nextDouble() * mass;
        for (int i = 0; i < cut; i++) {
            u -= p[i];
            if (u <= 0) {
                return order[i];
            }
        }
        return order[cut - 1];
    }
}
