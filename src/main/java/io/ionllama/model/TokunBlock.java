package io.ionllama.model;

import io.ionllama.backend.Backend;

/**
 * One pre-norm block of tokun over rows grouped G at a time: the shape of {@link GlobalBlock}, with
 * attention that is non-causal and confined to each group ({@code kernels.GroupAttention}) and RoPE
 * on the position inside the group.
 *
 * <pre>
 *   x ─► RMSNorm ─► q,k,v = W n ─► RoPE(q,k) on i = row mod G ─► group attention ─► W_o ─(+x)─► x2
 *   x2 ─► RMSNorm ─► SwiGLU MLP ─(+x2)─► out
 * </pre>
 *
 * Without RoPE the block would be blind to order inside a group (attention over a set); the merge
 * that follows does see order, but the block's mixing is better informed with it. Each block saves
 * its own activations, grown to the largest row count seen (a tokun step always has the same
 * count, so they stop growing after the first).
 */
final class TokunBlock {
    static final float EPS = 1e-5f;
    static final float ROPE_BASE = 10000f;

    final int d, hidden, heads, headDim, G;
    final int norm1, wq, wk, wv, wo, norm2, wGate, wUp, wDown;

    private int cap;
    private float[] x, n1, rstd1, q, k, v, qr, kr, o, x2, n2, rstd2, g1, u1, s, att;
    private float[] dn1, dq, dk, dv, dqr, dkr, dO, dx2, dn2, dg1, du1, ds;

    TokunBlock(ParamLayout layout, String prefix, TokunConfig c, int G) {
        d = c.dim();
        hidden = c.mlp();
        heads = c.heads();
        headDim = c.headDim();
        this.G = G;
        norm1 = layout.get(prefix + ".norm1").off();
        wq = layout.get(prefix + ".wq").off();
        wk = layout.get(prefix + ".wk").off();
        wv = layout.get(prefix + ".wv").off();
        wo = layout.get(prefix + ".wo").off();
        norm2 = layout.get(prefix + ".norm2").off();
        wGate = layout.get(prefix + ".mlp.w_gate").off();
        wUp = layout.get(prefix + ".mlp.w_up").off();
        wDown = layout.get(prefix + ".mlp.w_down").off();
    }

    private void ensure(int rows) {
        if (rows <= cap) {
            return;
        }
        cap = rows;
        int rd = rows * d, rh = rows * hidden;
        x = new float[rd]; n1 = new float[rd]; rstd1 = new float[rows]; q = new float[rd]; k = new float[rd];
        v = new float[rd]; qr = new float[rd]; kr = new float[rd]; o = new float[rd]; x2 = new float[rd];
        n2 = new float[rd]; rstd2 = new float[rows]; g1 = new float[rh]; u1 = new float[rh]; s = new float[rh];
        att = new float[rows / G * heads * G * G];
        dn1 = new float[rd]; dq = new float[rd]; dk = new float[rd]; dv = new float[rd]; dqr = new float[rd];
        dkr = new float[rd]; dO = new float[rd]; dx2 = new float[rd]; dn2 = new float[rd];
        dg1 = new float[rh]; du1 = new float[rh]; ds = new float[rh];
    }

    /** out[rows, d] = block(in[rows, d]); rows is a multiple of G. */
    void forward(Backend be, float[] p, float[] in, int inOff, float[] out, int outOff, int rows) {
        ensure(rows);
        int rd = rows * d, groups = rows / G;
        be.copy(x, 0, in, inOff, rd);
        be.rmsNormForward(n1, 0, rstd1, 0, x, 0, p, norm1, rows, d, EPS);
        be.matmulForward(q, 0, n1, 0, p, wq, null, 0, rows, d, d);
        be.matmulForward(k, 0, n1, 0, p, wk, null, 0, rows, d, d);
        be.matmulForward(v, 0, n1, 0, p, wv, null, 0, rows, d, d);
        be.ropeForward(qr, 0, q, 0, rows, G, 0, heads, headDim, ROPE_BASE);
        be.ropeForward(kr, 0, k, 0, rows, G, 0, heads, headDim, ROPE_BASE);
        be.attentionGroupForward(o, 0, att, 0, qr, 0, kr, 0, v, 0, groups, G, heads, headDim);
        be.matmulForward(x2, 0, o, 0, p, wo, null, 0, rows, d, d);
        be.accumulate(x2, 0, x, 0, rd);
        be.rmsNormForward(n2, 0, rstd2, 0, x2, 0, p, norm2, rows, d, EPS);
        SwiGluMlp.forward(be, p, wGate, wUp, wDown, n2, x2, 0, g1, u1, s, 0, out, outOff, rows, d, hidden, Dropout.NONE, 0);
    }

    /** dIn += d(objective)/d(in) given dOut; weight gradients into gr. Uses the last forward's activations. */
    void backward(Backend be, float[] p, float[] gr, float[] dOut, int dOutOff, float[] dIn, int dInOff, int rows) {
        int rd = rows * d, groups = rows / G;
        be.copy(dx2, 0, dOut, dOutOff, rd);
        SwiGluMlp.backward(be, p, gr, wGate, wUp, wDown, dOut, dOutOff, n2, 0, g1, u1, s, 0, dn2, dg1, du1, ds, rows, d,
                hidden, Dropout.NONE, 0, null);
        be.rmsNormBackward(dx2, 0, gr, norm2, dn2, 0, x2, 0, p, norm2, rstd2, 0, rows, d);
        be.accumulate(dIn, dInOff, dx2, 0, rd);
        be.matmulBackwardInputOverwrite(dO, 0, dx2, 0, p, wo, rows, d, d);
        be.matmulBackwardWeight(gr, wo, null, 0, dx2, 0, o, 0, rows, d, d);
        be.fill(dqr, 0, 0f, rd);
        be.fill(dkr, 0, 0f, rd);
        be.fill(dv, 0, 0f, rd);
        be.fill(dq, 0, 0f, rd);
        be.fill(dk, 0, 0f, rd);
        be.attentionGroupBackward(dqr, 0, dkr, 0, dv, 0, dO, 0, qr, 0, kr, 0, v, 0, o, 0, att, 0, groups, G, heads, headDim);
        be.ropeBackward(dq, 0, dqr, 0, rows, G, 0, heads, headDim, ROPE_BASE);
        be.ropeBackward(dk, 0, dkr, 0, rows, G, 0, heads, headDim, ROPE_BASE);
        be.matmulBackwardInputOverwrite(dn1, 0, dq, 0, p, wq, rows, d, d);
        be.matmulBackwardWeight(gr, wq, null, 0, dq, 0, n1, 0, rows, d, d);
        be.matmulBackwardInput(dn1, 0, dk, 0, p, wk, rows, d, d);
        be.matmulBackwardWeight(gr, wk, null, 0, dk, 0, n1, 0, rows, d, d);
        be.matmulBackwardInput(dn1, 0, dv, 0, p, wv, rows, d, d);
        be.matmulBackwardWeight(gr, wv, null, 0, dv, 0, n1, 0, rows, d, d);
        be.rmsNormBackward(dIn, dInOff, gr, norm1, dn1, 0, x, 0, p, norm1, rstd1, 0, rows, d);
    }

    /** As {@link GlobalBlock#init}: unit norms, 1/sqrt(d) projections, residual outputs scaled by depth. */
    void init(float[] p, java.util.SplittableRandom rnd, int residualLayers) {
        Init.fill(p, norm1, d, 1f);
        Init.fill(p, norm2, d, 1f);
        float std = (float) (1 / Math.sqrt(d));
        float out = (float) (std / Math.sqrt(2.0 * residualLayers));
        Init.normal(p, wq, d * d, std, rnd);
        Init.normal(p, wk, d * d, std, rnd);
        Init.normal(p, wv, d * d, std, rnd);
        Init.normal(p, wo, d * d, out, rnd);
        Init.normal(p, wGate, hidden * d, std, rnd);
        Init.normal(p, wUp, hidden * d, std, rnd);
        Init.normal(p, wDown, d * hidden, (float) (out * Math.sqrt((double) d / hidden)), rnd);
    }
}
