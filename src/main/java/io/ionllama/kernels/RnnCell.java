package io.ionllama.kernels;

/**
 * The fused gate unit of the context-vector RNN ({@code model.ContextRnn}), one time step over
 * a batch of rows:
 *
 * <pre>
 *   z [rows, 3C]  the gate pre-activations of one fused matmul, per row [ z_f | z_i | z_g ]
 *   c [rows, C]   the previous (normalised) context c_{t-1}
 *
 *   f = sigmoid(z_f)    i = sigmoid(z_i)    g = tanh(z_g)
 *   p = f ⊙ c + i ⊙ g                              (p [rows, C]; LayerNorm(p) is the next c)
 *
 *   backward (dp given; dz, dc ACCUMULATE):
 *   dz_f += dp · c · f (1 - f)        (f (1 - f) = e/(1+e)², e = exp(-|z_f|))
 *   dz_i += dp · g · i (1 - i)        (likewise)
 *   dz_g += dp · i · (1 - g²)         (1 - g² = 4 e/(1+e)², e = exp(-2|z_g|))
 *   dc   += dp · f
 * </pre>
 *
 * Why one unit for all three gates: they are elementwise on the same row, so fusing them reads z
 * and c once and writes p once per step, and a step of the recurrence is then three ops (matmul,
 * gates, LayerNorm) instead of seven. The backward recomputes f, i, g from z rather than saving
 * them: three transcendental functions per element are cheap next to the matmuls, and the model
 * keeps only z (3C floats per row) instead of z and the activations (6C).
 *
 * <p>Units are cells (n, k), and rows of cells for the CPU: a cell's outputs depend on that cell
 * only (no reduction), so results do not depend on how rows or cells are split over threads.
 */
public final class RnnCell {
    private RnnCell() {}

    /** One row: p[n,:] = sigmoid(z_f) c + sigmoid(z_i) tanh(z_g). */
    public static void forwardRow(float[] p, int pOff, float[] z, int zOff, float[] c, int cOff, int C, int n) {
        for (int k = 0; k < C; k++) {
            forwardCell(p, pOff, z, zOff, c, cOff, C, n, k);
        }
    }

    /** One cell p[n,k] (the device runs one thread per cell: a time step has only B rows). */
    public static void forwardCell(float[] p, int pOff, float[] z, int zOff, float[] c, int cOff, int C, int n, int k) {
        int zr = zOff + n * 3 * C;
        float f = Activations.sigmoid(z[zr + k]);
        float i = Activations.sigmoid(z[zr + C + k]);
        float g = (float) Math.tanh(z[zr + 2 * C + k]);
        p[pOff + n * C + k] = f * c[cOff + n * C + k] + i * g;
    }

    /**
     * One row of the backward: dz[n,:] and (when {@code dc} is not null) dc[n,:] accumulate. A null
     * dc is for a first step whose c is the constant zero state.
     */
    public static void backwardRow(float[] dz, int dzOff, float[] dc, int dcOff, float[] dp, int dpOff,
                                   float[] z, int zOff, float[] c, int cOff, int C, int n) {
        int hasDc = dc == null ? 0 : 1;
        for (int k = 0; k < C; k++) {
            backwardCell(dz, dzOff, dc, dcOff, hasDc, dp, dpOff, z, zOff, c, cOff, C, n, k);
        }
    }

    /**
     * One cell (n, k) of the backward: dz[n, k], dz[n, C+k], dz[n, 2C+k] and, when {@code hasDc}
     * is 1, dc[n,k] accumulate ({@code dc} is not read when hasDc is 0: an int flag rather than a
     * null test, because device kernels take no null arrays).
     */
    public static void backwardCell(float[] dz, int dzOff, float[] dc, int dcOff, int hasDc, float[] dp, int dpOff,
                                    float[] z, int zOff, float[] c, int cOff, int C, int n, int k) {
        int zr = zOff + n * 3 * C;
        int dzr = dzOff + n * 3 * C;
        float zf = z[zr + k], zi = z[zr + C + k], zg = z[zr + 2 * C + k];
        // With e = exp(-|x|): sigmoid(x) = 1/(1+e) or e/(1+e) by the sign of x, and
        // sigmoid(x)(1 - sigmoid(x)) = e/(1+e)^2 for either sign; 1 - tanh(x)^2 =
        // 4 e2/(1+e2)^2 with e2 = exp(-2|x|). One exp per gate, and no subtraction: 1 - f
        // for f = 0.9997 keeps ~12 bits, the product form keeps full relative accuracy when a
        // gate saturates.
        float ef = (float) Math.exp(-Math.abs(zf)), sf = 1f / (1f + ef);
        float ei = (float) Math.exp(-Math.abs(zi)), si = 1f / (1f + ei);
        float eg = (float) Math.exp(-2f * Math.abs(zg)), sg = 1f / (1f + eg);
        float f = zf >= 0f ? sf : ef * sf;
        float i = zi >= 0f ? si : ei * si;
        float g = (float) Math.tanh(zg);
        float d = dp[dpOff + n * C + k];
        dz[dzr + k] += d * c[cOff + n * C + k] * (ef * sf * sf);
        dz[dzr + C + k] += d * g * (ei * si * si);
        dz[dzr + 2 * C + k] += d * i * (4f * eg * sg * sg);
        if (hasDc != 0) {
            dc[dcOff + n * C + k] += d * f;
        }
    }
}
