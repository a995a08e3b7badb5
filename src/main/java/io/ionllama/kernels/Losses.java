package io.ionllama.kernels;

/**
 * Row softmax, cross-entropy against integer targets, predictive entropy, argmax and the loss
 * statistics a training step reports.
 *
 * <pre>
 *   logits  [N, V]  row n at logitsOff + n*V (V = 256 for byte models; any V works)
 *   targets [N]     int, 0 <= target < V; a target < 0 means "ignore this row"
 *
 *   softmax    p[n,v] = e^(l[n,v] - m) / sum_u e^(l[n,u] - m),  m = max_u l[n,u]
 *              backward: dx[n,v] += p[n,v] * (dy[n,v] - sum_u dy[n,u] p[n,u])
 *   CE         loss[n] = log sum_u e^(l[n,u] - m) + m - l[n, target[n]]   (nats; 0 if ignored)
 *              probs[n,:] = softmax(l[n,:]) saved for the backward
 *              backward: dlogits[n,v] += (p[n,v] - [v == target[n]]) * dloss[n]   (nothing if ignored)
 *   entropy    H[n] = -sum_v p[n,v] log p[n,v]   (nats; forward only, feeds the patcher)
 *   argmax     a[n] = the first v with the largest l[n,v]
 * </pre>
 *
 * <p><b>The CE backward's scale.</b> {@code dloss[n]} is read at {@code dlossOff + n * dlossStride}:
 * stride 1 gives a per-row scale, stride 0 broadcasts one value to every row. The usual mean loss
 * over valid rows is stride 0 pointing at {@code stats[STAT_INV_VALID]} written by
 * {@link #lossStatsCell}: 1/(number of valid rows), computed where the losses live, so a device
 * backend never round-trips the count (a scalar kernel argument would be frozen at graph build).
 *
 * <p>Units: a row for everything per-row; {@link #lossStatsCell} is one sequential unit (a sum
 * over rows in order, so it is the same for any thread count).
 */
public final class Losses {
    private Losses() {}

    /** Index in the stats array of: sum of valid rows' losses (nats). */
    public static final int STAT_LOSS_SUM = 0;
    /** Number of valid rows (target >= 0), as a float. */
    public static final int STAT_VALID = 1;
    /** Mean loss over valid rows (0 when none). */
    public static final int STAT_MEAN_LOSS = 2;
    /** 1 / valid rows (0 when none): the dloss of the mean loss, for the CE backward with stride 0. */
    public static final int STAT_INV_VALID = 3;
    /** Valid rows whose argmax equals the target (0 when no argmax was given). */
    public static final int STAT_CORRECT = 4;
    /** Length of the stats array. */
    public static final int STATS = 5;

    // ---------------------------------------------------------------- softmax

    /** One row: probs[n,:] = softmax(logits[n,:]). */
    public static void softmaxRow(float[] probs, int probsOff, float[] logits, int logitsOff, int V, int n) {
        int lr = logitsOff + n * V;
        expNormalize(probs, probsOff + n * V, logits, lr, V, rowMax(logits, lr, V));
    }

    /** The largest of logits[lr .. lr+V). */
    static float rowMax(float[] logits, int lr, int V) {
        float m = logits[lr];
        for (int v = 1; v < V; v++) {
            m = Math.max(m, logits[lr + v]);
        }
        return m;
    }

    /** probs[pr + v] = exp(logits[lr + v] - m) / sum, the sum added in order v = 0..V-1; returns the sum. */
    static float expNormalize(float[] probs, int pr, float[] logits, int lr, int V, float m) {
        float s = 0f;
        for (int v = 0; v < V; v++) {
            float e = (float) Math.exp(logits[lr + v] - m);
            probs[pr + v] = e;
            s += e;
        }
        for (int v = 0; v < V; v++) {
            probs[pr + v] = probs[pr + v] / s;
        }
        return s;
    }

    /** One row of the softmax backward: dx[n,:] += p * (dy - dot(dy, p)). */
    public static void softmaxBackwardRow(float[] dx, int dxOff, float[] dy, int dyOff,
                                          float[] probs, int probsOff, int V, int n) {
        int pr = probsOff + n * V;
        int dyr = dyOff + n * V;
        int dxr = dxOff + n * V;
        float dot = 0f;
        for (int v = 0; v < V; v++) {
            dot += dy[dyr + v] * probs[pr + v];
        }
        for (int v = 0; v < V; v++) {
            dx[dxr + v] += probs[pr + v] * (dy[dyr + v] - dot);
        }
    }

    // ---------------------------------------------------------------- cross-entropy

    /**
     * One row: probs[n,:] = softmax(logits[n,:]) and losses[n] = -log p[n, target] computed as
     * log-sum-exp minus the target's logit (no log of a rounded-to-zero probability); 0 when the
     * target is negative.
     */
    public static void crossEntropyForwardRow(float[] losses, int lossesOff, float[] probs, int probsOff,
                                              float[] logits, int logitsOff, int[] targets, int targetsOff,
                                              int V, int n) {
        int lr = logitsOff + n * V;
        float m = rowMax(logits, lr, V);
        float s = expNormalize(probs, probsOff + n * V, logits, lr, V, m);
        int t = targets[targetsOff + n];
        float loss = 0f;
        if (t >= 0) {
            loss = (float) Math.log(s) - (logits[lr + t] - m);
        }
        losses[lossesOff + n] = loss;
    }

    /** One row of the CE backward: dlogits[n,v] += (p[n,v] - onehot) * dloss[dlossOff + n*dlossStride]. */
    public static void crossEntropyBackwardRow(float[] dlogits, int dlogitsOff, float[] probs, int probsOff,
                                               int[] targets, int targetsOff,
                                               float[] dloss, int dlossOff, int dlossStride, int V, int n) {
        int t = targets[targetsOff + n];
        if (t < 0) {
            return;
        }
        float g = dloss[dlossOff + n * dlossStride];
        int pr = probsOff + n * V;
        int dr = dlogitsOff + n * V;
        for (int v = 0; v < V; v++) {
            float p = probs[pr + v];
            if (v == t) {
                p -= 1f;
            }
            dlogits[dr + v] += p * g;
        }
    }

    // ---------------------------------------------------------------- entropy and argmax

    /** One row: H[n] = -sum p log p of softmax(logits[n,:]), in nats, from the logits directly. */
    public static void entropyRow(float[] entropy, int entropyOff, float[] logits, int logitsOff, int V, int n) {
        int lr = logitsOff + n * V;
        float m = logits[lr];
        for (int v = 1; v < V; v++) {
            m = Math.max(m, logits[lr + v]);
        }
        // H = log s - sum_v e_v (l_v - m) / s with e_v = e^(l_v - m), s = sum e_v: no log of a tiny p.
        float s = 0f;
        float el = 0f;
        for (int v = 0; v < V; v++) {
            float d = logits[lr + v] - m;
            float e = (float) Math.exp(d);
            s += e;
            el += e * d;
        }
        float h = (float) Math.log(s) - el / s;
        entropy[entropyOff + n] = Math.max(h, 0f);
    }

    /** One row: argmax[n] = the first index of the largest logit. */
    public static void argmaxRow(int[] argmax, int argmaxOff, float[] logits, int logitsOff, int V, int n) {
        int lr = logitsOff + n * V;
        int best = 0;
        float bv = logits[lr];
        for (int v = 1; v < V; v++) {
            if (logits[lr + v] > bv) {
                bv = logits[lr + v];
                best = v;
            }
        }
        argmax[argmaxOff + n] = best;
    }

    // ---------------------------------------------------------------- statistics

    /**
     * The whole batch's statistics in one sequential unit, rows in order; writes the
     * {@link #STATS} entries at {@code statsOff} (see the {@code STAT_*} indices). With
     * {@code hasArgmax} = 0 the argmax array is not read and the correct count is 0.
     */
    public static void lossStatsCell(float[] stats, int statsOff, float[] losses, int lossesOff,
                                     int[] argmax, int argmaxOff, int hasArgmax,
                                     int[] targets, int targetsOff, int rows) {
        float sum = 0f;
        int valid = 0;
        int correct = 0;
        for (int n = 0; n < rows; n++) {
            int t = targets[targetsOff + n];
            if (t >= 0) {
                sum += losses[lossesOff + n];
                valid++;
                if (hasArgmax != 0 && argmax[argmaxOff + n] == t) {
                    correct++;
                }
            }
        }
        stats[statsOff + STAT_LOSS_SUM] = sum;
        stats[statsOff + STAT_VALID] = valid;
        stats[statsOff + STAT_MEAN_LOSS] = valid > 0 ? sum / valid : 0f;
        stats[statsOff + STAT_INV_VALID] = valid > 0 ? 1f / valid : 0f;
        stats[statsOff + STAT_CORRECT] = correct;
    }
}
