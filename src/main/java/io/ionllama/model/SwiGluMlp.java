package io.ionllama.model;

import io.ionllama.backend.Backend;

/**
 * The SwiGLU MLP both kinds of layer end with, and its residual:
 * {@code out = y + dropout(W_down (silu(W_gate n) ⊙ W_up n))} with {@code n = RMSNorm(y)} computed by the
 * caller. One definition for the IntegralLNN layers and the global blocks, forward and backward.
 */
final class SwiGluMlp {
    private SwiGluMlp() {}

    /**
     * out[rows, d] = y + W_down(silu(g1) ⊙ u1), keeping g1, u1, s [rows, hidden] for the backward;
     * n and y are read at {@code nyOff}, g1, u1 and s written at {@code hidOff}.
     */
    static void forward(Backend be, float[] p, int wGate, int wUp, int wDown, float[] n, float[] y, int nyOff,
                        float[] g1, float[] u1, float[] s, int hidOff, float[] out, int outOff,
                        int rows, int d, int hidden, Dropout drop, int site) {
        be.matmulForward(g1, hidOff, n, nyOff, p, wGate, null, 0, rows, d, hidden);
        be.matmulForward(u1, hidOff, n, nyOff, p, wUp, null, 0, rows, d, hidden);
        be.swigluForward(s, hidOff, g1, hidOff, u1, hidOff, rows * hidden);
        be.matmulForward(out, outOff, s, hidOff, p, wDown, null, 0, rows, hidden, d);
        drop.apply(be, out, outOff, rows * d, site);
        be.accumulate(out, outOff, y, nyOff, rows * d);
    }

    /**
     * Backward of the MLP branch: dn[rows, d] = d/dn (zeroed here), weight gradients into gr. The
     * residual's share of dOut is the caller's. The saved n is read at {@code nOff}, g1, u1 and s at
     * {@code hidOff}; the scratch dn, dg1, du1, ds is used from 0. With dropout on, the branch's
     * gradient is dOut masked as the forward masked the branch, in the scratch {@code dBranch}.
     */
    static void backward(Backend be, float[] p, float[] gr, int wGate, int wUp, int wDown, float[] dOut, int dOutOff,
                         float[] n, int nOff, float[] g1, float[] u1, float[] s, int hidOff,
                         float[] dn, float[] dg1, float[] du1, float[] ds, int rows, int d, int hidden,
                         Dropout drop, int site, float[] dBranch) {
        int rh = rows * hidden;
        if (drop.on()) {
            be.copy(dBranch, 0, dOut, dOutOff, rows * d);
            drop.apply(be, dBranch, 0, rows * d, site);
            dOut = dBranch;
            dOutOff = 0;
        }
        be.matmulBackwardInputOverwrite(ds, 0, dOut, dOutOff, p, wDown, rows, hidden, d);
        be.matmulBackwardWeight(gr, wDown, null, 0, dOut, dOutOff, s, hidOff, rows, hidden, d);
        be.swigluBackwardOverwrite(dg1, 0, du1, 0, ds, 0, g1, hidOff, u1, hidOff, rh);
        be.matmulBackwardInputOverwrite(dn, 0, dg1, 0, p, wGate, rows, d, hidden);
        be.matmulBackwardWeight(gr, wGate, null, 0, dg1, 0, n, nOff, rows, d, hidden);
        be.matmulBackwardInput(dn, 0, du1, 0, p, wUp, rows, d, hidden);
        be.matmulBackwardWeight(gr, wUp, null, 0, du1, 0, n, nOff, rows, d, hidden);
    }
}
