package io.ionllama.model;

import io.ionllama.backend.Backend;
import io.ionllama.kernels.Losses;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The dense byte-level GPT of seed 002, the baseline ionLlama is measured against: a pre-norm
 * transformer that attends densely and causally over every byte.
 *
 * <pre>
 *   bytes x [B·T] ─► E[x] ─► block × L ─► RMSNorm ─► head ─► logits [B·T, 256]
 *   block:  x ─► RMSNorm ─► q,k,v ─► RoPE(q,k) on the byte index ─► causal dense attention ─► W_o ─(+x)─►
 *           ─► RMSNorm ─► SwiGLU ─(+)─►
 * </pre>
 *
 * The blocks are ionLlama's {@link GlobalBlock} in its dense-attention form, with one "patch" per
 * byte: sequence b owns rows b·T .. b·T+T-1, so RoPE positions are byte indices 0..T-1 and the
 * block's forward, backward and one-row {@code step} (the key/value-cached decoder,
 * {@link DenseDecoder}) are reused as they are; no op is new. The head is untied from the
 * embedding. Positions run to {@code context - 1} and no further: a longer sequence is refused
 * here, and generation slides its window before that ({@link io.ionllama.generate.Generator}).
 */
public final class DenseGpt extends FlatModel {
    static final float EPS = 1e-5f;
    public static final String KIND = "dense";

    public final DenseConfig config;
    private final GlobalBlock[] blocks;
    private final GlobalBlock.Scratch scratch;
    private final int embed, norm, head;

    /** Result of a forward pass: mean loss over the valid targets, their count, and argmax hits. */
    public record Output(float loss, long bytes, int correct) implements Result {
        @Override
        public float entropyLoss() {
            return 0;
        }

        @Override
        public long patches() {
            return 0;
        }
    }

    public static final String[] STAGES = {"embedding + blocks", "norm + head + loss", "backward head", "backward blocks"};

    // ---- per-step state (grow-only buffers) ----
    private int B, T, N, capN;
    private int[] x, targets, argmax, seqStart, seqCount;
    private float[] bufA, bufB, top, normed, rstd, logits, probs, losses, stats, dLogits, dNormed, dA, dB;

    public DenseGpt(DenseConfig config, Backend backend) {
        super(Architecture.dense(config.validate()), backend, STAGES);
        this.config = config;
        ModelConfig bc = config.blockConfig();
        GlobalBlock.Saved saved = new GlobalBlock.Saved(bc, true, config.layers());
        blocks = new GlobalBlock[config.layers()];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = new GlobalBlock(layout, "block." + i, bc, true, saved, i, dropout, 2 * i);
        }
        scratch = new GlobalBlock.Scratch(config.dModel(), config.mlp());
        embed = layout.get("embed.byte").off();
        norm = layout.get("norm").off();
        head = layout.get("head").off();
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

    @Override
    public int maxContext() {
        return config.context();
    }

    @Override
    public Decoder decoder(int window) {
        return new DenseDecoder(this, window);
    }

    /** Deterministic initialisation from {@code seed}, as ionLlama's: unit embeddings, 1/sqrt(d) head, depth-scaled residual outputs. */
    @Override
    public void init(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int d = config.dModel();
        Init.normal(params, embed, 256 * d, 1f, rnd);
        for (GlobalBlock blk : blocks) {
            blk.init(params, rnd, blocks.length);
        }
        Init.fill(params, norm, d, 1f);
        Init.normal(params, head, 256 * d, (float) (1 / Math.sqrt(d)), rnd);
    }

    private void ensure(int B, int T) {
        this.B = B;
        this.T = T;
        this.N = B * T;
        if (seqStart == null || seqStart.length < B + 1) {
            seqStart = new int[B + 1];
            seqCount = new int[B + 1];
        }
        // Every sequence is T rows long: the blocks' packed-rows view of a [B, T] batch.
        for (int b = 0; b < B; b++) {
            seqStart[b] = b * T;
            seqCount[b] = T;
        }
        seqStart[B] = N;
        be.hostChanged(seqStart, seqCount);
        if (N <= capN) {
            return;
        }
        capN = N;
        int d = config.dModel();
        x = new int[N]; targets = new int[N]; argmax = new int[N];
        bufA = new float[N * d]; bufB = new float[N * d]; normed = new float[N * d]; rstd = new float[N];
        logits = new float[N * 256]; probs = new float[N * 256]; losses = new float[N]; stats = new float[Losses.STATS];
        dLogits = new float[N * 256]; dNormed = new float[N * d]; dA = new float[N * d]; dB = new float[N * d];
    }

    @Override
    public Output forward(int[] bytes, int[] tgt, int B, int T) {
        if (T > config.context()) {
            throw new IllegalArgumentException("sequence of " + T + " bytes is longer than the dense model's context ("
                    + config.context() + ")");
        }
        ensure(B, T);
        System.arraycopy(bytes, 0, x, 0, N);
        System.arraycopy(tgt, 0, targets, 0, N);
        be.hostChanged(x, targets);
        int d = config.dModel();
        startTimer();
        be.byteEmbeddingForward(bufA, 0, params, embed, x, 0, N, d);
        float[] cur = bufA, next = bufB;
        for (GlobalBlock blk : blocks) {
            blk.forward(be, params, cur, 0, next, 0, N, B, seqStart, seqCount);
            float[] t = cur;
            cur = next;
            next = t;
        }
        top = cur;
        lap(0);
        be.rmsNormForward(normed, 0, rstd, 0, top, 0, params, norm, N, d, EPS);
        be.matmulForward(logits, 0, normed, 0, params, head, null, 0, N, d, 256);
        be.crossEntropyForward(losses, 0, probs, 0, logits, 0, targets, 0, N, 256);
        be.argmax(argmax, 0, logits, 0, N, 256);
        be.lossStats(stats, 0, losses, 0, argmax, 0, targets, 0, N);
        be.toHost(stats);
        lap(1);
        return new Output(stats[Losses.STAT_MEAN_LOSS], (long) (int) stats[Losses.STAT_VALID], (int) stats[Losses.STAT_CORRECT]);
    }

    @Override
    public void backward(float scale) {
        int d = config.dModel();
        startTimer();
        // Scaled for gradient accumulation and restored after: with scale 1 nothing changes,
        // and a device backend need not upload the statistics twice a step.
        if (scale != 1f) {
            stats[Losses.STAT_INV_VALID] *= scale;
            be.hostChanged(stats);
        }
        be.fill(dLogits, 0, 0f, N * 256);
        be.crossEntropyBackward(dLogits, 0, probs, 0, targets, 0, stats, Losses.STAT_INV_VALID, 0, N, 256);
        be.matmulBackwardInputOverwrite(dNormed, 0, dLogits, 0, params, head, N, d, 256);
        be.matmulBackwardWeight(grads, head, null, 0, dLogits, 0, normed, 0, N, d, 256);
        be.fill(dA, 0, 0f, N * d);
        be.rmsNormBackward(dA, 0, grads, norm, dNormed, 0, top, 0, params, norm, rstd, 0, N, d);
        lap(2);
        float[] dcur = dA, dnext = dB;
        for (int i = blocks.length - 1; i >= 0; i--) {
            blocks[i].backward(be, params, grads, dcur, 0, dnext, 0, N, B, seqStart, seqCount, scratch);
            float[] t = dcur;
            dcur = dnext;
            dnext = t;
        }
        be.byteEmbeddingBackward(grads, embed, dcur, 0, x, 0, N, d);
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

    @Override
    public float[] logits() {
        be.toHost(logits);
        return logits;
    }

    // ---- generation: the forward pass one byte at a time ({@link DenseDecoder} holds the state) ----

    /** What the per-byte path carries from byte to byte (each block's keys and values) and its one-row buffers. */
    final class StepState {
        final GlobalBlock.Cache[] caches = new GlobalBlock.Cache[blocks.length];
        /** The logits for the next byte. */
        final float[] logits = new float[256];
        private final float[] rowA, rowB, normed, r1 = new float[1];
        private final int[] one = new int[1];

        /** Keys and values with room for {@code bytes} bytes before they grow. */
        private StepState(int bytes) {
            int d = config.dModel();
            for (int i = 0; i < caches.length; i++) {
                caches[i] = new GlobalBlock.Cache(d, config.mlp(), config.heads());
                blocks[i].ensureCache(be, caches[i], bytes);
            }
            rowA = new float[d]; rowB = new float[d]; normed = new float[d];
        }
    }

    StepState newStepState(int bytes) {
        return new StepState(bytes);
    }

    /** Room in every block's cache for one more byte: outside a backend step, since growing copies on the host. */
    void makeRoomForByte(StepState s) {
        for (int i = 0; i < s.caches.length; i++) {
            blocks[i].ensureCache(be, s.caches[i], s.caches[i].rows + 1);
        }
    }

    /**
     * Byte {@code b} at the next position (the caches' rows): the ops of {@link #forward} on one
     * row, each block attending to its cached keys and values; the logits land in {@code s.logits}.
     */
    void step(StepState s, int b) {
        int d = config.dModel();
        s.one[0] = b;
        be.hostChanged(s.one);
        be.byteEmbeddingForward(s.rowA, 0, params, embed, s.one, 0, 1, d);
        float[] cur = s.rowA, next = s.rowB;
        for (int i = 0; i < blocks.length; i++) {
            blocks[i].step(be, params, cur, 0, next, 0, s.caches[i]);
            float[] t = cur;
            cur = next;
            next = t;
        }
        be.rmsNormForward(s.normed, 0, s.r1, 0, cur, 0, params, norm, 1, d, EPS);
        be.matmulForward(s.logits, 0, s.normed, 0, params, head, null, 0, 1, d, 256);
    }

    /** Takes every block's keys and values, and the logits for the next byte, from the last forward pass (one sequence of {@code n} bytes). */
    void fromForward(StepState s, int n) {
        for (int i = 0; i < blocks.length; i++) {
            blocks[i].cacheFromForward(be, s.caches[i], n);
        }
        System.arraycopy(logits(), (n - 1) * 256, s.logits, 0, 256);
        be.hostChanged(s.logits);
    }
}
