package io.ionllama.model;

import io.ionllama.backend.Backend;

/**
 * The SwiGLU MLP both kinds of layer end with, and its residual:
 * {@code out = y + W_down (silu(W_gate n) ⊙ W_up n)} with {@code n = RMSNorm(y)} computed by the
 * caller. One definition for the IntegralLNN layers and the global blocks, forward and backward.
 */
final class SwiGluMlp {
    private SwiGluMlp() {}

    /** out[rows, d] = y + W_down(silu(g1) ⊙ u1), keeping g1, u1, s [rows, hidden] for the backward. */
    static void forward(Backend be, float[] p, int wGate, int wUp, int wDown, float[] n, float[] y,
                        float[] g1, float[] u1, float[] s, float[] out, int outOff, int rows, int d, int hidden) {
        be.matmulForward(g1, 0, n, 0, p, wGate, null, 0, rows, d, hidden);
        be.matmulForward(u1, 0, n, 0, p, wUp, null, 0, rows, d, hidden);
        be.swigluForward(s, 0, g1, 0, u1, 0, rows * hidden);
        be.matmulForward(out, outOff, s, 0, p, wDown, null, 0, rows, hidden, d);
        be.accumulate(out, outOff, y, 0, rows * d);
    }

    /**
     * Backward of the MLP branch: dn[rows, d] = d/dn (zeroed here), weight gradients into gr. The
     * residual's share of dOut is the caller's.
     */
    static void backward(Backend be, float[] p, float[] gr, int wGate, int wUp, int wDown, float[] dOut, int dOutOff,
                         float[] n, float[] g1, float[] u1, float[] s, float[] dn, float[] dg1, float[] du1, float[] ds,
                         int rows, int d, int hidden) {
        int rh = rows * hidden;
        be.fill(ds, 0, 0f, rh);
        be.matmulBackwardInput(ds, 0, dOut, dOutOff, p, wDown, rows, hidden, d);
        be.matmulBackwardWeight(gr, wDown, null, 0, dOut, dOutOff, s, 0, rows, hidden, d);
        be.fill(dg1, 0, 0f, rh);
        be.fill(du1, 0, 0f, rh);
        be.swigluBackward(dg1, 0, du1, 0, ds, 0, g1, 0, u1, 0, rh);
        be.fill(dn, 0, 0f, rows * d);
        be.matmulBackwardInput(dn, 0, dg1, 0, p, wGate, rows, d, hidden);
        be.matmulBackwardWeight(gr, wGate, null, 0, dg1, 0, n, 0, rows, d, hidden);
        be.matmulBackwardInput(dn, 0, du1, 0, p, wUp, rows, d, hidden);
        be.matmulBackwardWeight(gr, wUp, null, 0, du1, 0, n, 0, rows, d, hidden);
    }
}
