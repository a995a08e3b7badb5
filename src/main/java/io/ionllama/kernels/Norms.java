package io.ionllama.kernels;

/**
 * RMSNorm and LayerNorm over the rows of a matrix, with a learned per-channel weight (and, for
 * LayerNorm, an optional bias).
 *
 * <pre>
 *   x    [N, C]  input rows, row-major (row n at xOff + n*C)
 *   w    [C]     weight (RMSNorm callers without a learned weight pass ones)
 *   b    [C]     LayerNorm bias (optional: hasBias = 0)
 *   out  [N, C]
 *
 *   RMSNorm:    rstd[n] = 1 / sqrt(mean_c x[n,c]^2 + eps)
 *               out[n,c] = x[n,c] * rstd[n] * w[c]
 *   LayerNorm:  mean[n] = mean_c x[n,c]
 *               rstd[n] = 1 / sqrt(mean_c (x[n,c] - mean[n])^2 + eps)
 *               out[n,c] = (x[n,c] - mean[n]) * rstd[n] * w[c] + b[c]
 *
 *   mean[N] and rstd[N] are saved by the forward for the backward.
 *
 *   backward (all gradients ACCUMULATE, +=), with g[c] = dy[n,c] * w[c]:
 *   RMSNorm    dx[n,c] += rstd * (g[c] - x[n,c] * rstd^2 * (sum_j g[j] x[n,j]) / C)
 *              dw[c]   += sum_n dy[n,c] * x[n,c] * rstd[n]
 *   LayerNorm  xhat = (x - mean) * rstd
 *              dx[n,c] += rstd * (g[c] - mean_j g[j] - xhat[c] * mean_j (g[j] xhat[j]))
 *              dw[c]   += sum_n dy[n,c] * xhat[n,c]
 *              db[c]   += sum_n dy[n,c]
 * </pre>
 *
 * <p>Units: a row (forward, input gradient) and a channel (weight and bias gradients, summing
 * rows n = 0..N-1 in order, so the result never depends on how channels were split over
 * threads). Row statistics are accumulated in float, left to right over c.
 */
public final class Norms {
    private Norms() {}

    // ------------------------------------------------------------------------------- RMSNorm

    /** One row: out[n,:] = x[n,:] * rstd[n] * w, and rstd[n] saved. */
    public static void rmsNormForwardRow(float[] out, int outOff, float[] rstd, int rstdOff,
                                         float[] x, int xOff, float[] w, int wOff,
                                         int C, float eps, int n) {
        int xr = xOff + n * C;
        int ro = outOff + n * C;
        float ss = 0f;
        for (int c = 0; c < C; c++) {
            float v = x[xr + c];
            ss += v * v;
        }
        float r = 1f / (float) Math.sqrt(ss / C + eps);
        rstd[rstdOff + n] = r;
        for (int c = 0; c < C; c++) {
            out[ro + c] = x[xr + c] * r * w[wOff + c];
        }
    }

    /** One input-gradient row: dx[n,:] += d out / d x[n,:] applied to dy[n,:]. */
    public static void rmsNormBackwardInputRow(float[] dx, int dxOff, float[] dy, int dyOff,
                                               float[] x, int xOff, float[] w, int wOff,
                                               float[] rstd, int rstdOff, int C, int n) {
        int xr = xOff + n * C;
        int dyr = dyOff + n * C;
        int dxr = dxOff + n * C;
        float r = rstd[rstdOff + n];
        float dot = 0f;
        for (int c = 0; c < C; c++) {
            dot += dy[dyr + c] * w[wOff + c] * x[xr + c];
        }
        // d rstd / d x[c] = -rstd^3 x[c] / C: every output in the row shares it.
        float k = r * r * dot / C;
        for (int c = 0; c < C; c++) {
            dx[dxr + c] += r * (dy[dyr + c] * w[wOff + c] - x[xr + c] * k);
        }
    }

    /** One weight-gradient cell: dw[c] += sum_n dy[n,c] * x[n,c] * rstd[n], n in order. */
    public static void rmsNormBackwardWeightCell(float[] dw, int dwOff, float[] dy, int dyOff,
                                                 float[] x, int xOff, float[] rstd, int rstdOff,
                                                 int rows, int C, int c) {
        float acc = 0f;
        for (int n = 0; n < rows; n++) {
            acc += dy[dyOff + n * C + c] * x[xOff + n * C + c] * rstd[rstdOff + n];
        }
        dw[dwOff + c] += acc;
    }

    // ----------------------------------------------------------------------------- LayerNorm

    /** One row: mean[n], rstd[n] saved and out[n,:] normalised, scaled and shifted. */
    public static void layerNormForwardRow(float[] out, int outOff, float[] mean, int meanOff,
                                           float[] rstd, int rstdOff, float[] x, int xOff,
                                           float[] w, int wOff, float[] b, int bOff, int hasBias,
                                           int C, float eps, int n) {
        int xr = xOff + n * C;
        int ro = outOff + n * C;
        float s = 0f;
        for (int c = 0; c < C; c++) {
            s += x[xr + c];
        }
        float m = s / C;
        // Two passes: the one-pass E[x^2] - E[x]^2 cancels catastrophically for large means.
        float v = 0f;
        for (int c = 0; c < C; c++) {
            float d = x[xr + c] - m;
            v += d * d;
        }
        float r = 1f / (float) Math.sqrt(v / C + eps);
        mean[meanOff + n] = m;
        rstd[rstdOff + n] = r;
        for (int c = 0; c < C; c++) {
            float o = (x[xr + c] - m) * r * w[wOff + c];
            if (hasBias != 0) {
                o += b[bOff + c];
            }
            out[ro + c] = o;
        }
    }

    /** One input-gradient row of LayerNorm. */
    public static void layerNormBackwardInputRow(float[] dx, int dxOff, float[] dy, int dyOff,
                                                 float[] x, int xOff, float[] w, int wOff,
                                                 float[] mean, int meanOff, float[] rstd, int rstdOff,
                                                 int C, int n) {
        int xr = xOff + n * C;
        int dyr = dyOff + n * C;
        int dxr = dxOff + n * C;
        float m = mean[meanOff + n];
        float r = rstd[rstdOff + n];
        float sumG = 0f;
        float sumGx = 0f;
        for (int c = 0; c < C; c++) {
            float g = dy[dyr + c] * w[wOff + c];
            sumG += g;
            sumGx += g * (x[xr + c] - m) * r;
        }
        float meanG = sumG / C;
        float meanGx = sumGx / C;
        for (int c = 0; c < C; c++) {
            float g = dy[dyr + c] * w[wOff + c];
            float xhat = (x[xr + c] - m) * r;
            dx[dxr + c] += r * (g - meanG - xhat * meanGx);
        }
    }

    /** One weight-gradient cell: dw[c] += sum_n dy[n,c] * xhat[n,c], n in order. */
    public static void layerNormBackwardWeightCell(float[] dw, int dwOff, float[] dy, int dyOff,
                                                   float[] x, int xOff, float[] mean, int meanOff,
                                                   float[] rstd, int rstdOff, int rows, int C, int c) {
        float acc = 0f;
        for (int n = 0; n < rows; n++) {
            float xhat = (x[xOff + n * C + c] - mean[meanOff + n]) * rstd[rstdOff + n];
            acc += dy[dyOff + n * C + c] * xhat;
        }
        dw[dwOff + c] += acc;
    }

    /** One bias-gradient cell: db[c] += sum_n dy[n,c], n in order. */
    public static void layerNormBackwardBiasCell(float[] db, int dbOff, float[] dy, int dyOff,
                                                 int rows, int C, int c) {
        float acc = 0f;
        for (int n = 0; n < rows; n++) {
            acc += dy[dyOff + n * C + c];
        }
        db[dbOff + c] += acc;
    }
}
