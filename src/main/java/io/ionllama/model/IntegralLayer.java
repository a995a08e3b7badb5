package io.ionllama.model;

import io.ionllama.backend.Backend;

/**
 * One IntegralLNN layer over B sequences of T bytes, width d (docs/architecture.md, section 3.4):
 *
 * <pre>
 *   x ──► RMSNorm ──► n ─┬─► W_Δ n + b_Δ ─► z ─► a = exp(-softplus(z)·e^λ) ─┐
 *                        ├─► W_u n ───────────► u ──────────────────────────┴─► scan: h = a⊙h + (1-a)⊙u
 *                        └─► W_g n ─► g                                          │
 *                                     └──► m = silu(g) ⊙ RMSNorm(h) ◄────────────┘
 *   y   = x + dropout(W_o m)
 *   out = y + dropout(W_down (silu(W_gate n2) ⊙ W_up n2)),   n2 = RMSNorm(y)   (dropout: training only)
 * </pre>
 *
 * The layers of one stack save their activations in arrays the stack shares ({@link Saved}), each
 * layer at its own offset; backward scratch is shared by every layer of the same width
 * ({@link Scratch}), since backward passes run one layer at a time. All math is backend calls:
 * this class only says which op follows which.
 */
final class IntegralLayer {
    static final float EPS = 1e-5f;

    final int d, hidden;
    // parameter offsets
    final int norm1, wDelta, bDelta, lambda, wU, wG, normH, wO, norm2, wGate, wUp, wDown;
    /** The stack's saved activations, and this layer's place in them. */
    final Saved saved;
    final int index;
    /** Dropout on the two residual branches, sites {@code dropSite} (scan) and {@code dropSite + 1} (MLP). */
    private final Dropout drop;
    private final int dropSite;

    IntegralLayer(ParamLayout layout, String prefix, Saved saved, int index, Dropout drop, int dropSite) {
        this.drop = drop;
        this.dropSite = dropSite;
        this.d = saved.d;
        this.hidden = saved.hidden;
        this.saved = saved;
        this.index = index;
        norm1 = layout.get(prefix + ".norm1").off();
        wDelta = layout.get(prefix + ".w_delta").off();
        bDelta = layout.get(prefix + ".b_delta").off();
        lambda = layout.get(prefix + ".lambda").off();
        wU = layout.get(prefix + ".w_u").off();
        wG = layout.get(prefix + ".w_g").off();
        normH = layout.get(prefix + ".norm_h").off();
        wO = layout.get(prefix + ".w_o").off();
        norm2 = layout.get(prefix + ".norm2").off();
        wGate = layout.get(prefix + ".mlp.w_gate").off();
        wUp = layout.get(prefix + ".mlp.w_up").off();
        wDown = layout.get(prefix + ".mlp.w_down").off();
    }

    /** Where this layer's [rows, d] activations start in the stack's arrays. */
    int offset(int rows) {
        return index * rows * d;
    }

    /**
     * The activations every layer of one stack (the entropy layers, the encoder, the decoder)
     * saves for its backward, one array per role, [depth · rows, d] unless noted: layer i keeps
     * its rows at i·rows·d (rstd1, rstdH, rstd2 at i·rows; g1, u1, s at i·rows·hidden).
     *
     * <p>Why one array per role and not per layer: a resident TornadoVM training step binds every
     * array it touches to each graph of its plan, and a TaskGraph has a fixed node table
     * (docs/gpu.md, "graph size limits"). Arrays per layer would make that count grow with depth;
     * shared per stack, it does not.
     */
    static final class Saved {
        final int d, hidden, depth;
        private int cap;
        float[] x, n, rstd1, z, a, u, h, hn, rstdH, g, m, y, n2, rstd2, g1, u1, s;

        Saved(int d, int hidden, int depth) {
            this.d = d;
            this.hidden = hidden;
            this.depth = depth;
        }

        /** Grows the arrays for {@code rows} rows per layer, for all layers of the stack at once. */
        void ensure(int rows) {
            if (rows <= cap) {
                return;
            }
            cap = rows;
            int all = Math.multiplyExact(depth, rows);
            int rd = Math.multiplyExact(all, d), rh = Math.multiplyExact(all, hidden);
            x = new float[rd]; n = new float[rd]; rstd1 = new float[all]; z = new float[rd]; a = new float[rd];
            u = new float[rd]; h = new float[rd]; hn = new float[rd]; rstdH = new float[all]; g = new float[rd];
            m = new float[rd]; y = new float[rd]; n2 = new float[rd]; rstd2 = new float[all];
            g1 = new float[rh]; u1 = new float[rh]; s = new float[rh];
        }
    }

    /**
     * Backward scratch shared by layers of one width, used from offset 0, except da, du and dh:
     * the scan op takes one offset for all its arrays, so those three are used at the layer's own
     * offset and sized for the deepest stack ({@code depth} layers) that shares this scratch.
     */
    static final class Scratch {
        final int d, hidden, depth;
        int cap;
        float[] dn, dz, da, du, dh, dhn, dg, dm, dy, dn2, dg1, du1, ds, dBranch;

        Scratch(int d, int hidden, int depth) {
            this.d = d;
            this.hidden = hidden;
            this.depth = depth;
        }

        void ensure(int rows) {
            if (rows <= cap) {
                return;
            }
            cap = rows;
            int rd = rows * d, rh = rows * hidden, scan = Math.multiplyExact(Math.max(1, depth), rd);
            dn = new float[rd]; dz = new float[rd]; da = new float[scan]; du = new float[scan]; dh = new float[scan];
            dhn = new float[rd]; dg = new float[rd]; dm = new float[rd]; dy = new float[rd]; dn2 = new float[rd];
            dBranch = new float[rd];
            dg1 = new float[rh]; du1 = new float[rh]; ds = new float[rh];
        }
    }

    /** out[rows, d] = layer(in); keeps what backward needs. {@code out} may not alias {@code in}. */
    void forward(Backend be, float[] p, float[] in, int inOff, float[] out, int outOff, int B, int T) {
        int rows = B * T, rd = rows * d;
        saved.ensure(rows);
        Saved v = saved;
        int o = offset(rows), oRow = index * rows, oHid = index * rows * hidden;
        be.copy(v.x, o, in, inOff, rd);
        be.rmsNormForward(v.n, o, v.rstd1, oRow, v.x, o, p, norm1, rows, d, EPS);
        be.matmulForward(v.z, o, v.n, o, p, wDelta, p, bDelta, rows, d, d);
        be.integralGateForward(v.a, o, v.z, o, p, lambda, rows, d);
        be.matmulForward(v.u, o, v.n, o, p, wU, null, 0, rows, d, d);
        be.scanForward(v.h, v.a, v.u, o, B, T, d);
        be.rmsNormForward(v.hn, o, v.rstdH, oRow, v.h, o, p, normH, rows, d, EPS);
        be.matmulForward(v.g, o, v.n, o, p, wG, null, 0, rows, d, d);
        be.swigluForward(v.m, o, v.g, o, v.hn, o, rd);
        be.matmulForward(v.y, o, v.m, o, p, wO, null, 0, rows, d, d);
        drop.apply(be, v.y, o, rd, dropSite);
        be.accumulate(v.y, o, v.x, o, rd);
        be.rmsNormForward(v.n2, o, v.rstd2, oRow, v.y, o, p, norm2, rows, d, EPS);
        SwiGluMlp.forward(be, p, wGate, wUp, wDown, v.n2, v.y, o, v.g1, v.u1, v.s, oHid, out, outOff, rows, d, hidden,
                drop, dropSite + 1);
    }

    /** dIn[rows, d] += d(layer)/d(in) · dOut; parameter gradients accumulate into {@code gr}. */
    void backward(Backend be, float[] p, float[] gr, float[] dOut, int dOutOff, float[] dIn, int dInOff,
                  int B, int T, Scratch sc) {
        int rows = B * T, rd = rows * d;
        sc.ensure(rows);
        Saved v = saved;
        int o = offset(rows), oRow = index * rows, oHid = index * rows * hidden;
        // out = y + W_down s
        be.copy(sc.dy, 0, dOut, dOutOff, rd);
        SwiGluMlp.backward(be, p, gr, wGate, wUp, wDown, dOut, dOutOff, v.n2, o, v.g1, v.u1, v.s, oHid,
                sc.dn2, sc.dg1, sc.du1, sc.ds, rows, d, hidden, drop, dropSite + 1, sc.dBranch);
        be.rmsNormBackward(sc.dy, 0, gr, norm2, sc.dn2, 0, v.y, o, p, norm2, v.rstd2, oRow, rows, d);
        // y = x + dropout(W_o m): the residual takes dy whole, the branch dy masked
        be.accumulate(dIn, dInOff, sc.dy, 0, rd);
        float[] dBranch = sc.dy;
        if (drop.on()) {
            be.copy(sc.dBranch, 0, sc.dy, 0, rd);
            drop.apply(be, sc.dBranch, 0, rd, dropSite);
            dBranch = sc.dBranch;
        }
        be.matmulBackwardInputOverwrite(sc.dm, 0, dBranch, 0, p, wO, rows, d, d);
        be.matmulBackwardWeight(gr, wO, null, 0, dBranch, 0, v.m, o, rows, d, d);
        be.swigluBackwardOverwrite(sc.dg, 0, sc.dhn, 0, sc.dm, 0, v.g, o, v.hn, o, rd);
        be.matmulBackwardInputOverwrite(sc.dn, 0, sc.dg, 0, p, wG, rows, d, d);
        be.matmulBackwardWeight(gr, wG, null, 0, sc.dg, 0, v.n, o, rows, d, d);
        // the scan's gradients da, du, dh sit at the layer's offset, like h, a, u (one offset per scan op)
        be.fill(sc.dh, o, 0f, rd);
        be.rmsNormBackward(sc.dh, o, gr, normH, sc.dhn, 0, v.h, o, p, normH, v.rstdH, oRow, rows, d);
        be.fill(sc.da, o, 0f, rd);
        be.fill(sc.du, o, 0f, rd);
        be.scanBackward(sc.da, sc.du, sc.dh, v.h, v.a, v.u, o, B, T, d);
        be.matmulBackwardInput(sc.dn, 0, sc.du, o, p, wU, rows, d, d);
        be.matmulBackwardWeight(gr, wU, null, 0, sc.du, o, v.n, o, rows, d, d);
        be.fill(sc.dz, 0, 0f, rd);
        be.integralGateBackward(sc.dz, 0, gr, lambda, sc.da, o, v.a, o, v.z, o, p, lambda, rows, d);
        be.matmulBackwardInput(sc.dn, 0, sc.dz, 0, p, wDelta, rows, d, d);
        be.matmulBackwardWeight(gr, wDelta, gr, bDelta, sc.dz, 0, v.n, o, rows, d, d);
        be.rmsNormBackward(dIn, dInOff, gr, norm1, sc.dn, 0, v.x, o, p, norm1, v.rstd1, oRow, rows, d);
    }

    /** One-row buffers for {@link #step}: generation runs the layer a byte at a time. */
    static final class StepBuffers {
        final float[] x, n, r1, z, a, u, hn, rH, g, m, y, n2, r2, g1, u1, s;

        StepBuffers(int d, int hidden) {
            x = new float[d]; n = new float[d]; r1 = new float[1]; z = new float[d]; a = new float[d]; u = new float[d];
            hn = new float[d]; rH = new float[1]; g = new float[d]; m = new float[d]; y = new float[d]; n2 = new float[d];
            r2 = new float[1]; g1 = new float[hidden]; u1 = new float[hidden]; s = new float[hidden];
        }
    }

    /**
     * The layer for one new byte: the same ops as {@link #forward} on one row, with the scan's
     * state {@code h[hOff..hOff+d)} carried from the previous byte and updated in place.
     */
    void step(Backend be, float[] p, float[] in, int inOff, float[] out, int outOff, float[] h, int hOff, StepBuffers sb) {
        be.copy(sb.x, 0, in, inOff, d);
        be.rmsNormForward(sb.n, 0, sb.r1, 0, sb.x, 0, p, norm1, 1, d, EPS);
        be.matmulForward(sb.z, 0, sb.n, 0, p, wDelta, p, bDelta, 1, d, d);
        be.integralGateForward(sb.a, 0, sb.z, 0, p, lambda, 1, d);
        be.matmulForward(sb.u, 0, sb.n, 0, p, wU, null, 0, 1, d, d);
        be.scanStep(h, hOff, sb.a, 0, sb.u, 0, d);
        be.rmsNormForward(sb.hn, 0, sb.rH, 0, h, hOff, p, normH, 1, d, EPS);
        be.matmulForward(sb.g, 0, sb.n, 0, p, wG, null, 0, 1, d, d);
        be.swigluForward(sb.m, 0, sb.g, 0, sb.hn, 0, d);
        be.matmulForward(sb.y, 0, sb.m, 0, p, wO, null, 0, 1, d, d);
        be.accumulate(sb.y, 0, sb.x, 0, d);
        be.rmsNormForward(sb.n2, 0, sb.r2, 0, sb.y, 0, p, norm2, 1, d, EPS);
        SwiGluMlp.forward(be, p, wGate, wUp, wDown, sb.n2, sb.y, 0, sb.g1, sb.u1, sb.s, 0, out, outOff, 1, d, hidden,
                Dropout.NONE, 0);
    }

    /**
     * The scan state after row {@code row} of the last forward pass over {@code rows} rows, into
     * {@code dst}: generation picks up where a prompt's forward pass left off.
     */
    void stateAfter(Backend be, int rows, int row, float[] dst) {
        be.toHost(saved.h);
        System.arraycopy(saved.h, offset(rows) + row * d, dst, 0, d);
    }

    /** Initial values: norms 1, softplus(b_Δ) = 1, τ log-uniform over 1..256, matrices scaled by fan-in. */
    void init(float[] p, java.util.SplittableRandom rnd, int residualLayers) {
        Init.fill(p, norm1, d, 1f);
        Init.fill(p, normH, d, 1f);
        Init.fill(p, norm2, d, 1f);
        Init.fill(p, bDelta, d, (float) Math.log(Math.E - 1));
        for (int c = 0; c < d; c++) {
            double tau = Math.exp(rnd.nextDouble() * Math.log(256));
            p[lambda + c] = (float) -Math.log(tau);
        }
        float std = (float) (1 / Math.sqrt(d));
        float out = (float) (std / Math.sqrt(2.0 * residualLayers));
        Init.normal(p, wDelta, d * d, std, rnd);
        Init.normal(p, wU, d * d, std, rnd);
        Init.normal(p, wG, d * d, std, rnd);
        Init.normal(p, wO, d * d, out, rnd);
        Init.normal(p, wGate, hidden * d, std, rnd);
        Init.normal(p, wUp, hidden * d, std, rnd);
        Init.normal(p, wDown, d * hidden, (float) (out * Math.sqrt((double) d / hidden)), rnd);
    }
}
