package io.ionllama.kernels;

/**
 * Matrix multiply with bias, the layout every linear layer of the model uses.
 *
 * <pre>
 *   x  [N, in]   activations, row-major
 *   W  [out, in] weights, row-major (one row per output feature, as llm.c and nn.Linear)
 *   b  [out]     bias (optional)
 *   y  [N, out]  y[n,o] = b[o] + sum_i x[n,i] * W[o,i]
 *
 *   backward (all gradients ACCUMULATE, +=):
 *   dx[n,i] += sum_o dy[n,o] * W[o,i]
 *   dW[o,i] += sum_n dy[n,o] * x[n,i]
 *   db[o]   += sum_n dy[n,o]
 * </pre>
 *
 * <p>Each method here is one unit of parallel work, written in the subset TornadoVM compiles
 * (primitive arrays and ints, no allocation, no objects). A backend decides how units map to
 * threads: the CPU backend runs rows over its worker pool, a TornadoVM task maps (n, o) cells to
 * device threads. Every unit sums in a fixed order, so its result never depends on how many
 * threads ran the others.
 */
public final class Matmul {
    private Matmul() {}

    /** One output cell y[n,o]. {@code hasBias} is 0 or 1 (an int, because kernels take no null arrays). */
    public static void forwardCell(float[] y, int yOff, float[] x, int xOff, float[] w, int wOff,
                                   float[] b, int bOff, int hasBias, int in, int out, int n, int o) {
        int xr = xOff + n * in;
        int wr = wOff + o * in;
        float acc = 0f;
        for (int i = 0; i < in; i++) {
            acc += x[xr + i] * w[wr + i];
        }
        if (hasBias != 0) {
            acc += b[bOff + o];
        }
        y[yOff + n * out + o] = acc;
    }

    /** One row y[n,:]: the CPU's scalar unit. */
    public static void forwardRow(float[] y, int yOff, float[] x, int xOff, float[] w, int wOff,
                                  float[] b, int bOff, int hasBias, int in, int out, int n) {
        for (int o = 0; o < out; o++) {
            forwardCell(y, yOff, x, xOff, w, wOff, b, bOff, hasBias, in, out, n, o);
        }
    }

    /** One input-gradient cell: dx[n,i] += sum_o dy[n,o] * W[o,i]. */
    public static void backwardInputCell(float[] dx, int dxOff, float[] dy, int dyOff, float[] w, int wOff,
                                         int in, int out, int n, int i) {
        int dyr = dyOff + n * out;
        float acc = 0f;
        for (int o = 0; o < out; o++) {
            acc += dy[dyr + o] * w[wOff + o * in + i];
        }
        dx[dxOff + n * in + i] += acc;
    }

    /** One input-gradient row dx[n,:]. */
    public static void backwardInputRow(float[] dx, int dxOff, float[] dy, int dyOff, float[] w, int wOff,
                                        int in, int out, int n) {
        for (int i = 0; i < in; i++) {
            backwardInputCell(dx, dxOff, dy, dyOff, w, wOff, in, out, n, i);
        }
    }

    /** One weight-gradient cell: dW[o,i] += sum_n dy[n,o] * x[n,i]. */
    public static void backwardWeightCell(float[] dw, int dwOff, float[] dy, int dyOff, float[] x, int xOff,
                                          int rows, int in, int out, int o, int i) {
        float acc = 0f;
        for (int n = 0; n < rows; n++) {
            acc += dy[dyOff + n * out + o] * x[xOff + n * in + i];
        }
        dw[dwOff + o * in + i] += acc;
    }

    /** One bias-gradient cell: db[o] += sum_n dy[n,o]. */
    public static void backwardBiasCell(float[] db, int dbOff, float[] dy, int dyOff, int rows, int out, int o) {
        float acc = 0f;
        for (int n = 0; n < rows; n++) {
            acc += dy[dyOff + n * out + o];
        }
        db[dbOff + o] += acc;
    }

    /** One weight-gradient row dW[o,:] (and db[o] when {@code hasBias} is 1). */
    public static void backwardWeightRow(float[] dw, int dwOff, float[] db, int dbOff, int hasBias,
                                         float[] dy, int dyOff, float[] x, int xOff,
                                         int rows, int in, int out, int o) {
        for (int i = 0; i < in; i++) {
            backwardWeightCell(dw, dwOff, dy, dyOff, x, xOff, rows, in, out, o, i);
        }
        if (hasBias != 0) {
            backwardBiasCell(db, dbOff, dy, dyOff, rows, out, o);
        }
    }
}
