package io.ionllama.kernels;

import static io.ionllama.testing.GradCheck.assertClose;
import static io.ionllama.testing.GradCheck.assertMatches;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.testing.GradCheck;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Softmax, cross-entropy (with ignored rows and both dloss strides), entropy, argmax and the
 * loss statistics: forwards against double references, backwards against central differences,
 * a wrong backward per op that the check rejects, and bit-identical results for any thread count.
 */
class LossesTest {

    static double[] softmaxReference(double[] l, int rows, int V) {
        double[] p = new double[rows * V];
        for (int n = 0; n < rows; n++) {
            double m = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < V; v++) {
                m = Math.max(m, l[n * V + v]);
            }
            double s = 0;
            for (int v = 0; v < V; v++) {
                s += Math.exp(l[n * V + v] - m);
            }
            for (int v = 0; v < V; v++) {
                p[n * V + v] = Math.exp(l[n * V + v] - m) / s;
            }
        }
        return p;
    }

    static double[] ceReference(double[] l, int[] targets, int rows, int V) {
        double[] p = softmaxReference(l, rows, V);
        double[] loss = new double[rows];
        for (int n = 0; n < rows; n++) {
            loss[n] = targets[n] < 0 ? 0 : -Math.log(p[n * V + targets[n]]);
        }
        return loss;
    }

    record Case(int rows, int V, int off, float[] logits, int[] targets, double[] r) {
        static Case random(long seed) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int rows = 2 + rnd.nextInt(6), V = 2 + rnd.nextInt(20), off = 1 + rnd.nextInt(4);
            int[] targets = new int[off + rows];
            for (int n = 0; n < rows; n++) {
                targets[off + n] = rnd.nextInt(5) == 0 ? -1 : rnd.nextInt(V);
            }
            targets[off] = rnd.nextInt(V); // at least one valid row
            return new Case(rows, V, off, Tensors.uniform(rnd, off + rows * V, -3, 3), targets,
                    Tensors.toDouble(Tensors.uniform(rnd, rows * V, -1, 1)));
        }

        double[] ls() { return Tensors.slice(logits, off, rows * V); }

        int[] ts() { return java.util.Arrays.copyOfRange(targets, off, off + rows); }
    }

    // ------------------------------------------------------------------------ softmax

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5})
    void softmaxForwardAndBackward(long seed) {
        Case c = Case.random(seed);
        float[] probs = new float[c.off + c.rows * c.V], dx = new float[c.off + c.rows * c.V];
        float[] dy = new float[c.off + c.rows * c.V];
        for (int i = 0; i < c.r.length; i++) {
            dy[c.off + i] = (float) c.r[i];
        }
        try (CpuBackend cpu = new CpuBackend(2)) {
            // Softmax is a unit (no backend op: the models' losses fuse it); rows are independent.
            for (int n = 0; n < c.rows; n++) {
                Losses.softmaxRow(probs, c.off, c.logits, c.off, c.V, n);
                Losses.softmaxBackwardRow(dx, c.off, dy, c.off, probs, c.off, c.V, n);
            }
        }
        double[] l = c.ls();
        assertClose("probs", probs, c.off, softmaxReference(l, c.rows, c.V), 1e-5, 1e-7);
        double[] numeric = GradCheck.numeric(p -> Tensors.dot(c.r, softmaxReference(p, c.rows, c.V)), l);
        assertMatches("dx", dx, c.off, numeric, 1e-4, 1e-6);

        // Mutant: the backward without the dot(dy, p) term (as if the rows were not normalised).
        float[] bad = new float[c.rows * c.V];
        for (int i = 0; i < bad.length; i++) {
            bad[i] = probs[c.off + i] * dy[c.off + i];
        }
        assertThat(GradCheck.matches(bad, numeric, 1e-4, 1e-6)).isFalse();
    }

    // ------------------------------------------------------------------------ cross-entropy

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6})
    void crossEntropyForwardMatchesReference(long seed) {
        Case c = Case.random(seed);
        float[] losses = new float[c.off + c.rows], probs = new float[c.off + c.rows * c.V];
        try (CpuBackend cpu = new CpuBackend(2)) {
            cpu.crossEntropyForward(losses, c.off, probs, c.off, c.logits, c.off, c.targets, c.off, c.rows, c.V);
        }
        assertClose("losses", losses, c.off, ceReference(c.ls(), c.ts(), c.rows, c.V), 1e-5, 1e-6);
        assertClose("probs", probs, c.off, softmaxReference(c.ls(), c.rows, c.V), 1e-5, 1e-7);
        for (int n = 0; n < c.rows; n++) {
            if (c.targets[c.off + n] < 0) {
                assertThat(losses[c.off + n]).isEqualTo(0f);
            }
        }
    }

    @Test
    void crossEntropyIsStableForLargeLogits() {
        int V = 256;
        float[] logits = new float[V];
        for (int v = 0; v < V; v++) {
            logits[v] = 1000f + v * 0.01f;
        }
        logits[7] = -1000f;
        float[] losses = new float[2], probs = new float[V], h = new float[1];
        int[] targets = {7, 255};
        Losses.crossEntropyForwardRow(losses, 0, probs, 0, logits, 0, targets, 0, V, 0);
        Losses.crossEntropyForwardRow(losses, 1, probs, 0, logits, 0, targets, 1, V, 0);
        Losses.entropyRow(h, 0, logits, 0, V, 0);
        double[] ref = ceReference(Tensors.toDouble(logits), new int[] {7}, 1, V);
        // The target's probability underflows to 0 in float; the log-sum-exp form still gives the loss.
        assertThat(probs[7]).isEqualTo(0f);
        assertThat((double) losses[0]).isCloseTo(ref[0], within(1e-3 * ref[0]));
        assertThat(Float.isFinite(losses[1]) && Float.isFinite(h[0])).isTrue();
    }

    /** The backend's row (the Vector API one where present) is as stable, with a tail past the vector length. */
    @Test
    void crossEntropyThroughTheBackendIsStableForLargeLogits() {
        int V = 259;
        float[] logits = new float[V];
        for (int v = 0; v < V; v++) {
            logits[v] = 1000f + v * 0.01f;
        }
        logits[7] = -1000f;
        float[] losses = new float[1], probs = new float[V];
        try (CpuBackend cpu = new CpuBackend(1)) {
            cpu.crossEntropyForward(losses, 0, probs, 0, logits, 0, new int[] {7}, 0, 1, V);
        }
        double[] ref = ceReference(Tensors.toDouble(logits), new int[] {7}, 1, V);
        assertThat((double) losses[0]).isCloseTo(ref[0], within(1e-3 * ref[0]));
        assertThat((double) probs[7]).isLessThan(1e-30);
        double sum = 0;
        for (float p : probs) {
            sum += p;
        }
        assertThat(sum).isCloseTo(1.0, within(1e-5));
    }

    /** sum_n scale_n * loss_n for the reference, where the backward is run with dloss = scale. */
    static double scaledLoss(double[] l, int[] targets, double[] scale, int rows, int V) {
        return Tensors.dot(scale, ceReference(l, targets, rows, V));
    }

    @ParameterizedTest
    @ValueSource(longs = {11, 12, 13, 14, 15, 16})
    void crossEntropyBackwardMatchesFiniteDifferences(long seed) {
        Case c = Case.random(seed);
        SplittableRandom rnd = new SplittableRandom(seed * 7);
        float[] dloss = Tensors.uniform(rnd, c.off + c.rows, 0.1, 1);
        float[] losses = new float[c.rows], probs = new float[c.off + c.rows * c.V];
        float[] dPerRow = new float[c.off + c.rows * c.V];
        float[] dMean = new float[c.off + c.rows * c.V];
        float[] stats = new float[2 + Losses.STATS];
        try (CpuBackend cpu = new CpuBackend(2)) {
            cpu.crossEntropyForward(losses, 0, probs, c.off, c.logits, c.off, c.targets, c.off, c.rows, c.V);
            cpu.crossEntropyBackward(dPerRow, c.off, probs, c.off, c.targets, c.off, dloss, c.off, 1, c.rows, c.V);
            cpu.lossStats(stats, 2, losses, 0, null, 0, c.targets, c.off, c.rows);
            // The mean over valid rows: one broadcast scale, 1/valid, read from the stats.
            cpu.crossEntropyBackward(dMean, c.off, probs, c.off, c.targets, c.off,
                    stats, 2 + Losses.STAT_INV_VALID, 0, c.rows, c.V);
        }
        double[] l = c.ls();
        int[] ts = c.ts();
        double[] perRow = Tensors.slice(dloss, c.off, c.rows);
        assertMatches("dlogits (per-row dloss)", dPerRow, c.off,
                GradCheck.numeric(p -> scaledLoss(p, ts, perRow, c.rows, c.V), l), 1e-4, 1e-6);
        int valid = 0;
        for (int t : ts) {
            valid += t >= 0 ? 1 : 0;
        }
        double[] mean = new double[c.rows];
        java.util.Arrays.fill(mean, 1.0 / valid);
        assertMatches("dlogits (mean loss)", dMean, c.off,
                GradCheck.numeric(p -> scaledLoss(p, ts, mean, c.rows, c.V), l), 1e-4, 1e-6);
    }

    @ParameterizedTest
    @ValueSource(longs = {21, 22, 23})
    void crossEntropyCheckRejectsAWrongBackward(long seed) {
        Case c = Case.random(seed);
        float[] losses = new float[c.rows], probs = new float[c.rows * c.V];
        for (int n = 0; n < c.rows; n++) {
            Losses.crossEntropyForwardRow(losses, 0, probs, 0, c.logits, c.off, c.targets, c.off, c.V, n);
        }
        float[] ones = new float[1];
        ones[0] = 1f;
        double[] l = c.ls();
        int[] ts = c.ts();
        double[] scale = new double[c.rows];
        java.util.Arrays.fill(scale, 1.0);
        double[] numeric = GradCheck.numeric(p -> scaledLoss(p, ts, scale, c.rows, c.V), l);
        // Mutant: the one-hot at target + 1 (an off-by-one in the target index).
        int[] shifted = new int[c.rows];
        for (int n = 0; n < c.rows; n++) {
            shifted[n] = ts[n] < 0 ? -1 : (ts[n] + 1) % c.V;
        }
        float[] bad = new float[c.rows * c.V];
        for (int n = 0; n < c.rows; n++) {
            Losses.crossEntropyBackwardRow(bad, 0, probs, 0, shifted, 0, ones, 0, 0, c.V, n);
        }
        assertThat(GradCheck.matches(bad, numeric, 1e-4, 1e-6)).isFalse();
        // The unmutated unit passes the same check.
        float[] good = new float[c.rows * c.V];
        for (int n = 0; n < c.rows; n++) {
            Losses.crossEntropyBackwardRow(good, 0, probs, 0, ts, 0, ones, 0, 0, c.V, n);
        }
        assertThat(GradCheck.matches(good, numeric, 1e-4, 1e-6)).isTrue();
    }

    // ------------------------------------------------------------------------ entropy, argmax, stats

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4})
    void entropyAndArgmaxMatchReference(long seed) {
        Case c = Case.random(seed);
        float[] h = new float[c.off + c.rows];
        int[] am = new int[c.off + c.rows];
        try (CpuBackend cpu = new CpuBackend(2)) {
            cpu.entropy(h, c.off, c.logits, c.off, c.rows, c.V);
            cpu.argmax(am, c.off, c.logits, c.off, c.rows, c.V);
        }
        double[] p = softmaxReference(c.ls(), c.rows, c.V);
        double[] expected = new double[c.rows];
        for (int n = 0; n < c.rows; n++) {
            int best = 0;
            for (int v = 0; v < c.V; v++) {
                double q = p[n * c.V + v];
                expected[n] -= q * Math.log(q);
                if (c.logits[c.off + n * c.V + v] > c.logits[c.off + n * c.V + best]) {
                    best = v;
                }
            }
            assertThat(am[c.off + n]).as("argmax row %d", n).isEqualTo(best);
        }
        assertClose("entropy", h, c.off, expected, 1e-5, 1e-6);
    }

    @Test
    void entropyLimitsAndArgmaxTies() {
        int V = 256;
        float[] logits = new float[2 * V];
        logits[V + 3] = 80f; // row 1: nearly one-hot
        float[] h = new float[2];
        int[] am = new int[2];
        float[] tie = {1f, 5f, 5f, 2f};
        int[] tieAm = new int[1];
        for (int n = 0; n < 2; n++) {
            Losses.entropyRow(h, 0, logits, 0, V, n);
            Losses.argmaxRow(am, 0, logits, 0, V, n);
        }
        Losses.argmaxRow(tieAm, 0, tie, 0, 4, 0);
        assertThat((double) h[0]).isCloseTo(Math.log(V), within(1e-5));
        assertThat(h[1]).isBetween(0f, 1e-20f);
        assertThat(am).containsExactly(0, 3);
        assertThat(tieAm[0]).isEqualTo(1);
    }

    @Test
    void lossStatsCountsValidRowsAndCorrectPredictions() {
        float[] losses = {9f, 1f, 2f, 3f, 4f};
        int[] targets = {0, 7, -1, 5, 2};
        int[] argmax = {0, 7, 7, 4, 2};
        float[] stats = new float[1 + Losses.STATS];
        try (CpuBackend cpu = new CpuBackend(1)) {
            cpu.lossStats(stats, 1, losses, 1, argmax, 1, targets, 1, 4);
        }
        assertThat(stats[1 + Losses.STAT_LOSS_SUM]).isEqualTo(1f + 3f + 4f);
        assertThat(stats[1 + Losses.STAT_VALID]).isEqualTo(3f);
        assertThat(stats[1 + Losses.STAT_MEAN_LOSS]).isEqualTo(8f / 3f);
        assertThat(stats[1 + Losses.STAT_INV_VALID]).isEqualTo(1f / 3f);
        assertThat(stats[1 + Losses.STAT_CORRECT]).isEqualTo(2f);
        int[] none = {-1, -1};
        Losses.lossStatsCell(stats, 0, losses, 0, argmax, 0, 0, none, 0, 2);
        assertThat(stats[Losses.STAT_MEAN_LOSS]).isEqualTo(0f);
        assertThat(stats[Losses.STAT_INV_VALID]).isEqualTo(0f);
    }

    // ------------------------------------------------------------------------ determinism

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 5})
    void resultsAreBitIdenticalForAnyThreadCount(int threads) {
        Object[] one = run(1);
        Object[] many = run(threads);
        for (int k = 0; k < one.length; k++) {
            assertThat(many[k]).as("output %d", k).isEqualTo(one[k]);
        }
    }

    private static Object[] run(int threads) {
        SplittableRandom rnd = new SplittableRandom(99);
        int rows = 37, V = 256;
        float[] logits = Tensors.uniform(rnd, rows * V, -4, 4), dy = Tensors.uniform(rnd, rows * V, -1, 1);
        int[] targets = new int[rows];
        for (int n = 0; n < rows; n++) {
            targets[n] = n % 6 == 5 ? -1 : rnd.nextInt(V);
        }
        float[] probs = new float[rows * V], sdx = new float[rows * V], losses = new float[rows];
        float[] ceProbs = new float[rows * V], dlogits = new float[rows * V], h = new float[rows];
        float[] stats = new float[Losses.STATS];
        int[] am = new int[rows];
        try (CpuBackend cpu = new CpuBackend(threads)) {
            for (int n = 0; n < rows; n++) {
                Losses.softmaxRow(probs, 0, logits, 0, V, n);
                Losses.softmaxBackwardRow(sdx, 0, dy, 0, probs, 0, V, n);
            }
            cpu.crossEntropyForward(losses, 0, ceProbs, 0, logits, 0, targets, 0, rows, V);
            cpu.argmax(am, 0, logits, 0, rows, V);
            cpu.lossStats(stats, 0, losses, 0, am, 0, targets, 0, rows);
            cpu.crossEntropyBackward(dlogits, 0, ceProbs, 0, targets, 0, stats, Losses.STAT_INV_VALID, 0, rows, V);
            cpu.entropy(h, 0, logits, 0, rows, V);
        }
        return new Object[] {probs, sdx, losses, ceProbs, am, stats, dlogits, h};
    }
}
