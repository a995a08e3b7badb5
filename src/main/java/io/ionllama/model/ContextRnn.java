package io.ionllama.model;

import io.ionllama.backend.Backend;
import io.ionllama.kernels.Losses;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The context-vector propagation model of seed 003 ("New-LLM"), as {@code --model rnn}: no
 * attention, no positional embedding; a fixed-size context vector per layer carries everything the
 * model knows about the past, so generation keeps memory that does not grow with length.
 *
 * <p>The seed's pseudocode, per token:
 * <pre>
 *   hidden = FNN([embedding, context])  # Concatenate and process
 *   forget_gate = sigmoid(W_forget @ hidden)
 *   input_gate = sigmoid(W_input @ hidden)
 *   context_delta = tanh(W_context @ hidden)
 *   context = forget_gate * context + input_gate * context_delta
 *   context = LayerNorm(context)  # Normalize for stability
 *   logits = W_output @ hidden
 * </pre>
 * and "scales from 1-layer to 12-layer models". The equations chosen here, for layer l = 0..L-1
 * at byte t (c_l[-1] = 0 at the start of every sequence):
 * <pre>
 *   x_0[t]  = E[byte t]                                            E [256, dE]
 *   pre[t]  = W_x x_l[t] + W_c c_l[t-1] + b_in                      ([W_x | W_c] = W_1 acting on [x; c])
 *   h_l[t]  = gelu(pre[t])                                          the FNN: one linear layer and GELU
 *   z[t]    = W_g h_l[t] + b_g = [z_f; z_i; z_g]                    one fused matmul, W_g [3dC, dH]
 *   p[t]    = sigmoid(z_f) ⊙ c_l[t-1] + sigmoid(z_i) ⊙ tanh(z_g)    kernels.RnnCell
 *   c_l[t]  = LayerNorm(p[t]) · w_n + b_n                           the seed's LayerNorm, after the update
 *   x_{l+1}[t] = h_l[t]                                             stacking: a layer's hidden feeds the next
 *   logits[t] = W_o h_{L-1}[t] + b_o                                from the top hidden, no final norm
 * </pre>
 * Choices the seed leaves open, and why: the FNN is one linear layer with GELU (the seed says only
 * "FNN"; its repository's code uses Linear + ReLU, repeated num_layers times around a single
 * context; GELU reuses an existing kernel unit and is smooth, which the finite-difference checks
 * need). Layers are stacked recurrent cells, each with its own context vector, the hidden of layer
 * l being the input of layer l+1 (the seed's "1-layer to 12-layer" read as depth of the
 * recurrence; its code's clamp of the context to [-10, 10] after the norm is left out: the
 * LayerNorm already bounds it by sqrt(dC) · |w_n| + |b_n|). The forget-gate bias starts at 1 (the
 * usual LSTM choice: remember by default).
 *
 * <p>Layout and schedule: activations are time-major, row {@code t*B + b} (sequence b, byte t),
 * so one time step is {@code B} contiguous rows and each step is one batched product over the
 * whole batch. Layers run one after another over all T steps (layer l+1 at t reads only h_l[t]), so
 * the input product W_x x + b_in of a layer is one matmul over all B·T rows before its time loop;
 * each step is then: W_c c accumulated into pre (B rows), GELU, the fused gate matmul (B rows, from
 * b_g), the gate unit, LayerNorm. The two per-step products read W_c and W_g transposed once per
 * forward (the input-gradient product's weight layout): a B-row product then packs its weights with
 * unit stride, where the [out, in] layout of matmulForward would be packed with stride in each step. The backward is truncated BPTT over the T bytes of the batch (states start at zero
 * per sequence, so sequences are independent): right to left per step only the products that
 * carry the gradient through time (dh += dz W_g, dc += dpre W_c); the weight gradients of W_g, W_c
 * and W_x are each one matmul over all B·T rows after the time loop (context rows [t*B..] hold
 * c[t-1], contiguous, so dW_c = dpreᵀ · c_prev is one product).
 *
 * <p>Generation ({@link #step}, behind {@link ByteModel.Decoder} as {@link RnnDecoder}) keeps per
 * layer only the context vector c_l: L·dC floats.
 */
public final class ContextRnn extends FlatModel {
    static final float EPS = 1e-5f;
    public static final String KIND = "rnn";

    public static final String[] STAGES = {"embedding + layers", "head + loss", "backward head", "backward layers"};

    public final RnnConfig config;

    private final int embed, head, headB;
    private final int[] inX, inC, inB, gates, gatesB, normW, normB;

    /** Result of a forward pass: mean loss over valid targets (nats), their number, argmax hits. */
    public record Output(float loss, long bytes, int correct) implements Result {
        @Override
        public float entropyLoss() {
            return 0;
        }

        @Override
        public long patches() {
            return 0;
        }

        public double bpb() {
            return loss / Math.log(2);
        }
    }

    // ---- per-batch buffers (grow-only) ----
    private int B, T, N, cap;
    private int[] x, targets, argmax;
    private float[] emb, logits, logitsBatchMajor, probs, losses, stats;
    private float[][] pre, h, z, p, mean, rstd, ctx;
    /** W_cᵀ [dC, dH] and W_gᵀ [dH, 3dC] of the current forward, and b_g repeated over B rows. */
    private float[] wcT, wgT, gateBias;
    private float[] dLogits, dA, dB, dPre, dZ, dP, dcA, dcB, dEmb;

    public ContextRnn(RnnConfig config, Backend backend) {
        super(config.validate().layout(), backend, STAGES);
        this.config = config;
        int L = config.layers();
        inX = new int[L];
        inC = new int[L];
        inB = new int[L];
        gates = new int[L];
        gatesB = new int[L];
        normW = new int[L];
        normB = new int[L];
        for (int l = 0; l < L; l++) {
            String n = "layer." + l + ".";
            inX[l] = layout.get(n + "in_x").off();
            inC[l] = layout.get(n + "in_c").off();
            inB[l] = layout.get(n + "in_b").off();
            gates[l] = layout.get(n + "gates").off();
            gatesB[l] = layout.get(n + "gates_b").off();
            normW[l] = layout.get(n + "norm_w").off();
            normB[l] = layout.get(n + "norm_b").off();
        }
        embed = layout.get("embed").off();
        head = layout.get("head").off();
        headB = layout.get("head_b").off();
    }

    /** The recurrent model has no residual branches: dropout is refused (the CLI says so first). */
    @Override
    public void setDropout(float p, int seed) {
        if (p != 0) {
            throw new UnsupportedOperationException("--model rnn has no residual branches to drop (--dropout is for ionllama and dense)");
        }
    }

    @Override
    public String kind() {
        return KIND;
    }

    @Override
    public String describe() {
        return config.describe();
    }

    @Override
    public Map<String, String> configMap() {
        return config.toMap();
    }

    /** A decoder holding only the context vectors: {@code window} does not bound it (nothing grows with length). */
    @Override
    public Decoder decoder(int window) {
        return new RnnDecoder(this);
    }

    /** Deterministic initialisation from {@code seed}. */
    @Override
    public void init(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int dE = config.dEmbed(), dH = config.dHidden(), dC = config.dContext();
        Init.normal(params, embed, 256 * dE, 1f, rnd);
        for (int l = 0; l < config.layers(); l++) {
            int dIn = config.dIn(l);
            // The input product reads [x; c]: scaled by its full width, so pre starts O(1).
            float s = (float) (1 / Math.sqrt(dIn + dC));
            Init.normal(params, inX[l], dH * dIn, s, rnd);
            Init.normal(params, inC[l], dH * dC, s, rnd);
            Init.fill(params, inB[l], dH, 0f);
            Init.normal(params, gates[l], 3 * dC * dH, (float) (1 / Math.sqrt(dH)), rnd);
            Init.fill(params, gatesB[l], dC, 1f);          // forget gate: remember by default
            Init.fill(params, gatesB[l] + dC, 2 * dC, 0f);
            Init.fill(params, normW[l], dC, 1f);
            Init.fill(params, normB[l], dC, 0f);
        }
        Init.normal(params, head, 256 * dH, (float) (1 / Math.sqrt(dH)), rnd);
        Init.fill(params, headB, 256, 0f);
        be.hostChanged(params);
    }

    private void ensure(int B, int T) {
        this.B = B;
        this.T = T;
        this.N = B * T;
        int dC3 = 3 * config.dContext();
        if (gateBias == null || gateBias.length < B * dC3) {
            gateBias = new float[B * dC3];
        }
        if (N <= cap) {
            return;
        }
        cap = N;
        int L = config.layers(), dE = config.dEmbed(), dH = config.dHidden(), dC = config.dContext();
        int dMax = Math.max(dE, dH);
        x = new int[N];
        targets = new int[N];
        argmax = new int[N];
        emb = new float[N * dE];
        logits = new float[N * 256];
        logitsBatchMajor = new float[N * 256];
        probs = new float[N * 256];
        losses = new float[N];
        stats = new float[Losses.STATS];
        wcT = new float[config.dContext() * dH];
        wgT = new float[dH * dC3];
        pre = new float[L][N * dH];
        h = new float[L][N * dH];
        z = new float[L][N * 3 * dC];
        p = new float[L][N * dC];
        mean = new float[L][N];
        rstd = new float[L][N];
        ctx = new float[L][(N + N) * dC]; // rows [0, B) the zero state, then c[t] at rows (t+1)B..; sized for any B <= N
        dLogits = new float[N * 256];
        dA = new float[N * dMax];
        dB = new float[N * dMax];
        dPre = new float[N * dH];
        dZ = new float[N * 3 * dC];
        dP = new float[N * dC];
        dcA = new float[N * dC];
        dcB = new float[N * dC];
        dEmb = new float[N * dE];
    }

    /**
     * Forward pass over {@code B} sequences of {@code T} bytes: {@code bytes[b*T + t]} predicts
     * {@code targets[b*T + t]} (usually the next byte; negative targets are ignored). Each sequence
     * starts from zero context vectors.
     */
    @Override
    public Output forward(int[] bytes, int[] tgt, int B, int T) {
        ensure(B, T);
        startTimer();
        // To time-major: row t*B + b.
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                x[t * B + b] = bytes[b * T + t];
                targets[t * B + b] = tgt[b * T + t];
            }
        }
        be.hostChanged(x, targets);
        int dE = config.dEmbed(), dH = config.dHidden();
        be.byteEmbeddingForward(emb, 0, params, embed, x, 0, N, dE);
        float[] in = emb;
        for (int l = 0; l < config.layers(); l++) {
            layerForward(l, in);
            in = h[l];
        }
        lap(0);
        be.matmulForward(logits, 0, in, 0, params, head, params, headB, N, dH, 256);
        be.crossEntropyForward(losses, 0, probs, 0, logits, 0, targets, 0, N, 256);
        be.argmax(argmax, 0, logits, 0, N, 256);
        be.lossStats(stats, 0, losses, 0, argmax, 0, targets, 0, N);
        be.toHost(stats);
        lap(1);
        return new Output(stats[Losses.STAT_MEAN_LOSS], (long) (int) stats[Losses.STAT_VALID], (int) stats[Losses.STAT_CORRECT]);
    }

    private void layerForward(int l, float[] in) {
        int dIn = config.dIn(l), dH = config.dHidden(), dC = config.dContext();
        float[] pre = this.pre[l], h = this.h[l], z = this.z[l], p = this.p[l], c = ctx[l];
        be.matmulForward(pre, 0, in, 0, params, inX[l], params, inB[l], N, dIn, dH);
        be.fill(c, 0, 0f, B * dC);
        // The per-step products read W_c and W_g transposed ([in, out]), as the input-gradient
        // product reads a weight: a B-row product then packs its weights with unit stride, where
        // matmulForward's [out, in] weights are packed with stride in (at B = 8 that packing cost
        // several times the product). W_cᵀ c accumulates straight into pre; z starts from b_g.
        be.transpose(wcT, 0, params, inC[l], dH, dC);
        be.transpose(wgT, 0, params, gates[l], 3 * dC, dH);
        for (int b = 0; b < B; b++) {
            be.copy(gateBias, b * 3 * dC, params, gatesB[l], 3 * dC);
        }
        for (int t = 0; t < T; t++) {
            int r = t * B;
            if (t > 0) { // c[-1] = 0 contributes nothing
                be.matmulBackwardInput(pre, r * dH, c, r * dC, wcT, 0, B, dH, dC);
            }
            be.geluForward(h, r * dH, pre, r * dH, B * dH);
            be.copy(z, r * 3 * dC, gateBias, 0, B * 3 * dC);
            be.matmulBackwardInput(z, r * 3 * dC, h, r * dH, wgT, 0, B, 3 * dC, dH);
            be.rnnGatesForward(p, r * dC, z, r * 3 * dC, c, r * dC, B, dC);
            be.layerNormForward(c, (r + B) * dC, mean[l], r, rstd[l], r, p, r * dC, params, normW[l],
                    params, normB[l], B, dC, EPS);
        }
    }

    /**
     * Accumulates d(loss)/d(params) into {@link #grads} for the last forward pass (the mean over
     * valid targets, scaled by {@code scale}): truncated BPTT over its T bytes.
     */
    @Override
    public void backward(float scale) {
        int dE = config.dEmbed(), dH = config.dHidden();
        startTimer();
        // Scaled for gradient accumulation and restored after: with scale 1 nothing changes,
        // and a device backend need not upload the statistics twice a step.
        if (scale != 1f) {
            stats[Losses.STAT_INV_VALID] *= scale;
            be.hostChanged(stats);
        }
        be.fill(dLogits, 0, 0f, N * 256);
        be.crossEntropyBackward(dLogits, 0, probs, 0, targets, 0, stats, Losses.STAT_INV_VALID, 0, N, 256);
        int top = config.layers() - 1;
        be.matmulBackwardWeight(grads, head, grads, headB, dLogits, 0, h[top], 0, N, dH, 256);
        be.fill(dA, 0, 0f, N * dH);
        be.matmulBackwardInput(dA, 0, dLogits, 0, params, head, N, dH, 256);
        lap(2);
        float[] dh = dA, dx = dB;
        for (int l = top; l >= 0; l--) {
            float[] dIn = l == 0 ? dEmb : dx;
            layerBackward(l, l == 0 ? emb : h[l - 1], dh, dIn);
            float[] t = dh;
            dh = dx;
            dx = t;
        }
        be.byteEmbeddingBackward(grads, embed, dEmb, 0, x, 0, N, dE);
        if (scale != 1f) {
            stats[Losses.STAT_INV_VALID] /= scale;
            be.hostChanged(stats);
        }
        lap(3);
    }

    @Override
    public double objective() {
        return meanLoss(losses, stats, N);
    }

    /** Logits of the last forward pass, batch-major [B·T, 256] as {@link ByteModel} orders them (a live view). */
    @Override
    public float[] logits() {
        be.toHost(logits);
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                System.arraycopy(logits, (t * B + b) * 256, logitsBatchMajor, (b * T + t) * 256, 256);
            }
        }
        return logitsBatchMajor;
    }

    /** Layer l's backward: dh [N, dH] (complete) in; dxIn [N, dIn] is overwritten with d(loss)/d(input). */
    private void layerBackward(int l, float[] in, float[] dh, float[] dxIn) {
        int dIn = config.dIn(l), dH = config.dHidden(), dC = config.dContext();
        float[] z = this.z[l], p = this.p[l], c = ctx[l];
        be.fill(dZ, 0, 0f, N * 3 * dC);
        be.fill(dPre, 0, 0f, N * dH);
        be.fill(dcA, 0, 0f, B * dC);
        float[] dcNext = dcA, dcPrev = dcB;   // dcNext: d/dc[t] (complete when step t runs)
        for (int t = T - 1; t >= 0; t--) {
            int r = t * B;
            be.fill(dP, 0, 0f, B * dC);
            be.layerNormBackward(dP, 0, grads, normW[l], grads, normB[l], dcNext, 0, p, r * dC, params, normW[l],
                    mean[l], r, rstd[l], r, B, dC);
            if (t > 0) {
                be.fill(dcPrev, 0, 0f, B * dC);
            }
            be.rnnGatesBackward(dZ, r * 3 * dC, t > 0 ? dcPrev : null, 0, dP, 0, z, r * 3 * dC, c, r * dC, B, dC);
            be.matmulBackwardInput(dh, r * dH, dZ, r * 3 * dC, params, gates[l], B, dH, 3 * dC);
            be.geluBackward(dPre, r * dH, dh, r * dH, pre[l], r * dH, B * dH);
            if (t > 0) {
                be.matmulBackwardInput(dcPrev, 0, dPre, r * dH, params, inC[l], B, dC, dH);
                float[] s = dcNext;
                dcNext = dcPrev;
                dcPrev = s;
            }
        }
        // Weight gradients, each one product over all N rows (rows of c from index 0 are c[t-1]).
        be.matmulBackwardWeight(grads, gates[l], grads, gatesB[l], dZ, 0, h[l], 0, N, dH, 3 * dC);
        be.matmulBackwardWeight(grads, inC[l], null, 0, dPre, 0, c, 0, N, dC, dH);
        be.matmulBackwardWeight(grads, inX[l], grads, inB[l], dPre, 0, in, 0, N, dIn, dH);
        be.fill(dxIn, 0, 0f, N * dIn);
        be.matmulBackwardInput(dxIn, 0, dPre, 0, params, inX[l], N, dIn, dH);
    }

    /** Logits of the last forward pass for (sequence b, byte t), copied into dst[dstOff .. +256). */
    public void logitsAt(int b, int t, float[] dst, int dstOff) {
        be.toHost(logits);
        System.arraycopy(logits, (t * B + b) * 256, dst, dstOff, 256);
    }

    /** All logits of the last forward pass in batch-major order [B·T, 256] (a new array; for tests and tools). */
    public float[] logitsBatchMajor() {
        float[] out = new float[N * 256];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                logitsAt(b, t, out, (b * T + t) * 256);
            }
        }
        return out;
    }

    // ---------------------------------------------------------------- generation

    /**
     * What generation keeps between bytes: the context vector of every layer (L·dC floats) and
     * fixed per-byte scratch. Nothing grows with the number of bytes generated.
     */
    public final class State {
        /** The context vectors, layer l at [l·dC, (l+1)·dC). */
        public final float[] context;
        final int[] input = new int[1];
        final float[] e, preS, hA, hB, tmpS, zS, pS, meanS = new float[1], rstdS = new float[1];
        public final float[] logits = new float[256];
        // The varargs of toHost / hostChanged, built once: a step allocates nothing.
        final int[][] inputs = {input};
        final float[][] outputs = {logits};

        State() {
            int dE = config.dEmbed(), dH = config.dHidden(), dC = config.dContext();
            context = new float[config.layers() * dC];
            e = new float[dE];
            preS = new float[dH];
            hA = new float[dH];
            hB = new float[dH];
            tmpS = new float[dH];
            zS = new float[3 * dC];
            pS = new float[dC];
        }

        /** Back to the start of a sequence: every context vector zero. */
        public void reset() {
            be.fill(context, 0, 0f, context.length);
        }
    }

    /** A new generation state at the start of a sequence. */
    public State newState() {
        State s = new State();
        s.reset();
        return s;
    }

    /**
     * Feeds one byte: updates the context vectors in place and writes the logits for the next byte
     * to {@code s.logits} (returned). Allocates nothing.
     */
    public float[] step(State s, int b) {
        int dE = config.dEmbed(), dH = config.dHidden(), dC = config.dContext();
        s.input[0] = b;
        be.hostChanged(s.inputs);
        be.byteEmbeddingForward(s.e, 0, params, embed, s.input, 0, 1, dE);
        float[] in = s.e, out = s.hA;
        for (int l = 0; l < config.layers(); l++) {
            int cOff = l * dC;
            be.matmulForward(s.preS, 0, in, 0, params, inX[l], params, inB[l], 1, config.dIn(l), dH);
            be.matmulForward(s.tmpS, 0, s.context, cOff, params, inC[l], null, 0, 1, dC, dH);
            be.accumulate(s.preS, 0, s.tmpS, 0, dH);
            be.geluForward(out, 0, s.preS, 0, dH);
            be.matmulForward(s.zS, 0, out, 0, params, gates[l], params, gatesB[l], 1, dH, 3 * dC);
            be.rnnGatesForward(s.pS, 0, s.zS, 0, s.context, cOff, 1, dC);
            be.layerNormForward(s.context, cOff, s.meanS, 0, s.rstdS, 0, s.pS, 0, params, normW[l],
                    params, normB[l], 1, dC, EPS);
            in = out;
            out = out == s.hA ? s.hB : s.hA;
        }
        be.matmulForward(s.logits, 0, in, 0, params, head, params, headB, 1, dH, 256);
        be.toHost(s.outputs);
        return s.logits;
    }
}
