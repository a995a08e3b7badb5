package io.ionllama.kernels;

/**
 * Elementwise activations: SiLU, GELU (tanh approximation), softplus and SwiGLU.
 *
 * <pre>
 *   sigmoid(x)  = 1 / (1 + e^-x)
 *   silu(x)     = x * sigmoid(x)                      silu'(x) = s * (1 + x * (1 - s)), s = sigmoid(x)
 *   gelu(x)     = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)      (GPT-2's form)
 *               gelu'(x) = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3*0.044715 x^2)
 *   softplus(x) = log(1 + e^x)                        softplus'(x) = sigmoid(x)
 *   swiglu(a,b) = silu(a) * b                          da = dy * b * silu'(a),  db = dy * silu(a)
 *
 *   all tensors are flat float[] slices of n elements; element i at off + i.
 *   backward ACCUMULATES: dx[i] += dy[i] * f'(x[i]).
 * </pre>
 *
 * <p>Units: one element ({@code ...Cell}, the GPU's one-thread-per-element unit) and a range
 * {@code [from, to)} of elements (the CPU's unit, a loop over the cell). Elements are
 * independent, so any split gives the same bits.
 *
 * <p>Numerics (float arithmetic around the Math calls): sigmoid never evaluates
 * {@code e^x} for large positive x (no overflow to inf); softplus is max(x, 0) + log1p(e^-|x|)
 * with a float log1p that keeps the tiny positive values of very negative x, and returns x for
 * x > 20 (where log(1 + e^x) == x in float).
 */
public final class Activations {
    private Activations() {}

    /** sqrt(2 / pi). */
    public static final float GELU_K = 0.7978845608028654f;
    public static final float GELU_C = 0.044715f;

    // ---------------------------------------------------------------- scalar functions

    public static float sigmoid(float x) {
        if (x >= 0f) {
            return 1f / (1f + (float) Math.exp(-x));
        }
        float e = (float) Math.exp(x);
        return e / (1f + e);
    }

    public static float silu(float x) {
        return x * sigmoid(x);
    }

    public static float siluGrad(float x) {
        float s = sigmoid(x);
        return s * (1f + x * (1f - s));
    }

    public static float gelu(float x) {
        float u = GELU_K * (x + GELU_C * x * x * x);
        return 0.5f * x * (1f + (float) Math.tanh(u));
    }

    public static float geluGrad(float x) {
        float u = GELU_K * (x + GELU_C * x * x * x);
        float t = (float) Math.tanh(u);
        return 0.5f * (1f + t) + 0.5f * x * (1f - t * t) * GELU_K * (1f + 3f * GELU_C * x * x);
    }

    public static float softplus(float x) {
        if (x > 20f) {
            return x;
        }
        // max(x, 0) + log(1 + e^-|x|): the exponent is never positive.
        float m = x > 0f ? x : 0f;
        return m + log1p((float) Math.exp(-Math.abs(x)));
    }

    /**
     * log(1 + e) for e >= 0, accurate in float for tiny e, where {@code log(1f + e)} rounds the sum
     * to 1 and returns 0 (Goldberg's trick: u - 1 is exact, and log(u) / (u - 1) varies slowly).
     */
    public static float log1p(float e) {
        float u = 1f + e;
        if (u == 1f) {
            return e;
        }
        return (float) Math.log(u) * (e / (u - 1f));
    }

    public static float softplusGrad(float x) {
        return sigmoid(x);
    }

    // ---------------------------------------------------------------- SiLU

    public static void siluForwardCell(float[] out, int outOff, float[] x, int xOff, int i) {
        out[outOff + i] = silu(x[xOff + i]);
    }

    public static void siluBackwardCell(float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff, int i) {
        dx[dxOff + i] += dy[dyOff + i] * siluGrad(x[xOff + i]);
    }

    public static void siluForwardRange(float[] out, int outOff, float[] x, int xOff, int from, int to) {
        for (int i = from; i < to; i++) {
            siluForwardCell(out, outOff, x, xOff, i);
        }
    }

    public static void siluBackwardRange(float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff,
                                         int from, int to) {
        for (int i = from; i < to; i++) {
            siluBackwardCell(dx, dxOff, dy, dyOff, x, xOff, i);
        }
    }

    // ---------------------------------------------------------------- GELU

    public static void geluForwardCell(float[] out, int outOff, float[] x, int xOff, int i) {
        out[outOff + i] = gelu(x[xOff + i]);
    }

    public static void geluBackwardCell(float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff, int i) {
        dx[dxOff + i] += dy[dyOff + i] * geluGrad(x[xOff + i]);
    }

    public static void geluForwardRange(float[] out, int outOff, float[] x, int xOff, int from, int to) {
        for (int i = from; i < to; i++) {
            geluForwardCell(out, outOff, x, xOff, i);
        }
    }

    public static void geluBackwardRange(float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff,
                                         int from, int to) {
        for (int i = from; i < to; i++) {
            geluBackwardCell(dx, dxOff, dy, dyOff, x, xOff, i);
        }
    }

    // ---------------------------------------------------------------- softplus

    public static void softplusForwardCell(float[] out, int outOff, float[] x, int xOff, int i) {
        out[outOff + i] = softplus(x[xOff + i]);
    }

    public static void softplusBackwardCell(float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff, int i) {
        dx[dxOff + i] += dy[dyOff + i] * softplusGrad(x[xOff + i]);
    }

    public static void softplusForwardRange(float[] out, int outOff, float[] x, int xOff, int from, int to) {
        for (int i = from; i < to; i++) {
            softplusForwardCell(out, outOff, x, xOff, i);
        }
    }

    public static void softplusBackwardRange(float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff,
                                             int from, int to) {
        for (int i = from; i < to; i++) {
            softplusBackwardCell(dx, dxOff, dy, dyOff, x, xOff, i);
        }
    }

    // ---------------------------------------------------------------- SwiGLU

    /** out[i] = silu(a[i]) * b[i]. */
    public static void swigluForwardCell(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int i) {
        out[outOff + i] = silu(a[aOff + i]) * b[bOff + i];
    }

    /** da[i] += dy[i] * b[i] * silu'(a[i]);  db[i] += dy[i] * silu(a[i]). */
    public static void swigluBackwardCell(float[] da, int daOff, float[] db, int dbOff, float[] dy, int dyOff,
                                          float[] a, int aOff, float[] b, int bOff, int i) {
        float av = a[aOff + i];
        float g = dy[dyOff + i];
        float s = sigmoid(av);
        da[daOff + i] += g * b[bOff + i] * (s * (1f + av * (1f - s)));
        db[dbOff + i] += g * (av * s);
    }

    public static void swigluForwardRange(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff,
                                          int from, int to) {
        for (int i = from; i < to; i++) {
            swigluForwardCell(out, outOff, a, aOff, b, bOff, i);
        }
    }

    public static void swigluBackwardRange(float[] da, int daOff, float[] db, int dbOff, float[] dy, int dyOff,
                                           float[] a, int aOff, float[] b, int bOff, int from, int to) {
        for (int i = from; i < to; i++) {
            swigluBackwardCell(da, daOff, db, dbOff, dy, dyOff, a, aOff, b, bOff, i);
        }
    }
}
