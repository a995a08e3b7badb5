package io.ionllama.kernels;

/**
 * Optimizer updates over flat parameter ranges (parameters, gradients and moments share one
 * layout, so a range is the same slice of each array).
 *
 * <pre>
 *   AdamW (decoupled weight decay, bias-corrected):
 *     m = β1 m + (1-β1) g            v = β2 v + (1-β2) g²
 *     p -= lr · ( (m / bc1) / (sqrt(v / bc2) + eps) + wd · p )      bc_i = 1 - β_i^step
 *
 *   sum of squares (for global-norm clipping): one partial sum per fixed block of BLOCK
 *   elements, added in block order by the caller, so the norm is the same for any thread count.
 * </pre>
 */
public final class Optim {
    private Optim() {}

    /** Elements per partial sum of squares. */
    public static final int BLOCK = 4096;

    public static void adamwRange(float[] p, float[] g, float[] m, float[] v, int off,
                                  float lr, float beta1, float beta2, float eps, float wd,
                                  float bc1, float bc2, float gradScale, int from, int to) {
        for (int i = off + from; i < off + to; i++) {
            float gi = g[i] * gradScale;
            float mi = beta1 * m[i] + (1 - beta1) * gi;
            float vi = beta2 * v[i] + (1 - beta2) * gi * gi;
            m[i] = mi;
            v[i] = vi;
            float update = (mi / bc1) / ((float) Math.sqrt(vi / bc2) + eps);
            p[i] -= lr * (update + wd * p[i]);
        }
    }

    /**
     * 1 / (sqrt(sumSquares) + eps), rounded to float: the factor that scales a tensor to unit
     * Frobenius norm (Muon), from its sum of squares added in block order.
     */
    public static float inverseNorm(double sumSquares, double eps) {
        return (float) (1 / (Math.sqrt(sumSquares) + eps));
    }

    /** partial[block] = sum of g² over elements [block*BLOCK, min(n, (block+1)*BLOCK)) of the range at off. */
    public static void sumSquaresBlock(double[] partial, float[] g, int off, int n, int block) {
        sumSquaresBlockAt(partial, block, g, off, n, block);
    }

    /** As {@link #sumSquaresBlock}, the sum written to partial[at] (blocks of several ranges in one array). */
    public static void sumSquaresBlockAt(double[] partial, int at, float[] g, int off, int n, int block) {
        int from = block * BLOCK;
        int to = Math.min(n, from + BLOCK);
        double s = 0;
        for (int i = from; i < to; i++) {
            double x = g[off + i];
            s += x * x;
        }
        partial[at] = s;
    }
}
