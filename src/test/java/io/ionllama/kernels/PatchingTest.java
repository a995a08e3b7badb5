package io.ionllama.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import java.util.Arrays;
import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The patch units against the code they replaced (kept here as the reference): the per-byte rule
 * and its sequential walk, the host loop that built rows, pi and the sequence starts, and the
 * sort-based quantile. The selection must give the sorted array's element exactly, with ties,
 * negative scores and zeros of both signs (which compare equal, so the test compares with ==).
 */
class PatchingTest {

    // ---------------------------------------------------------------- references (the former Patcher and IonLlama code)

    static boolean refEndsAt(int mode, int byteValue, float h, float hPrev, boolean hasPrev, int len, int maxPatch,
                             int fixedLength, int warmupFixed, float theta) {
        if (len >= maxPatch) {
            return true;
        }
        boolean entropy = mode == Patching.ENTROPY || mode == Patching.MONOTONIC;
        if (warmupFixed > 0 && entropy) {
            return len >= warmupFixed;
        }
        return switch (mode) {
            case Patching.ENTROPY -> h > theta;
            case Patching.MONOTONIC -> hasPrev && h - hPrev > theta;
            case Patching.FIXED -> len >= fixedLength;
            default -> !((byteValue >= '0' && byteValue <= '9') || (byteValue >= 'a' && byteValue <= 'z')
                    || (byteValue >= 'A' && byteValue <= 'Z') || byteValue >= 128);
        };
    }

    static int[] refEnds(int mode, int[] bytes, float[] h, int B, int T, int maxPatch, int fixedLength, int warmupFixed,
                         float theta) {
        boolean entropy = mode == Patching.ENTROPY || mode == Patching.MONOTONIC;
        int[] ends = new int[B * T];
        for (int b = 0; b < B; b++) {
            int len = 0;
            for (int t = 0; t < T; t++) {
                int i = b * T + t;
                len++;
                boolean end = refEndsAt(mode, bytes[i], entropy ? h[i] : 0f, t > 0 && entropy ? h[i - 1] : 0f, t > 0, len,
                        maxPatch, fixedLength, warmupFixed, theta);
                ends[i] = end ? 1 : 0;
                if (end) {
                    len = 0;
                }
            }
        }
        return ends;
    }

    /** The former host loop: {rows, pi, start, count} from ends. */
    static int[][] refRows(int[] ends, int B, int T) {
        int N = B * T;
        int[] endRows = new int[N], pi = new int[N], start = new int[B + 1], count = new int[B + 1];
        int r = 0;
        for (int b = 0; b < B; b++) {
            start[b] = r;
            int last = 0;
            for (int t = 0; t < T; t++) {
                int i = b * T + t;
                if (ends[i] != 0) {
                    endRows[r++] = i;
                    last = r;
                }
                pi[i] = last;
            }
            count[b] = r - start[b];
        }
        start[B] = r;
        return new int[][] {endRows, pi, start, count};
    }

    /** The former Patcher.calibrate: sort the scores, take the element at round((1 - level)(k - 1)). */
    static float refQuantile(float[] hNext, int mode, int B, int T, double level) {
        int n = B * T;
        float[] score = new float[mode == Patching.MONOTONIC ? n - B : n];
        int k = 0;
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                int i = b * T + t;
                if (mode == Patching.ENTROPY) {
                    score[k++] = hNext[i];
                } else if (t > 0) {
                    score[k++] = hNext[i] - hNext[i - 1];
                }
            }
        }
        Arrays.sort(score, 0, k);
        int idx = (int) Math.min(k - 1, Math.max(0, Math.round((1 - level) * (k - 1))));
        return score[idx];
    }

    static int rank(int k, double level) {
        return (int) Math.min(k - 1, Math.max(0, Math.round((1 - level) * (k - 1))));
    }

    // ---------------------------------------------------------------- data

    /** Entropy-like scores with many ties (a few distinct values) or none, some negative, with ±0. */
    static float[] scores(SplittableRandom r, int n, boolean ties) {
        float[] h = new float[n];
        float[] pool = {0f, -0f, 1.5f, 2.25f, -3f, 1.5f, 5.5f, 1e-30f, -1e-30f};
        for (int i = 0; i < n; i++) {
            h[i] = ties ? pool[r.nextInt(pool.length)] : (float) (r.nextDouble() * 7 - 1.5);
        }
        return h;
    }

    static int[] bytes(SplittableRandom r, int n) {
        int[] x = new int[n];
        for (int i = 0; i < n; i++) {
            int c = r.nextInt(6);
            x[i] = c == 0 ? ' ' : c == 1 ? r.nextInt(256) : 'a' + r.nextInt(26);
        }
        return x;
    }

    // ---------------------------------------------------------------- the quantile

    @Property(tries = 300)
    void selectionEqualsTheSortedQuantile(@ForAll @IntRange(min = 1, max = 6) int B, @ForAll @IntRange(min = 1, max = 70) int T,
                                          @ForAll @IntRange(min = 0, max = 1000) int levelMille, @ForAll boolean ties,
                                          @ForAll boolean monotonic, @ForAll long seed) {
        int mode = monotonic ? Patching.MONOTONIC : Patching.ENTROPY;
        int k = Patching.scoreCount(mode, B, T);
        if (k == 0) {
            return;
        }
        float[] h = scores(new SplittableRandom(seed), B * T, ties);
        double level = levelMille / 1000.0;
        float expected = refQuantile(h, mode, B, T, level);
        float got = Patching.selectScore(h, mode, B, T, rank(k, level));
        assertThat(got == expected).as("selected %s, sorted %s (B=%d T=%d level=%s)", got, expected, B, T, level).isTrue();
        if (expected != 0f) {
            assertThat(Float.floatToRawIntBits(got)).isEqualTo(Float.floatToRawIntBits(expected));
        }
    }

    @Test
    void everyRankOfAFewTiedScores() {
        float[] h = {3f, -1f, 0f, -0f, 3f, 3f, 2f, -1f, 7f, 0f};
        float[] sorted = h.clone();
        Arrays.sort(sorted);
        for (int rank = 0; rank < h.length; rank++) {
            assertThat(Patching.selectScore(h, Patching.ENTROPY, 1, h.length, rank) == sorted[rank]).as("rank %d", rank).isTrue();
        }
        float[] same = {4f, 4f, 4f};
        assertThat(Patching.selectScore(same, Patching.ENTROPY, 1, 3, 2)).isEqualTo(4f);
    }

    @Test
    void closeFloatsAndSubnormals() {
        SplittableRandom r = new SplittableRandom(5);
        float[] h = new float[200];
        for (int i = 0; i < h.length; i++) {
            h[i] = r.nextBoolean() ? Math.nextUp(2f) * (r.nextInt(3) + 1) : Float.MIN_VALUE * r.nextInt(4);
        }
        float[] sorted = h.clone();
        Arrays.sort(sorted);
        for (int rank = 0; rank < h.length; rank += 7) {
            assertThat(Patching.selectScore(h, Patching.ENTROPY, 4, 50, rank) == sorted[rank]).as("rank %d", rank).isTrue();
        }
    }

    /** The strided passes a device work-group shares add up to the sequential pass. */
    @Test
    void stridedPassesCombineToTheWhole() {
        SplittableRandom r = new SplittableRandom(9);
        float[] h = scores(r, 300, false);
        int T = 30, n = 300;
        for (int mode : new int[] {Patching.ENTROPY, Patching.MONOTONIC}) {
            float x = 1.25f, lo = -0.5f, hi = 4f;
            int c = 0;
            float mx = lo, mn = hi;
            for (int lane = 0; lane < 7; lane++) {
                c += Patching.countAtMost(h, mode, T, n, lane, 7, x);
                mx = Math.max(mx, Patching.maxBetween(h, mode, T, n, lane, 7, lo, x, lo));
                mn = Math.min(mn, Patching.minAbove(h, mode, T, n, lane, 7, x, hi, hi));
            }
            assertThat(c).isEqualTo(Patching.countAtMost(h, mode, T, n, 0, 1, x));
            assertThat(mx).isEqualTo(Patching.maxBetween(h, mode, T, n, 0, 1, lo, x, lo));
            assertThat(mn).isEqualTo(Patching.minAbove(h, mode, T, n, 0, 1, x, hi, hi));
        }
    }

    // ---------------------------------------------------------------- the decision and the rows

    @ParameterizedTest
    @ValueSource(ints = {Patching.ENTROPY, Patching.MONOTONIC, Patching.FIXED, Patching.SPACE})
    void decisionAndRowsMatchTheFormerCode(int mode) {
        SplittableRandom r = new SplittableRandom(31 + mode);
        for (int trial = 0; trial < 40; trial++) {
            int B = 1 + r.nextInt(5), T = 1 + r.nextInt(60), N = B * T;
            int maxPatch = 1 + r.nextInt(12), fixedLength = 1 + r.nextInt(maxPatch);
            int warmupFixed = r.nextInt(3) == 0 ? 1 + r.nextInt(6) : 0;
            boolean ties = r.nextBoolean();
            float[] h = scores(r, N, ties);
            int[] x = bytes(r, N);
            float theta = ties ? 1.5f : (float) (r.nextDouble() * 4 - 0.5);
            int[] expected = refEnds(mode, x, h, B, T, maxPatch, fixedLength, warmupFixed, theta);
            int[] ends = new int[N], count = new int[B + 1], start = new int[B + 1], rows = new int[N], pi = new int[N];
            for (int b = 0; b < B; b++) {
                Patching.decideSequence(ends, count, x, h, mode, fixedLength, maxPatch, warmupFixed, theta, T, b);
            }
            String what = "mode " + mode + " trial " + trial;
            assertThat(ends).as(what).isEqualTo(expected);
            Patching.prefix(start, count, B);
            for (int b = 0; b < B; b++) {
                Patching.rowsSequence(rows, pi, ends, start, T, b);
            }
            int[][] ref = refRows(expected, B, T);
            int R = ref[2][B];
            assertThat(Arrays.copyOf(rows, R)).as(what + " rows").isEqualTo(Arrays.copyOf(ref[0], R));
            assertThat(pi).as(what + " pi").isEqualTo(ref[1]);
            assertThat(start).as(what + " start").isEqualTo(ref[2]);
            assertThat(count).as(what + " count").isEqualTo(ref[3]);
        }
    }

    @Test
    void theMaxPatchCapAndTheWarmUp() {
        int T = 20;
        float[] h = new float[T]; // entropy 0 everywhere: θ = 1 never fires
        int[] x = new int[T];
        Arrays.fill(x, 'a');
        int[] ends = new int[T], count = new int[1];
        Patching.decideSequence(ends, count, x, h, Patching.ENTROPY, 0, 6, 0, 1f, T, 0);
        assertThat(count[0]).as("a cut every maxPatch bytes").isEqualTo(3);
        assertThat(ends[5]).isEqualTo(1);
        Patching.decideSequence(ends, count, x, h, Patching.ENTROPY, 0, 6, 4, 1f, T, 0);
        assertThat(count[0]).as("warm-up: fixed patches of 4").isEqualTo(5);
        Patching.decideSequence(ends, count, x, h, Patching.SPACE, 0, 6, 4, 1f, T, 0);
        assertThat(count[0]).as("the warm-up leaves non-entropy modes alone").isEqualTo(3);
        assertThat(Patching.endsAt(Patching.SPACE, ' ', 0f, 0f, 0, 1, 6, 0, 0, 0f)).isEqualTo(1);
        assertThat(Patching.endsAt(Patching.SPACE, 200, 0f, 0f, 0, 1, 6, 0, 0, 0f)).isEqualTo(0);
        assertThat(Patching.endsAt(Patching.MONOTONIC, 'a', 9f, 0f, 0, 1, 6, 0, 0, 0f)).as("no rise at t = 0").isEqualTo(0);
    }

    /** The backend op: the same decisions and rows as the units, and θ calibrated in the state before deciding. */
    @ParameterizedTest
    @ValueSource(ints = {Patching.ENTROPY, Patching.MONOTONIC, Patching.FIXED, Patching.SPACE})
    void cpuBackendOpRunsTheUnits(int mode) {
        SplittableRandom r = new SplittableRandom(77 + mode);
        int B = 5, T = 37, N = B * T, maxPatch = 9, fixedLength = 4;
        float[] h = scores(r, N, false);
        int[] x = bytes(r, N);
        try (CpuBackend one = new CpuBackend(1); CpuBackend three = new CpuBackend(3)) {
            for (int calibrate = 0; calibrate < 2; calibrate++) {
                int k = Patching.scoreCount(mode, B, T), rank = k == 0 ? 0 : rank(k, 0.25);
                float[] state = {0.7f};
                int[][] outs = new int[2][];
                for (int which = 0; which < 2; which++) {
                    int[] ends = new int[N], rows = new int[N], pi = new int[N], start = new int[B + 1], count = new int[B + 1];
                    state[0] = 0.7f;
                    (which == 0 ? one : three).patchBoundaries(ends, rows, pi, start, count, x, h, state, B, T, mode, fixedLength,
                            maxPatch, 0, calibrate, rank);
                    float theta = calibrate == 1 && k > 0 ? refQuantile(h, mode, B, T, 0.25) : 0.7f;
                    assertThat(state[0]).isEqualTo(theta);
                    int[] expected = refEnds(mode, x, h, B, T, maxPatch, fixedLength, 0, theta);
                    assertThat(ends).isEqualTo(expected);
                    int[][] ref = refRows(expected, B, T);
                    assertThat(pi).isEqualTo(ref[1]);
                    assertThat(start).isEqualTo(ref[2]);
                    assertThat(Arrays.copyOf(rows, start[B])).isEqualTo(Arrays.copyOf(ref[0], start[B]));
                    outs[which] = pi;
                }
                assertThat(outs[0]).as("1 vs 3 threads").isEqualTo(outs[1]);
            }
        }
    }
}
