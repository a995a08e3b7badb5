package io.ionllama.kernels;

/**
 * The input-dependent decay of an IntegralLNN layer (docs/architecture.md, section 3.4):
 *
 * <pre>
 *   Δ[t,c] = softplus(z[t,c])                 z = W_Δ n + b_Δ, the step size, > 0
 *   a[t,c] = exp(-Δ[t,c] · exp(λ[c]))          decay in (0,1); λ = -log τ per channel
 *
 *   backward (ACCUMULATE):
 *   dz[t,c] += da[t,c] · a · (-exp(λ[c])) · sigmoid(z[t,c])
 *   dλ[c]   += sum_t da[t,c] · a · (-Δ[t,c] · exp(λ[c]))          (t in order)
 * </pre>
 *
 * Layout [rows, C]. Units: a row for forward and dz; a channel for dλ (the only reduction), so
 * the result does not depend on the thread count. {@code a} is recomputed from z in the backward
 * rather than saved twice: the scan already keeps its own copy.
 */
public final class IntegralGate {
    private IntegralGate() {}

    public static void forwardRow(float[] a, int aOff, float[] z, int zOff, float[] lambda, int lOff, int C, int n) {
        int r = n * C;
        for (int c = 0; c < C; c++) {
            float delta = Activations.softplus(z[zOff + r + c]);
            a[aOff + r + c] = (float) Math.exp(-delta * (float) Math.exp(lambda[lOff + c]));
        }
    }

    public static void backwardInputRow(float[] dz, int dzOff, float[] da, int daOff, float[] a, int aOff,
                                        float[] z, int zOff, float[] lambda, int lOff, int C, int n) {
        int r = n * C;
        for (int c = 0; c < C; c++) {
            float rate = (float) Math.exp(lambda[lOff + c]);
            dz[dzOff + r + c] += da[daOff + r + c] * a[aOff + r + c] * -rate * Activations.sigmoid(z[zOff + r + c]);
        }
    }

    public static void backwardLambdaCell(float[] dLambda, int dlOff, float[] da, int daOff, float[] a, int aOff,
                                          float[] z, int zOff, float[] lambda, int lOff, int rows, int C, int c) {
        float rate = (float) Math.exp(lambda[lOff + c]);
        float acc = 0f;
        for (int n = 0; n < rows; n++) {
            int i = n * C + c;
            acc += da[daOff + i] * a[aOff + i] * -Activations.softplus(z[zOff + i]) * rate;
        }
        dLambda[dlOff + c] += acc;
    }
}
