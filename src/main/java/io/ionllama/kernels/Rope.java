package io.ionllama.kernels;

/**
 * Rotary position embedding (RoPE) on queries or keys, with the position being the row's index
 * in its sequence (for the global transformer: the patch index).
 *
 * <pre>
 *   x, y  [N, C]   N = B*P rows (B sequences of P positions), C = H*hd, row n = head-major [H, hd]
 *   row n has position p = pos0 + (n mod P)      (pos0 = 0 for a full sequence; the patch index
 *                                                 of the row when one new row is rotated while
 *                                                 generating, with P = 1)
 *
 *   pairs are INTERLEAVED (RoFormer / Meta Llama): within a head, (x[2j], x[2j+1]) for j < hd/2
 *   theta_j = base^(-2j/hd),   angle = p * theta_j        (base 10000 in the model)
 *
 *   forward  (y may be x: in place)    backward (ACCUMULATES, dx must not alias dy)
 *   y[2j]   = x[2j] cos - x[2j+1] sin   dx[2j]   += dy[2j] cos + dy[2j+1] sin
 *   y[2j+1] = x[2j] sin + x[2j+1] cos   dx[2j+1] += -dy[2j] sin + dy[2j+1] cos
 * </pre>
 *
 * The backward is the rotation by -angle (the transpose of an orthogonal matrix). hd must be
 * even. The unit is one (row, head); the row form loops over heads for the CPU. Angles are
 * computed in float from (p, j) alone, so a row rotated on its own during generation gets the
 * same bits as in the full forward.
 */
public final class Rope {
    private Rope() {}

    /** theta_j = base^(-2j/hd), in float, the one place the frequency is computed. */
    public static float inverseFrequency(int j, int hd, float base) {
        return (float) Math.exp(-(2.0f * j / hd) * (float) Math.log(base));
    }

    /** One (row n, head h): y = R(p) x for the hd/2 pairs of that head. */
    public static void forwardHead(float[] y, int yOff, float[] x, int xOff, int P, int pos0,
                                   int H, int hd, float base, int n, int h) {
        int p = pos0 + n % P;
        int xr = xOff + n * H * hd + h * hd;
        int yr = yOff + n * H * hd + h * hd;
        int half = hd / 2;
        for (int j = 0; j < half; j++) {
            float angle = p * inverseFrequency(j, hd, base);
            float cos = (float) Math.cos(angle);
            float sin = (float) Math.sin(angle);
            float x0 = x[xr + 2 * j];
            float x1 = x[xr + 2 * j + 1];
            y[yr + 2 * j] = x0 * cos - x1 * sin;
            y[yr + 2 * j + 1] = x0 * sin + x1 * cos;
        }
    }

    /** One (row n, head h): dx += R(-p) dy. */
    public static void backwardHead(float[] dx, int dxOff, float[] dy, int dyOff, int P, int pos0,
                                    int H, int hd, float base, int n, int h) {
        int p = pos0 + n % P;
        int dyr = dyOff + n * H * hd + h * hd;
        int dxr = dxOff + n * H * hd + h * hd;
        int half = hd / 2;
        for (int j = 0; j < half; j++) {
            float angle = p * inverseFrequency(j, hd, base);
            float cos = (float) Math.cos(angle);
            float sin = (float) Math.sin(angle);
            float g0 = dy[dyr + 2 * j];
            float g1 = dy[dyr + 2 * j + 1];
            dx[dxr + 2 * j] += g0 * cos + g1 * sin;
            dx[dxr + 2 * j + 1] += g1 * cos - g0 * sin;
        }
    }

    /** One row n, every head: the CPU's unit. */
    public static void forwardRow(float[] y, int yOff, float[] x, int xOff, int P, int pos0,
                                  int H, int hd, float base, int n) {
        for (int h = 0; h < H; h++) {
            forwardHead(y, yOff, x, xOff, P, pos0, H, hd, base, n, h);
        }
    }

    /** One row n, every head. */
    public static void backwardRow(float[] dx, int dxOff, float[] dy, int dyOff, int P, int pos0,
                                   int H, int hd, float base, int n) {
        for (int h = 0; h < H; h++) {
            backwardHead(dx, dxOff, dy, dyOff, P, pos0, H, hd, base, n, h);
        }
    }
}
