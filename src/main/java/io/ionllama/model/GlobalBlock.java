package io.ionllama.model;

import io.ionllama.backend.Backend;
import io.ionllama.kernels.Attention;

/**
 * One pre-norm transformer block over the patches of a batch (docs/architecture.md, section 3.6):
 *
 * <pre>
 *   x ─► RMSNorm ─► q,k,v = W n ─► RoPE(q,k) on the patch index ─► attention ─► W_o ─► dropout ─(+x)─► x2
 *   x2 ─► RMSNorm ─► SwiGLU MLP ─► dropout ─(+x2)─► out           (dropout: training only, {@link Dropout})
 * </pre>
 *
 * Rows are the patches of all sequences, packed without padding: sequence b owns rows
 * {@code [start[b], start[b] + count[b])}. Matmuls and norms run over all rows at once; RoPE and
 * attention run per sequence, since each has its own patch count. Attention is the causal sparse
 * dilated pattern (window w plus i - 2^m) or, as an ablation, dense.
 *
 * <p>The blocks save their activations in arrays they all share ({@link Saved}), block i at its
 * own offset, for the reason given there.
 */
final class GlobalBlock {
    static final float EPS = 1e-5f;
    static final float ROPE_BASE = 10000f;

    final int d, hidden, heads, headDim, window;
    final boolean dense;
    final int norm1, wq, wk, wv, wo, norm2, wGate, wUp, wDown;
    /** The saved activations of all blocks, and this block's place in them. */
    final Saved saved;
    final int index;
    /** Dropout on the two residual branches, sites {@code dropSite} (attention) and {@code dropSite + 1} (MLP). */
    private final Dropout drop;
    private final int dropSite;

    GlobalBlock(ParamLayout layout, String prefix, ModelConfig c, boolean dense, Saved saved, int index,
                Dropout drop, int dropSite) {
        this.drop = drop;
        this.dropSite = dropSite;
        d = c.dModel();
        hidden = c.globalMlp();
        heads = c.heads();
        headDim = c.headDim();
        window = c.window();
        this.dense = dense;
        this.saved = saved;
        this.index = index;
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

    /** Slots of the dilated pattern needed for sequences of up to {@code maxP} patches. */
    int slots(int maxP) {
        return Attention.dilatedSlots(window, Math.max(1, maxP));
    }

    /** Where this block's [rows, d] activations start in the shared arrays. */
    int offset(int rows) {
        return index * rows * d;
    }

    /**
     * The activations every global block saves for its backward, one array per role, [depth ·
     * rows, d] unless noted: block i keeps its rows at i·rows·d (rstd1, rstd2 at i·rows; g1, u1, s
     * at i·rows·hidden), and its attention weights at i·attOff[B] in {@code att}, sequence b's at
     * attOff[b] within them (dense: {@code Backend.denseAttentionState(P)} floats a head, 2 P on the
     * CPU's Vector API path where the device keeps P·P).
     *
     * <p>Why one array per role and not per block: a resident TornadoVM training step binds every
     * array it touches to each graph of its plan, and a TaskGraph has a fixed node table
     * (docs/gpu.md, "graph size limits"). Arrays per block would make that count grow with depth;
     * shared, it does not.
     */
    static final class Saved {
        final int d, hidden, heads, window, depth;
        final boolean dense;
        private int cap, attCap;
        float[] x, n1, rstd1, q, k, v, qr, kr, o, x2, n2, rstd2, g1, u1, s, att;
        int[] attOff; // per sequence, into one block's attention weights; attOff[B] = one block's total

        Saved(ModelConfig c, boolean dense, int depth) {
            this.d = c.dModel();
            this.hidden = c.globalMlp();
            this.heads = c.heads();
            this.dense = dense;
            this.window = c.window();
            this.depth = depth;
        }

        /**
         * Grows the arrays for {@code rows} rows and the attention weights of sequences of
         * {@code count[b]} patches, for all blocks at once.
         */
        void ensure(Backend be, int rows, int[] count, int B) {
            if (rows > cap) {
                cap = grown(rows, cap);
                int all = Math.multiplyExact(depth, cap);
                int rd = Math.multiplyExact(all, d), rh = Math.multiplyExact(all, hidden);
                x = new float[rd]; n1 = new float[rd]; rstd1 = new float[all]; q = new float[rd]; k = new float[rd];
                v = new float[rd]; qr = new float[rd]; kr = new float[rd]; o = new float[rd]; x2 = new float[rd];
                n2 = new float[rd]; rstd2 = new float[all]; g1 = new float[rh]; u1 = new float[rh]; s = new float[rh];
            }
            if (attOff == null || attOff.length < B + 1) {
                attOff = new int[B + 1];
            }
            long need = 0;
            for (int b = 0; b < B; b++) {
                attOff[b] = Math.toIntExact(need);
                need += heads * (dense ? be.denseAttentionState(count[b])
                        : (long) count[b] * Attention.dilatedSlots(window, Math.max(1, count[b])));
            }
            attOff[B] = Math.toIntExact(need);
            long needAll = need * depth;
            if (needAll > attCap) {
                attCap = grown(needAll, attCap);
                att = new float[attCap];
            }
        }
    }

    /**
     * The capacity of a patch-sized buffer that must hold {@code need}: a quarter more than asked,
     * and at least a quarter more than before. Patch counts vary from batch to batch (and jump
     * when entropy patching starts after the fixed-patch warm-up); a buffer that grows is a new
     * array, which makes a device backend build and compile its resident plan again.
     */
    static int grown(long need, int cap) {
        return Math.toIntExact(Math.max(need + need / 4, cap + (long) cap / 4));
    }

    static final class Scratch {
        int cap;
        final int d, hidden;
        float[] dn1, dq, dk, dv, dqr, dkr, dO, dn2, dg1, du1, ds, dBranch;

        Scratch(int d, int hidden) {
            this.d = d;
            this.hidden = hidden;
        }

        void ensure(int rows) {
            if (rows <= cap) {
                return;
            }
            cap = grown(rows, cap);
            int rd = cap * d, rh = cap * hidden;
            dn1 = new float[rd]; dq = new float[rd]; dk = new float[rd]; dv = new float[rd]; dqr = new float[rd];
            dkr = new float[rd]; dO = new float[rd]; dn2 = new float[rd]; dBranch = new float[rd];
            dg1 = new float[rh]; du1 = new float[rh]; ds = new float[rh];
        }
    }

    void forward(Backend be, float[] p, float[] in, int inOff, float[] out, int outOff,
                 int rows, int B, int[] start, int[] count) {
        saved.ensure(be, rows, count, B);
        Saved sv = saved;
        int rd = rows * d, base = offset(rows), baseRow = index * rows, baseHid = index * rows * hidden;
        int baseAtt = index * sv.attOff[B];
        be.copy(sv.x, base, in, inOff, rd);
        be.rmsNormForward(sv.n1, base, sv.rstd1, baseRow, sv.x, base, p, norm1, rows, d, EPS);
        be.matmulForward(sv.q, base, sv.n1, base, p, wq, null, 0, rows, d, d);
        be.matmulForward(sv.k, base, sv.n1, base, p, wk, null, 0, rows, d, d);
        be.matmulForward(sv.v, base, sv.n1, base, p, wv, null, 0, rows, d, d);
        for (int b = 0; b < B; b++) {
            int P = count[b], off = base + start[b] * d, attOff = baseAtt + sv.attOff[b];
            if (P == 0) {
                continue;
            }
            be.ropeForward(sv.qr, off, sv.q, off, P, P, 0, heads, headDim, ROPE_BASE);
            be.ropeForward(sv.kr, off, sv.k, off, P, P, 0, heads, headDim, ROPE_BASE);
            if (dense) {
                be.attentionDenseForward(sv.o, off, sv.att, attOff, sv.qr, off, sv.kr, off, sv.v, off, 1, P, heads, headDim);
            } else {
                be.attentionDilatedForward(sv.o, off, sv.att, attOff, sv.qr, off, sv.kr, off, sv.v, off, 1, P, heads,
                        headDim, window, slots(P));
            }
        }
        be.matmulForward(sv.x2, base, sv.o, base, p, wo, null, 0, rows, d, d);
        drop.apply(be, sv.x2, base, rd, dropSite);
        be.accumulate(sv.x2, base, sv.x, base, rd);
        be.rmsNormForward(sv.n2, base, sv.rstd2, baseRow, sv.x2, base, p, norm2, rows, d, EPS);
        SwiGluMlp.forward(be, p, wGate, wUp, wDown, sv.n2, sv.x2, base, sv.g1, sv.u1, sv.s, baseHid, out, outOff,
                rows, d, hidden, drop, dropSite + 1);
    }

    /**
     * dIn = d(loss)/d(block input) from dOut = d(loss)/d(block output), and the block's parameter
     * gradients added to gr. dIn is overwritten (it need not be cleared): it first takes the
     * residual's dOut, then serves as the gradient at x2 (the MLP's residual sum), then receives
     * the attention branch's share.
     */
    void backward(Backend be, float[] p, float[] gr, float[] dOut, int dOutOff, float[] dIn, int dInOff,
                  int rows, int B, int[] start, int[] count, Scratch sc) {
        sc.ensure(rows);
        Saved sv = saved;
        int rd = rows * d, base = offset(rows), baseRow = index * rows, baseHid = index * rows * hidden;
        int baseAtt = index * sv.attOff[B];
        // out = x2 + mlp(x2): d(x2) is dOut plus the MLP's share, summed in dIn
        be.copy(dIn, dInOff, dOut, dOutOff, rd);
        SwiGluMlp.backward(be, p, gr, wGate, wUp, wDown, dOut, dOutOff, sv.n2, base, sv.g1, sv.u1, sv.s, baseHid,
                sc.dn2, sc.dg1, sc.du1, sc.ds, rows, d, hidden, drop, dropSite + 1, sc.dBranch);
        be.rmsNormBackward(dIn, dInOff, gr, norm2, sc.dn2, 0, sv.x2, base, p, norm2, sv.rstd2, baseRow, rows, d);
        // x2 = x + dropout(W_o o): the residual takes d(x2) whole (it stays in dIn), the branch d(x2) masked
        float[] dBranch = dIn;
        int dBranchOff = dInOff;
        if (drop.on()) {
            be.copy(sc.dBranch, 0, dIn, dInOff, rd);
            drop.apply(be, sc.dBranch, 0, rd, dropSite);
            dBranch = sc.dBranch;
            dBranchOff = 0;
        }
        be.matmulBackwardInputOverwrite(sc.dO, 0, dBranch, dBranchOff, p, wo, rows, d, d);
        be.matmulBackwardWeight(gr, wo, null, 0, dBranch, dBranchOff, sv.o, base, rows, d, d);
        // The sequences tile the rows (start is count's prefix sum, rows = start[B]), so each
        // sequence's calls write its rows' gradients whole: no clearing pass first.
        if (start[B] != rows) {
            throw new IllegalStateException("global block: the sequences cover " + start[B] + " rows of " + rows);
        }
        if (!dense) {
            be.fill(sc.dqr, 0, 0f, rd);
            be.fill(sc.dkr, 0, 0f, rd);
            be.fill(sc.dv, 0, 0f, rd);
        }
        for (int b = 0; b < B; b++) {
            int P = count[b], off = start[b] * d, saveOff = base + off, attOff = baseAtt + sv.attOff[b];
            if (P == 0) {
                continue;
            }
            if (dense) {
                be.attentionDenseBackwardOverwrite(sc.dqr, off, sc.dkr, off, sc.dv, off, sc.dO, off, sv.qr, saveOff, sv.kr,
                        saveOff, sv.v, saveOff, sv.o, saveOff, sv.att, attOff, 1, P, heads, headDim);
            } else {
                be.attentionDilatedBackward(sc.dqr, off, sc.dkr, off, sc.dv, off, sc.dO, off, sv.qr, saveOff, sv.kr,
                        saveOff, sv.v, saveOff, sv.o, saveOff, sv.att, attOff, 1, P, heads, headDim, window, slots(P));
            }
            be.ropeBackwardOverwrite(sc.dq, off, sc.dqr, off, P, P, 0, heads, headDim, ROPE_BASE);
            be.ropeBackwardOverwrite(sc.dk, off, sc.dkr, off, P, P, 0, heads, headDim, ROPE_BASE);
        }
        be.matmulBackwardInputOverwrite(sc.dn1, 0, sc.dq, 0, p, wq, rows, d, d);
        be.matmulBackwardWeight(gr, wq, null, 0, sc.dq, 0, sv.n1, base, rows, d, d);
        be.matmulBackwardInput(sc.dn1, 0, sc.dk, 0, p, wk, rows, d, d);
        be.matmulBackwardWeight(gr, wk, null, 0, sc.dk, 0, sv.n1, base, rows, d, d);
        be.matmulBackwardInput(sc.dn1, 0, sc.dv, 0, p, wv, rows, d, d);
        be.matmulBackwardWeight(gr, wv, null, 0, sc.dv, 0, sv.n1, base, rows, d, d);
        be.rmsNormBackward(dIn, dInOff, gr, norm1, sc.dn1, 0, sv.x, base, p, norm1, sv.rstd1, baseRow, rows, d);
    }

    /** Keys (after RoPE) and values of the closed patches so far, and one-row buffers, for generation. */
    static final class Cache {
        float[] k, v, att;
        final float[] x, n1, r1, q, kk, qr, o, x2, n2, r2, g1, u1, s;
        int rows;

        Cache(int d, int hidden, int heads) {
            k = new float[64 * d]; v = new float[64 * d]; att = new float[heads * 64];
            x = new float[d]; n1 = new float[d]; r1 = new float[1]; q = new float[d]; kk = new float[d]; qr = new float[d];
            o = new float[d]; x2 = new float[d]; n2 = new float[d]; r2 = new float[1];
            g1 = new float[hidden]; u1 = new float[hidden]; s = new float[hidden];
        }
    }

    /**
     * Makes room in {@code c} for {@code rows} rows of keys and values (doubling) and for their
     * attention weights. Called outside a backend step: the keys and values are copied on the host,
     * so they are fetched first and handed back after.
     */
    void ensureCache(Backend be, Cache c, int rows) {
        if (rows * d > c.k.length) {
            be.toHost(c.k, c.v);
            c.k = java.util.Arrays.copyOf(c.k, Math.max(rows * d, c.k.length * 2));
            c.v = java.util.Arrays.copyOf(c.v, Math.max(rows * d, c.v.length * 2));
            be.hostChanged(c.k, c.v);
        }
        int attLen = heads * (dense ? rows : slots(rows));
        if (attLen > c.att.length) {
            c.att = new float[Math.max(attLen, c.att.length * 2)];
        }
    }

    /**
     * Fills {@code c} with this block's keys (after RoPE) and values from the last forward pass,
     * over one sequence of {@code rows} rows: generation picks up where a prompt's forward pass
     * left off. Called outside a backend step, as {@link #ensureCache} is.
     */
    void cacheFromForward(Backend be, Cache c, int rows) {
        ensureCache(be, c, rows);
        be.toHost(saved.kr, saved.v);
        be.toHost(c.k, c.v);
        System.arraycopy(saved.kr, offset(rows), c.k, 0, rows * d);
        System.arraycopy(saved.v, offset(rows), c.v, 0, rows * d);
        be.hostChanged(c.k, c.v);
        c.rows = rows;
    }

    /**
     * The block for one new patch (row {@code cache.rows}, its patch index): the same ops as
     * {@link #forward} on one row, attending to the cached keys and values (O(w + log P) reads
     * with the dilated pattern).
     */
    void step(Backend be, float[] p, float[] in, int inOff, float[] out, int outOff, Cache c) {
        int j = c.rows;
        ensureCache(be, c, j + 1);
        be.copy(c.x, 0, in, inOff, d);
        be.rmsNormForward(c.n1, 0, c.r1, 0, c.x, 0, p, norm1, 1, d, EPS);
        be.matmulForward(c.q, 0, c.n1, 0, p, wq, null, 0, 1, d, d);
        be.matmulForward(c.kk, 0, c.n1, 0, p, wk, null, 0, 1, d, d);
        be.matmulForward(c.v, j * d, c.n1, 0, p, wv, null, 0, 1, d, d);
        be.ropeForward(c.qr, 0, c.q, 0, 1, 1, j, heads, headDim, ROPE_BASE);
        be.ropeForward(c.k, j * d, c.kk, 0, 1, 1, j, heads, headDim, ROPE_BASE);
        be.attentionQuery(dense, c.o, 0, c.att, c.qr, 0, c.k, 0, c.v, 0, j, heads, headDim, window, slots(j + 1));
        be.matmulForward(c.x2, 0, c.o, 0, p, wo, null, 0, 1, d, d);
        be.accumulate(c.x2, 0, c.x, 0, d);
        be.rmsNormForward(c.n2, 0, c.r2, 0, c.x2, 0, p, norm2, 1, d, EPS);
        SwiGluMlp.forward(be, p, wGate, wUp, wDown, c.n2, c.x2, 0, c.g1, c.u1, c.s, 0, out, outOff, 1, d, hidden,
                Dropout.NONE, 0);
        c.rows = j + 1;
    }

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
