package io.ionllama.model;

import io.ionllama.backend.Backend;
import io.ionllama.kernels.Losses;
import io.ionllama.kernels.Patching;
import java.util.SplittableRandom;

/**
 * The ionLlama v12 model: forward pass with loss, hand-written backward, parameters and gradients
 * in one array each ({@link ParamLayout}).
 *
 * <pre>
 *  bytes x [B·T] ──┬──► entropy model ─► logits_e ─► CE (own loss) ; hNext = H(logits_e) ─► Patcher ─► ends, π
 *                  │
 *                  └──► E[x] + Σ_n ngram_n(x) ─► encoder (IntegralLNN × nEnc) ─► yEnc [B·T, dL]
 *                                                     │ gather rows at patch ends
 *                                                     ▼
 *                             W_p ─► global blocks (sparse dilated attention) ─► RMSNorm ─► G [R, dM]
 *                                                     │  Gin = [start ; G],  Gup = Gin · W_upᵀ
 *                                                     ▼
 *                  z = yEnc + Gup[π(t)]  ─► decoder (IntegralLNN × nDec) ─► RMSNorm ─► head ─► logits [B·T, 256]
 * </pre>
 *
 * π(t) is 0 (the learned start vector) until the first patch of t's sequence has closed, then 1 +
 * the row of the last patch that closed at or before t. Every quantity at position t depends
 * only on bytes ≤ t, boundaries included, so the model is strictly causal. The entropy model
 * receives no gradient from the main loss: its parameters are trained by its own cross-entropy.
 *
 * <p>Rows of the global transformer are the closed patches of all sequences, packed without
 * padding (sequence b owns rows start[b] .. start[b]+count[b]); an unfinished last patch is not a
 * row, since no byte of the sequence can read it yet.
 *
 * <p>With {@code --patcher tokun:PATH} ({@link #patchEncoder}) patch r's vector is a frozen tokun's
 * latent of its chunk, projected by the trainable {@code tokun.proj} ({@link TokunPatches}).
 *
 * <p>Generation runs the same ops in the same order a byte at a time: {@link IonLlamaStep}, the
 * one other class that reads the parameter offsets, for a {@link StreamingDecoder}.
 */
public final class IonLlama extends FlatModel {
    public static final String KIND = "ionllama";
    static final float EPS = 1e-5f;

    public final ModelConfig config;
    public final Patcher patcher;
    public final boolean denseAttention;
    /**
     * The frozen tokun whose latents are the patch vectors ({@code --patcher tokun:PATH}), or null
     * (patch vectors pooled from the encoder). Why it replaces the pooled vector rather than being
     * added to it: added, the global transformer could ignore it and read the encoder as fixed:C
     * does, and the run would not measure tokun as a patch encoder.
     */
    public final Tokun patchEncoder;
    /** Width of a patch's vector before the projection to dModel: dLocal, or the tokun's dim. */
    final int dPatch;
    /** The tokun patcher's encoder path; null without one. */
    private final TokunPatches tokunPatches;

    final IntegralLayer[] entropyLayers, encoder, decoder;
    final GlobalBlock[] global;
    private final IntegralLayer.Scratch entropyScratch, localScratch;
    private final GlobalBlock.Scratch globalScratch;
    private final int[] ngramOrders;
    /** Parameter offsets, read here and by {@link IonLlamaStep} (the same wiring a byte at a time), nowhere else. */
    final int eEmbed, eNorm, eHead, embByte, embNgram, patchProj, gNorm, decStart, decUp, decNorm, head;

    /** Result of a forward pass. */
    public record Output(float loss, float entropyLoss, long patches, long bytes, int correct) implements Result {
        public double bpb() {
            return loss / Math.log(2);
        }

        public double bytesPerPatch() {
            return patches == 0 ? 0 : (double) bytes / patches;
        }

        public double accuracy() {
            return bytes == 0 ? 0 : (double) correct / bytes;
        }
    }

    /** Stages of a step, for the per-stage time breakdown ({@link #stageNanos}). */
    public static final String[] STAGES = {"entropy", "encoder", "global", "decoder+head", "backward decoder+head",
        "backward global", "backward encoder", "backward entropy"};

    // ---- per-step state (grow-only buffers) ----
    private int B, T, N, R, capN, capR;
    private int[] x, targets, ngramIdx, ends, endRows, pi, seqStart, seqCount, argmax;
    private float[] eIn, eOut, eNormed, eRstd, eLogits, eProbs, eLosses, hNext, stats, eStats;
    private float[] emb, encOut, bufA, bufB, pv, gin, gout, gNormed, gRstd, gup, z, decOut, decNormed, decRstd,
            logits, probs, losses;
    private float[] dLocalA, dLocalB, dEncOut, dPv, dGin, dGup, dGlobalA, dGlobalB, dLogits, dDecNormed, dEmb;
    private int[] forcedEnds;
    private int warmupFixed;

    public IonLlama(ModelConfig config, Backend backend, Patcher patcher, boolean denseAttention) {
        this(config, backend, patcher, denseAttention, null);
    }

    /**
     * A model whose patch vectors come from {@code patchEncoder}, a trained tokun on the same
     * backend, frozen (null: pooled from the encoder). The patcher must be its {@code tokun:}
     * patcher, with the tokun's chunk as the patch length.
     */
    public IonLlama(ModelConfig config, Backend backend, Patcher patcher, boolean denseAttention, Tokun patchEncoder) {
        super(Architecture.layout(config.validate(), patchEncoder == null ? 0 : patchEncoder.config.dim()), backend, STAGES);
        if ((patcher.mode == Patcher.Mode.TOKUN) != (patchEncoder != null)
                || patchEncoder != null && (patchEncoder.chunk() != patcher.fixedLength || patchEncoder.backend() != backend)) {
            throw new IllegalArgumentException("a tokun patcher needs its tokun (same chunk, same backend), and only it has one");
        }
        this.config = config;
        this.patcher = patcher;
        this.denseAttention = denseAttention;
        this.patchEncoder = patchEncoder;
        this.tokunPatches = patchEncoder == null ? null : new TokunPatches(patchEncoder);
        this.dPatch = patchEncoder == null ? config.dLocal() : patchEncoder.config.dim();
        this.ngramOrders = config.ngrams().clone();
        int dE = config.dEntropy(), dL = config.dLocal();
        // One set of activation arrays per stack, each layer at its own offset (IntegralLayer.Saved).
        // Dropout sites: encoder 1000 + 2i, decoder 2000 + 2i, global 3000 + 2i; never in the entropy
        // model, whose outputs place the patch boundaries.
        entropyLayers = integralStack("entropy.", config.nEntropy(), dE, 2 * dE, Dropout.NONE, 0);
        encoder = integralStack("enc.", config.nEnc(), dL, config.localMlp(), dropout, 1000);
        decoder = integralStack("dec.", config.nDec(), dL, config.localMlp(), dropout, 2000);
        GlobalBlock.Saved globalSaved = new GlobalBlock.Saved(config, denseAttention, config.layers());
        global = new GlobalBlock[config.layers()];
        for (int i = 0; i < global.length; i++) {
            global[i] = new GlobalBlock(layout, "global." + i, config, denseAttention, globalSaved, i, dropout, 3000 + 2 * i);
        }
        entropyScratch = new IntegralLayer.Scratch(dE, 2 * dE, config.nEntropy());
        localScratch = new IntegralLayer.Scratch(dL, config.localMlp(), Math.max(config.nEnc(), config.nDec()));
        globalScratch = new GlobalBlock.Scratch(config.dModel(), config.globalMlp());
        eEmbed = layout.get("entropy.embed").off();
        eNorm = layout.get("entropy.norm").off();
        eHead = layout.get("entropy.head").off();
        embByte = layout.get("embed.byte").off();
        embNgram = ngramOrders.length > 0 ? layout.get("embed.ngram").off() : -1;
        patchProj = layout.get(patchEncoder == null ? "enc.proj" : Architecture.TOKUN_PROJ).off();
        gNorm = layout.get("global.norm").off();
        decStart = layout.get("dec.start").off();
        decUp = layout.get("dec.up").off();
        decNorm = layout.get("dec.norm").off();
        head = layout.get("head").off();
    }

    /**
     * A stack of {@code depth} IntegralLNN layers named {@code prefix + i}, sharing one
     * {@link IntegralLayer.Saved}; layer i drops at sites {@code dropSite + 2i} and {@code + 2i + 1}.
     */
    private IntegralLayer[] integralStack(String prefix, int depth, int d, int hidden, Dropout drop, int dropSite) {
        IntegralLayer.Saved saved = new IntegralLayer.Saved(d, hidden, depth);
        IntegralLayer[] layers = new IntegralLayer[depth];
        for (int i = 0; i < depth; i++) {
            layers[i] = new IntegralLayer(layout, prefix + i, saved, i, drop, dropSite + 2 * i);
        }
        return layers;
    }

    // ---- ByteModel: what training, checkpoints and generation ask of any model ----

    @Override
    public String kind() {
        return KIND;
    }

    @Override
    public String describe() {
        return config.size();
    }

    @Override
    public java.util.Map<String, String> configMap() {
        return config.toMap();
    }

    @Override
    public Patcher patcher() {
        return patcher;
    }

    /** The patcher and the threshold it has calibrated, as checkpoints record them. */
    @Override
    public java.util.Map<String, String> stateMeta() {
        java.util.Map<String, String> m = new java.util.LinkedHashMap<>();
        m.put("patcher", patcher.spec());
        m.put("attention", denseAttention ? "dense" : "dilated");
        m.put("patch.theta", Float.toString(patcher.theta));
        m.put("patch.level", Double.toString(patcher.level));
        m.put("patch.calibrated", Boolean.toString(patcher.calibrated()));
        if (patchEncoder != null) {
            for (java.util.Map.Entry<String, String> e : patchEncoder.configMap().entrySet()) {
                m.put(TOKUN_PREFIX + e.getKey(), e.getValue());
            }
        }
        return m;
    }

    /** Where checkpoints keep a tokun patcher's configuration (metadata) and frozen weights (tensors). */
    public static final String TOKUN_PREFIX = "patcher.tokun.";

    /** The frozen tokun of a {@code tokun:} patcher, under {@link #TOKUN_PREFIX}: checkpoints carry it so the file stands alone. */
    @Override
    public java.util.Map<String, ByteModel> frozenParts() {
        return patchEncoder == null ? java.util.Map.of() : java.util.Map.of(TOKUN_PREFIX, patchEncoder);
    }

    @Override
    public void restoreState(java.util.Map<String, String> meta) {
        patcher.restore(Float.parseFloat(meta.get("patch.theta")), Double.parseDouble(meta.get("patch.level")),
                Boolean.parseBoolean(meta.getOrDefault("patch.calibrated", "true")));
    }

    /** A {@link StreamingDecoder} with room for {@code window} patches before its caches grow. */
    @Override
    public Decoder decoder(int window) {
        return new StreamingDecoder(this, window);
    }

    /** Deterministic initialisation from {@code seed}. */
    public void init(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int dE = config.dEntropy(), dL = config.dLocal(), dM = config.dModel();
        Init.normal(params, eEmbed, 256 * dE, 1f, rnd);
        for (IntegralLayer l : entropyLayers) {
            l.init(params, rnd, Math.max(1, entropyLayers.length));
        }
        Init.fill(params, eNorm, dE, 1f);
        Init.normal(params, eHead, 256 * dE, (float) (1 / Math.sqrt(dE)), rnd);
        Init.normal(params, embByte, 256 * dL, 1f, rnd);
        if (embNgram >= 0) {
            Init.normal(params, embNgram, ngramOrders.length * config.buckets() * dL, 0.5f, rnd);
        }
        int localLayers = Math.max(1, encoder.length + decoder.length);
        for (IntegralLayer l : encoder) {
            l.init(params, rnd, localLayers);
        }
        Init.normal(params, patchProj, dM * dPatch, (float) (1 / Math.sqrt(dPatch)), rnd);
        for (GlobalBlock g : global) {
            g.init(params, rnd, Math.max(1, global.length));
        }
        Init.fill(params, gNorm, dM, 1f);
        Init.normal(params, decStart, dM, 1f, rnd);
        Init.normal(params, decUp, dL * dM, (float) (1 / Math.sqrt(dM)), rnd);
        for (IntegralLayer l : decoder) {
            l.init(params, rnd, localLayers);
        }
        Init.fill(params, decNorm, dL, 1f);
        Init.normal(params, head, 256 * dL, (float) (1 / Math.sqrt(dL)), rnd);
    }

    /** Fixed patches of this length replace entropy patching (the entropy warm-up); 0 turns it off. */
    @Override
    public void setWarmupFixed(int length) {
        this.warmupFixed = length;
    }

    int[] forcedEndsOrNull() {
        return forcedEnds;
    }

    int warmupFixed() {
        return warmupFixed;
    }

    private boolean calibrating;

    /** The patch op's state ({@code Patching.STATE_THETA}), kept equal to the patcher's θ. */
    private final float[] patchState = new float[Patching.STATE];
    private boolean patchStateSet;

    /** Gives the patch op the patcher's θ when it differs from the state's (a restored checkpoint, a new patcher θ). */
    private void syncPatchState() {
        if (!patchStateSet || Float.floatToRawIntBits(patchState[Patching.STATE_THETA]) != Float.floatToRawIntBits(patcher.theta)) {
            patchState[Patching.STATE_THETA] = patcher.theta;
            patchStateSet = true;
            be.hostChanged(patchState);
        }
    }

    /** While on (training), each forward pass recalibrates the patch threshold on its own batch. */
    @Override
    public void setCalibrating(boolean on) {
        this.calibrating = on;
    }

    /** Holds patch boundaries fixed (gradient checks); null returns to the patcher. */
    public void forceBoundaries(int[] ends) {
        this.forcedEnds = ends == null ? null : ends.clone();
    }

    /** The boundary flags of the last forward pass, [B·T]. */
    public int[] lastBoundaries() {
        be.toHost(ends);
        int[] out = new int[N];
        System.arraycopy(ends, 0, out, 0, N);
        return out;
    }

    /** The entropy model's hNext of the last forward pass, [B·T]. */
    public float[] lastEntropies() {
        be.toHost(hNext);
        float[] out = new float[N];
        System.arraycopy(hNext, 0, out, 0, N);
        return out;
    }

    /**
     * The objective of the last forward pass, summed in double: mean main loss plus mean entropy
     * loss (what {@link #backward} differentiates). Gradient checks difference this.
     */
    public double objective() {
        be.toHost(losses, eLosses, stats);
        double main = 0, ent = 0;
        for (int i = 0; i < N; i++) {
            main += losses[i];
            ent += eLosses[i];
        }
        double valid = stats[Losses.STAT_VALID];
        return valid == 0 ? 0 : (main + ent) / valid;
    }

    /** Patches closed in the last forward pass (rows of the global transformer). */
    int lastPatchCount() {
        return R;
    }

    /** Row {@code row} of the last forward pass's decoder context W_up·[start; G] (row 0: the start vector), into {@code dst}. */
    void decoderContextRow(int row, float[] dst) {
        be.toHost(gup);
        System.arraycopy(gup, row * config.dLocal(), dst, 0, config.dLocal());
    }

    /** Logits of the last forward pass, [B·T, 256] (a live view: copy before the next forward). */
    public float[] logits() {
        be.toHost(logits);
        return logits;
    }

    private void ensure(int B, int T) {
        this.B = B;
        this.T = T;
        this.N = B * T;
        if (N <= capN) {
            return;
        }
        capN = N;
        int dE = config.dEntropy(), dL = config.dLocal();
        x = new int[N]; targets = new int[N]; ngramIdx = new int[N * Math.max(1, ngramOrders.length)];
        ends = new int[N]; endRows = new int[N]; pi = new int[N]; argmax = new int[N];
        seqStart = new int[B + 1]; seqCount = new int[B + 1];
        eIn = new float[N * dE]; eOut = new float[N * dE]; eNormed = new float[N * dE]; eRstd = new float[N];
        eLogits = new float[N * 256]; eProbs = new float[N * 256]; eLosses = new float[N]; hNext = new float[N];
        stats = new float[Losses.STATS]; eStats = new float[Losses.STATS];
        emb = new float[N * dL]; encOut = new float[N * dL]; bufA = new float[N * Math.max(dL, dE)];
        bufB = new float[N * Math.max(dL, dE)];
        z = new float[N * dL]; decOut = new float[N * dL]; decNormed = new float[N * dL]; decRstd = new float[N];
        logits = new float[N * 256]; probs = new float[N * 256]; losses = new float[N];
        dLocalA = new float[N * Math.max(dL, dE)]; dLocalB = new float[N * Math.max(dL, dE)];
        dEncOut = new float[N * dL]; dLogits = new float[N * 256]; dDecNormed = new float[N * dL];
        dEmb = new float[N * dL];
    }

    private void ensurePatches(int R) {
        this.R = R;
        if (R + 1 <= capR) {
            return;
        }
        capR = GlobalBlock.grown(R + 1, capR);
        int dL = config.dLocal(), dM = config.dModel();
        pv = new float[capR * dPatch]; gin = new float[capR * dM]; gout = new float[capR * dM];
        gNormed = new float[capR * dM]; gRstd = new float[capR]; gup = new float[capR * dL];
        dPv = new float[capR * dL]; dGin = new float[capR * dM]; dGup = new float[capR * dL];
        dGlobalA = new float[capR * dM]; dGlobalB = new float[capR * dM];
    }

    /**
     * Forward pass over {@code B} sequences of {@code T} bytes: {@code bytes[b*T + t]} predicts
     * {@code targets[b*T + t]} (usually the next byte; negative targets are ignored).
     */
    public Output forward(int[] bytes, int[] tgt, int B, int T) {
        ensure(B, T);
        System.arraycopy(bytes, 0, x, 0, N);
        System.arraycopy(tgt, 0, targets, 0, N);
        be.hostChanged(x, targets);
        int dE = config.dEntropy(), dL = config.dLocal(), dM = config.dModel();

        startTimer();
        // ---- entropy model (its own small byte LM) ----
        be.byteEmbeddingForward(eIn, 0, params, eEmbed, x, 0, N, dE);
        runLayers(entropyLayers, eIn, eOut, B, T, dE);
        be.rmsNormForward(eNormed, 0, eRstd, 0, eOut, 0, params, eNorm, N, dE, EPS);
        be.matmulForward(eLogits, 0, eNormed, 0, params, eHead, null, 0, N, dE, 256);
        be.crossEntropyForward(eLosses, 0, eProbs, 0, eLogits, 0, targets, 0, N, 256);
        be.lossStats(eStats, 0, eLosses, 0, argmax, 0, targets, 0, N);
        be.entropy(hNext, 0, eLogits, 0, N, 256);

        lap(0);
        // ---- patches (a backend op: on a device only the sequence starts, and θ when calibrating, come back) ----
        int r;
        if (forcedEnds != null) {
            // Gradient checks hold the boundaries: set on the host, the rows built from them here.
            be.toHost(hNext);
            if (calibrating) {
                patcher.calibrate(hNext, B, T);
            }
            System.arraycopy(forcedEnds, 0, ends, 0, N);
            if (tokunPatches != null) {
                tokunPatches.checkBoundaries(ends, N, T);
            }
            for (int b = 0; b < B; b++) {
                int c = 0;
                for (int t = 0; t < T; t++) {
                    c += ends[b * T + t] != 0 ? 1 : 0;
                }
                seqCount[b] = c;
            }
            Patching.prefix(seqStart, seqCount, B);
            for (int b = 0; b < B; b++) {
                Patching.rowsSequence(endRows, pi, ends, seqStart, T, b);
            }
            be.hostChanged(ends, endRows, pi, seqStart, seqCount);
            r = seqStart[B];
        } else {
            int mode = patcher.modeCode();
            int k = Patching.scoreCount(mode, B, T);
            int calibrate = calibrating && patcher.usesEntropy() && k > 0 ? 1 : 0;
            syncPatchState();
            be.patchBoundaries(ends, endRows, pi, seqStart, seqCount, x, hNext, patchState, B, T, mode, patcher.fixedLength,
                    patcher.maxPatch, warmupFixed, calibrate, calibrate == 1 ? patcher.quantileRank(k) : 0);
            be.toHost(seqStart, seqCount);
            if (calibrate == 1) {
                be.toHost(patchState);
                patcher.calibrated(patchState[Patching.STATE_THETA]);
            }
            r = seqStart[B];
        }
        ensurePatches(r);
        if (calibrating && warmupFixed == 0 && forcedEnds == null) {
            patcher.observe(r, N);
        }

        // ---- byte embeddings and encoder ----
        be.byteEmbeddingForward(emb, 0, params, embByte, x, 0, N, dL);
        if (embNgram >= 0) {
            be.ngramIndex(ngramIdx, 0, x, 0, ngramOrders, config.buckets(), T, N);
            be.ngramEmbeddingForward(emb, 0, params, embNgram, ngramIdx, 0, ngramOrders.length, N, dL);
        }
        runLayers(encoder, emb, encOut, B, T, dL);
        lap(1);

        // ---- global transformer over closed patches ----
        be.copy(gin, 0, params, decStart, dM);
        if (R > 0) {
            if (tokunPatches != null) {
                tokunPatches.encode(be, x, B, T, seqStart, seqCount, R, capR, pv);
            } else {
                be.byteEmbeddingForward(pv, 0, encOut, 0, endRows, 0, R, dL);
            }
            be.matmulForward(dGlobalA, 0, pv, 0, params, patchProj, null, 0, R, dPatch, dM);
            float[] gx = dGlobalA, gy = gout;
            for (GlobalBlock blk : global) {
                blk.forward(be, params, gx, 0, gy, 0, R, B, seqStart, seqCount);
                float[] tmp = gx;
                gx = gy;
                gy = tmp;
            }
            if (gx != gout) {
                be.copy(gout, 0, gx, 0, R * dM);
            }
            be.rmsNormForward(gin, dM, gRstd, 0, gout, 0, params, gNorm, R, dM, EPS);
        }
        lap(2);
        be.matmulForward(gup, 0, gin, 0, params, decUp, null, 0, R + 1, dM, dL);

        // ---- decoder ----
        be.byteEmbeddingForward(z, 0, gup, 0, pi, 0, N, dL);
        be.accumulate(z, 0, encOut, 0, N * dL);
        runLayers(decoder, z, decOut, B, T, dL);
        be.rmsNormForward(decNormed, 0, decRstd, 0, decOut, 0, params, decNorm, N, dL, EPS);
        be.matmulForward(logits, 0, decNormed, 0, params, head, null, 0, N, dL, 256);
        be.crossEntropyForward(losses, 0, probs, 0, logits, 0, targets, 0, N, 256);
        be.argmax(argmax, 0, logits, 0, N, 256);
        be.lossStats(stats, 0, losses, 0, argmax, 0, targets, 0, N);
        be.toHost(stats, eStats);
        lap(3);
        return new Output(stats[Losses.STAT_MEAN_LOSS], eStats[Losses.STAT_MEAN_LOSS], R, (long) (int) stats[Losses.STAT_VALID],
                (int) stats[Losses.STAT_CORRECT]);
    }

    /** Runs a stack of layers, ping-ponging between two scratch buffers; the result lands in {@code out}. */
    private void runLayers(IntegralLayer[] layers, float[] in, float[] out, int B, int T, int d) {
        float[] cur = in;
        for (IntegralLayer layer : layers) {
            float[] next = cur == bufA ? bufB : bufA;
            layer.forward(be, params, cur, 0, next, 0, B, T);
            cur = next;
        }
        be.copy(out, 0, cur, 0, B * T * d);
    }

    /**
     * Accumulates d(loss + entropyLoss)/d(params) into {@link #grads} for the last forward pass,
     * each loss a mean over the valid positions, scaled by {@code scale} (1/accumulation steps).
     */
    public void backward(float scale) {
        int dE = config.dEntropy(), dL = config.dLocal(), dM = config.dModel();
        startTimer();
        // Scaled for gradient accumulation and restored after: with scale 1 nothing changes,
        // and a device backend need not upload the statistics twice a step.
        if (scale != 1f) {
            stats[Losses.STAT_INV_VALID] *= scale;
            eStats[Losses.STAT_INV_VALID] *= scale;
            be.hostChanged(stats, eStats);
        }

        // ---- head and decoder ----
        be.fill(dLogits, 0, 0f, N * 256);
        be.crossEntropyBackward(dLogits, 0, probs, 0, targets, 0, stats, Losses.STAT_INV_VALID, 0, N, 256);
        be.matmulBackwardInputOverwrite(dDecNormed, 0, dLogits, 0, params, head, N, dL, 256);
        be.matmulBackwardWeight(grads, head, null, 0, dLogits, 0, decNormed, 0, N, dL, 256);
        be.fill(dLocalA, 0, 0f, N * dL);
        be.rmsNormBackward(dLocalA, 0, grads, decNorm, dDecNormed, 0, decOut, 0, params, decNorm, decRstd, 0, N, dL);
        float[] dz = backLayers(decoder, dLocalA, localScratch, B, T, dL);

        // ---- z = encOut + Gup[π] ----
        be.copy(dEncOut, 0, dz, 0, N * dL);
        be.fill(dGup, 0, 0f, (R + 1) * dL);
        be.byteEmbeddingBackward(dGup, 0, dz, 0, pi, 0, N, dL);
        be.matmulBackwardInputOverwrite(dGin, 0, dGup, 0, params, decUp, R + 1, dM, dL);
        be.matmulBackwardWeight(grads, decUp, null, 0, dGup, 0, gin, 0, R + 1, dM, dL);
        be.accumulate(grads, decStart, dGin, 0, dM);
        lap(4);
        if (R > 0) {
            be.fill(dGlobalA, 0, 0f, R * dM);
            be.rmsNormBackward(dGlobalA, 0, grads, gNorm, dGin, dM, gout, 0, params, gNorm, gRstd, 0, R, dM);
            float[] dcur = dGlobalA, dnext = dGlobalB;
            for (int i = global.length - 1; i >= 0; i--) {
                global[i].backward(be, params, grads, dcur, 0, dnext, 0, R, B, seqStart, seqCount, globalScratch);
                float[] tmp = dcur;
                dcur = dnext;
                dnext = tmp;
            }
            be.matmulBackwardWeight(grads, patchProj, null, 0, dcur, 0, pv, 0, R, dPatch, dM);
            // A tokun's latents are inputs, not activations: the frozen tokun gets no gradient.
            if (patchEncoder == null) {
                be.matmulBackwardInputOverwrite(dPv, 0, dcur, 0, params, patchProj, R, dL, dM);
                be.byteEmbeddingBackward(dEncOut, 0, dPv, 0, endRows, 0, R, dL);
            }
        }
        lap(5);

        // ---- encoder and embeddings ----
        float[] dEmbIn = backLayers(encoder, dEncOut, localScratch, B, T, dL);
        be.byteEmbeddingBackward(grads, embByte, dEmbIn, 0, x, 0, N, dL);
        if (embNgram >= 0) {
            be.ngramEmbeddingBackward(grads, embNgram, dEmbIn, 0, ngramIdx, 0, ngramOrders.length, N, dL);
        }

        lap(6);
        // ---- entropy model: its own loss only ----
        be.fill(dLogits, 0, 0f, N * 256);
        be.crossEntropyBackward(dLogits, 0, eProbs, 0, targets, 0, eStats, Losses.STAT_INV_VALID, 0, N, 256);
        be.matmulBackwardInputOverwrite(dLocalB, 0, dLogits, 0, params, eHead, N, dE, 256);
        be.matmulBackwardWeight(grads, eHead, null, 0, dLogits, 0, eNormed, 0, N, dE, 256);
        be.fill(dLocalA, 0, 0f, N * dE);
        be.rmsNormBackward(dLocalA, 0, grads, eNorm, dLocalB, 0, eOut, 0, params, eNorm, eRstd, 0, N, dE);
        float[] deIn = backLayers(entropyLayers, dLocalA, entropyScratch, B, T, dE);
        be.byteEmbeddingBackward(grads, eEmbed, deIn, 0, x, 0, N, dE);

        if (scale != 1f) {
            stats[Losses.STAT_INV_VALID] /= scale;
            eStats[Losses.STAT_INV_VALID] /= scale;
            be.hostChanged(stats, eStats);
        }
        lap(7);
    }

    /**
     * Backward through a stack, top layer first. {@code dTop} holds d(loss)/d(stack output); the
     * returned buffer holds d(loss)/d(stack input).
     */
    private float[] backLayers(IntegralLayer[] layers, float[] dTop, IntegralLayer.Scratch sc, int B, int T, int d) {
        float[] dcur = dTop;
        for (int i = layers.length - 1; i >= 0; i--) {
            float[] dnext = dcur == dLocalA ? dLocalB : dLocalA;
            be.fill(dnext, 0, 0f, N * d);
            layers[i].backward(be, params, grads, dcur, 0, dnext, 0, B, T, sc);
            dcur = dnext;
        }
        return dcur;
    }
}
