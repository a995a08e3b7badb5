package io.ionllama.kernels;

/**
 * Patch boundaries: which bytes close a patch, the global stage's rows, and the entropy
 * threshold's calibration (an exact quantile), over flat arrays of B sequences of T bytes.
 *
 * <pre>
 *   ends[b*T + t]   1 where byte t of sequence b closes its patch          decideSequence (unit: b)
 *   count[b]        patches closed in sequence b                            decideSequence
 *   start[0..B]     start[b] = count[0] + .. + count[b-1]                   prefix (one unit)
 *   rows[r]         position b*T + t of the patch with global row r        rowsSequence (unit: b)
 *                   (row r = start[b] + the patch's number within b)
 *   pi[b*T + t]     0 until sequence b's first patch closed, then 1 + the row of the last patch
 *                   closed at or before t                                    rowsSequence
 * </pre>
 *
 * The decision for one byte ({@link #endsAt}), with {@code len} bytes in the open patch:
 * <pre>
 *   len >= maxPatch                              → ends (every mode)
 *   warmupFixed > 0 and an entropy mode          → ends when len >= warmupFixed
 *   ENTROPY    h[t] > θ          MONOTONIC   t > 0 and h[t] - h[t-1] > θ
 *   FIXED      len >= fixedLength             SPACE       the byte is not a letter or digit (≥ 128 counts as a letter)
 * </pre>
 *
 * <p><b>The quantile.</b> θ is the score at sorted position {@code rank} of a batch's scores
 * (ENTROPY: every h[i]; MONOTONIC: h[i] - h[i-1] for t > 0), i.e. the smallest score v with
 * #{s ≤ v} ≥ rank + 1. It is found without sorting, by narrowing [lo, hi], two of the scores,
 * that always hold it: each round splits at a midpoint m, counts the scores ≤ m and, in the same
 * pass, finds the largest score in [lo, m] and the smallest in (m, hi]; then hi becomes the
 * former (count ≥ rank + 1) or lo the latter. Each round removes at least one distinct score and
 * halves [lo, hi] in value where float rounding allows, so a batch of entropies takes about 20
 * rounds; the result is one of the scores themselves, so it equals the sorted array's element
 * exactly (as a float: -0.0 and 0.0, which compare equal and decide the same, are one value
 * here). The counting units take a start and a stride so that a device work-group's threads can
 * share a pass; they use comparisons only (no bit tricks: TornadoVM's OpenCL backend cannot
 * reinterpret a float's bits). Scores are assumed finite (the model's are).
 */
public final class Patching {
    private Patching() {}

    /** Patcher modes as codes. */
    public static final int ENTROPY = 0, MONOTONIC = 1, FIXED = 2, SPACE = 3;

    /** The patch state array: the threshold θ (written by a calibrating call, read by the decision). */
    public static final int STATE_THETA = 0, STATE = 1;

    public static int usesEntropy(int mode) {
        return mode == ENTROPY || mode == MONOTONIC ? 1 : 0;
    }

    /** 1 for bytes that continue a word: ASCII letters and digits, and every byte ≥ 128 (UTF-8 stays whole). */
    public static int isWordByte(int b) {
        return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b >= 128 ? 1 : 0;
    }

    /**
     * 1 when a byte closes its patch: {@code len} bytes are in the open patch, this one included;
     * {@code h} is its entropy score, {@code hPrev} the previous byte's (read only with hasPrev = 1).
     */
    public static int endsAt(int mode, int byteValue, float h, float hPrev, int hasPrev, int len, int maxPatch,
                             int fixedLength, int warmupFixed, float theta) {
        if (len >= maxPatch) {
            return 1;
        }
        int entropyMode = usesEntropy(mode);
        if (warmupFixed > 0 && entropyMode == 1) {
            return len >= warmupFixed ? 1 : 0;
        }
        if (mode == ENTROPY) {
            return h > theta ? 1 : 0;
        }
        if (mode == MONOTONIC) {
            return hasPrev != 0 && h - hPrev > theta ? 1 : 0;
        }
        if (mode == FIXED) {
            return len >= fixedLength ? 1 : 0;
        }
        return 1 - isWordByte(byteValue);
    }

    /**
     * One sequence b: ends[b*T + t] for t = 0..T-1 (in order: a patch's length depends on the
     * bytes before), and count[b] = the patches it closed. {@code h} is read only in entropy modes.
     */
    public static void decideSequence(int[] ends, int[] count, int[] bytes, float[] h, int mode, int fixedLength,
                                      int maxPatch, int warmupFixed, float theta, int T, int b) {
        int entropyMode = usesEntropy(mode);
        int len = 0;
        int closed = 0;
        int s = b * T;
        for (int t = 0; t < T; t++) {
            int i = s + t;
            len++;
            float hi = 0f;
            float hp = 0f;
            if (entropyMode == 1) {
                hi = h[i];
                if (t > 0) {
                    hp = h[i - 1];
                }
            }
            int end = endsAt(mode, bytes[i], hi, hp, t > 0 ? 1 : 0, len, maxPatch, fixedLength, warmupFixed, theta);
            ends[i] = end;
            if (end != 0) {
                len = 0;
                closed++;
            }
        }
        count[b] = closed;
    }

    /** start[b] = count[0] + .. + count[b-1] for b = 0..B; start[B] is the number of rows. */
    public static void prefix(int[] start, int[] count, int B) {
        int r = 0;
        for (int b = 0; b < B; b++) {
            start[b] = r;
            r += count[b];
        }
        start[B] = r;
    }

    /** One sequence b: the rows of its patches and pi over its positions (see the class comment). */
    public static void rowsSequence(int[] rows, int[] pi, int[] ends, int[] start, int T, int b) {
        int r = start[b];
        int last = 0;
        int s = b * T;
        for (int t = 0; t < T; t++) {
            int i = s + t;
            if (ends[i] != 0) {
                rows[r] = i;
                r++;
                last = r; // 1 + this patch's row
            }
            pi[i] = last;
        }
    }

    // ---------------------------------------------------------------- the quantile

    /** How many scores B sequences of T bytes have: every position (ENTROPY), all but each sequence's first (MONOTONIC), none otherwise. */
    public static int scoreCount(int mode, int B, int T) {
        if (mode == ENTROPY) {
            return B * T;
        }
        if (mode == MONOTONIC) {
            return B * (T - 1);
        }
        return 0;
    }

    /** Position i's score; only positions with {@link #hasScore} have one. */
    public static float score(float[] h, int mode, int T, int i) {
        if (mode == MONOTONIC) {
            return h[i] - h[i - 1];
        }
        return h[i];
    }

    public static int hasScore(int mode, int T, int i) {
        return mode == MONOTONIC && i % T == 0 ? 0 : 1;
    }

    /** The first position with a score (a score every pass can start its bounds from). */
    public static int firstScore(int mode) {
        return mode == MONOTONIC ? 1 : 0;
    }

    /** The smallest score among positions from, from + stride, .. below n, or {@code init} if smaller. */
    public static float minScore(float[] h, int mode, int T, int n, int from, int stride, float init) {
        float m = init;
        for (int i = from; i < n; i += stride) {
            if (hasScore(mode, T, i) != 0) {
                float s = score(h, mode, T, i);
                if (s < m) {
                    m = s;
                }
            }
        }
        return m;
    }

    /** The largest score among positions from, from + stride, .. below n, or {@code init} if larger. */
    public static float maxScore(float[] h, int mode, int T, int n, int from, int stride, float init) {
        float m = init;
        for (int i = from; i < n; i += stride) {
            if (hasScore(mode, T, i) != 0) {
                float s = score(h, mode, T, i);
                if (s > m) {
                    m = s;
                }
            }
        }
        return m;
    }

    /** How many scores among positions from, from + stride, .. below n are ≤ x. */
    public static int countAtMost(float[] h, int mode, int T, int n, int from, int stride, float x) {
        int c = 0;
        for (int i = from; i < n; i += stride) {
            if (hasScore(mode, T, i) != 0 && score(h, mode, T, i) <= x) {
                c++;
            }
        }
        return c;
    }

    /** The largest score s with lo ≤ s ≤ mid among positions from, from + stride, .. below n, or {@code init} if larger. */
    public static float maxBetween(float[] h, int mode, int T, int n, int from, int stride, float lo, float mid, float init) {
        float m = init;
        for (int i = from; i < n; i += stride) {
            if (hasScore(mode, T, i) != 0) {
                float s = score(h, mode, T, i);
                if (s >= lo && s <= mid && s > m) {
                    m = s;
                }
            }
        }
        return m;
    }

    /** The smallest score s with mid < s ≤ hi among positions from, from + stride, .. below n, or {@code init} if smaller. */
    public static float minAbove(float[] h, int mode, int T, int n, int from, int stride, float mid, float hi, float init) {
        float m = init;
        for (int i = from; i < n; i += stride) {
            if (hasScore(mode, T, i) != 0) {
                float s = score(h, mode, T, i);
                if (s > mid && s <= hi && s < m) {
                    m = s;
                }
            }
        }
        return m;
    }

    /** A split point m with lo ≤ m < hi (lo < hi): the midpoint, or lo where rounding puts the midpoint outside. */
    public static float midpoint(float lo, float hi) {
        float m = lo * 0.5f + hi * 0.5f;
        if (m >= lo && m < hi) {
            return m;
        }
        return lo;
    }

    /**
     * The score at sorted position {@code rank} (0 ≤ rank < {@link #scoreCount}) of B sequences of
     * T bytes, by the narrowing in the class comment, in one sequential pass per round. A device
     * splits each pass over a work-group's threads (start = thread, stride = threads).
     */
    public static float selectScore(float[] h, int mode, int B, int T, int rank) {
        int n = B * T;
        float init = score(h, mode, T, firstScore(mode));
        float lo = minScore(h, mode, T, n, 0, 1, init);
        float hi = maxScore(h, mode, T, n, 0, 1, init);
        // Every round moves lo up or hi down to another score, so at most n rounds.
        for (int round = 0; round <= n && lo < hi; round++) {
            float mid = midpoint(lo, hi);
            int c = countAtMost(h, mode, T, n, 0, 1, mid);
            if (c >= rank + 1) {
                hi = maxBetween(h, mode, T, n, 0, 1, lo, mid, lo);
            } else {
                lo = minAbove(h, mode, T, n, 0, 1, mid, hi, hi);
            }
        }
        return hi;
    }
}
