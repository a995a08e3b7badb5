package io.ionllama.model;

import io.ionllama.backend.Backend;
import io.ionllama.kernels.Embeddings;

/**
 * Incremental decoding: feeds bytes one at a time and returns the logits for the next byte,
 * keeping every layer's recurrent state and the global transformer's keys and values, so a byte
 * costs O(local layers) and, when it closes a patch, one global step of O(w + log P) attention
 * reads. The logits equal those of a full forward pass over the same bytes (up to float
 * rounding of one-row versus many-row matmuls), patch boundaries included.
 *
 * <pre>
 *   byte t ─► entropy layers (state) ─► hNext[t] ─► patcher: does t close a patch?
 *          └► byte + n-gram embedding ─► encoder layers (state) ─► yEnc[t]
 *                                           │ if t closes patch j: W_p ─► global blocks (KV cache) ─► G[j] ─► ctx = W_up G[j]
 *             z = yEnc[t] + ctx ─► decoder layers (state) ─► RMSNorm ─► head ─► logits for byte t+1
 * </pre>
 */
public final class StreamingDecoder {
    /** The kinds of backend step a byte is made of (see {@link #feed}). */
    static final String LOCAL_STEP = "generate: local", PATCH_STEP = "generate: patch", DECODE_STEP = "generate: decode";

    private final IonLlama m;
    private final Backend be;
    private final ModelConfig c;
    private final float[] p;

    private final float[][] eState, encState, decState;
    private final IntegralLayer.StepBuffers eBuf, lBuf;
    private final GlobalBlock.Cache[] caches;

    private final float[] eRow, eRow2, eNormed, eLogits, hNext, r1;
    private final float[] row, row2, yEnc, pv, g, g2, gin, ctx, z, decNormed, logits;
    private final int[] one = new int[1];
    private final int[] ngramIdx;
    private int[] history = new int[256];
    private int length, patchLength;
    private float prevH;

    public StreamingDecoder(IonLlama model) {
        this(model, 64);
    }

    /**
     * A decoder whose keys and values have room for {@code patches} patches before they grow
     * (the generator's context window bounds them): on a device backend, growing them mid-way
     * means new arrays, and a new plan for the generation steps that bind them.
     */
    public StreamingDecoder(IonLlama model, int patches) {
        this.m = model;
        this.be = model.backend();
        this.c = model.config;
        this.p = model.params;
        int dE = c.dEntropy(), dL = c.dLocal(), dM = c.dModel();
        eState = new float[model.entropyLayers.length][dE];
        encState = new float[model.encoder.length][dL];
        decState = new float[model.decoder.length][dL];
        eBuf = new IntegralLayer.StepBuffers(dE, 2 * dE);
        lBuf = new IntegralLayer.StepBuffers(dL, c.localMlp());
        caches = new GlobalBlock.Cache[model.global.length];
        for (int i = 0; i < caches.length; i++) {
            caches[i] = new GlobalBlock.Cache(dM, c.globalMlp(), c.heads());
            model.global[i].ensureCache(be, caches[i], patches);
        }
        eRow = new float[dE]; eRow2 = new float[dE]; eNormed = new float[dE]; eLogits = new float[256];
        hNext = new float[1]; r1 = new float[1];
        row = new float[dL]; row2 = new float[dL]; yEnc = new float[dL]; pv = new float[dM]; g = new float[dM];
        g2 = new float[dM]; gin = new float[dM]; ctx = new float[dL]; z = new float[dL]; decNormed = new float[dL];
        logits = new float[256];
        ngramIdx = new int[Math.max(1, c.ngrams().length)];
        reset();
    }

    /** Forgets everything: the next byte is the first of a new sequence. */
    public void reset() {
        for (float[] s : eState) {
            java.util.Arrays.fill(s, 0f);
        }
        for (float[] s : encState) {
            java.util.Arrays.fill(s, 0f);
        }
        for (float[] s : decState) {
            java.util.Arrays.fill(s, 0f);
        }
        for (GlobalBlock.Cache cache : caches) {
            cache.rows = 0;
        }
        statesChanged();
        length = 0;
        patchLength = 0;
        closedPatches = 0;
        lastClosed = false;
        prevH = 0f;
        // No patch has closed yet: the decoder reads the learned start vector.
        be.matmulForward(ctx, 0, p, m.decStart, p, m.decUp, null, 0, 1, c.dModel(), c.dLocal());
    }

    /** Longest prompt {@link #prime} runs as one forward pass; the rest is fed byte by byte. */
    static final int PRIME_MAX = 65_536;

    /**
     * Bytes one priming pass may cover: the forward keeps activations for every byte, so at most
     * what half of the heap still free holds at {@link MemoryEstimate}'s rate per byte.
     */
    private int primeLimit() {
        Runtime rt = Runtime.getRuntime();
        long free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
        long perByte = Math.max(1, MemoryEstimate.of(c, m.layout, 1, 4096).activations() / 4096);
        return (int) Math.max(256, Math.min(PRIME_MAX, free / 2 / perByte));
    }

    /**
     * Resets and feeds {@code bytes[from..to)}, as {@link #feed} byte by byte would, but through
     * one full forward pass over them (batched matmuls, the parallel scan): a prompt then costs
     * about what a training forward over it costs, not one decoder step per byte. The recurrent
     * states, the global keys and values, the patch state and the decoder's context are read from
     * that pass. Returns the logits for the next byte (a live view), or null when nothing was fed.
     */
    public float[] prime(int[] bytes, int from, int to) {
        reset();
        int n = Math.min(to - from, primeLimit());
        if (n < 2 || m.forcedEndsOrNull() != null) {
            float[] logits = null;
            for (int i = from; i < to; i++) {
                logits = feed(bytes[i]);
            }
            return logits;
        }
        int[] x = java.util.Arrays.copyOfRange(bytes, from, from + n), y = new int[n];
        java.util.Arrays.fill(y, -1);
        m.forward(x, y, 1, n);
        int last = n - 1;
        copyStates(m.entropyLayers, eState, n, last);
        copyStates(m.encoder, encState, n, last);
        copyStates(m.decoder, decState, n, last);
        int rows = m.lastPatchCount();
        // A prompt that closes no patch ran no global block: its caches stay empty (reset).
        for (int i = 0; i < caches.length && rows > 0; i++) {
            GlobalBlock g = m.global[i];
            be.toHost(g.saved.kr, g.saved.v);
            GlobalBlock.Cache cache = caches[i];
            int d = c.dModel();
            if (rows * d > cache.k.length) {
                cache.k = new float[rows * d];
                cache.v = new float[rows * d];
            }
            System.arraycopy(g.saved.kr, g.offset(rows), cache.k, 0, rows * d);
            System.arraycopy(g.saved.v, g.offset(rows), cache.v, 0, rows * d);
            cache.rows = rows;
        }
        int[] ends = m.lastBoundaries();
        float[] h = m.lastEntropies();
        int lastEnd = -1;
        for (int t = last; t >= 0 && lastEnd < 0; t--) {
            if (ends[t] != 0) {
                lastEnd = t;
            }
        }
        closedPatches = rows;
        lastClosed = ends[last] != 0;
        patchLength = last - lastEnd;
        prevH = h[last];
        if (history.length < n) {
            history = java.util.Arrays.copyOf(history, Integer.highestOneBit(n) * 2);
        }
        System.arraycopy(x, 0, history, 0, n);
        length = n;
        m.decoderContextRow(rows, ctx);
        float[] full = m.logits();
        System.arraycopy(full, last * 256, logits, 0, 256);
        statesChanged();
        for (GlobalBlock.Cache cache : caches) {
            be.hostChanged(cache.k, cache.v);
        }
        be.hostChanged(ctx, logits);
        float[] out = logits;
        for (int i = from + n; i < to; i++) {
            out = feed(bytes[i]);
        }
        return out;
    }

    /** The host wrote the recurrent states (a reset, a priming pass): a device keeping them must take the host's. */
    private void statesChanged() {
        be.hostChanged(eState);
        be.hostChanged(encState);
        be.hostChanged(decState);
    }

    /** Each layer's scan state after row {@code row} of the last forward pass (over {@code rows} rows). */
    private void copyStates(IntegralLayer[] layers, float[][] states, int rows, int row) {
        for (int i = 0; i < layers.length; i++) {
            IntegralLayer l = layers[i];
            be.toHost(l.saved.h);
            System.arraycopy(l.saved.h, l.offset(rows) + row * l.d, states[i], 0, l.d);
        }
    }

    /** Bytes fed since the last reset. */
    public int length() {
        return length;
    }

    /** Patches closed since the last reset. */
    public int patches() {
        return caches.length > 0 ? caches[0].rows : closedPatches;
    }

    private int closedPatches;
    private boolean lastClosed;

    /** Whether the last byte fed closed a patch. */
    public boolean lastClosedPatch() {
        return lastClosed;
    }

    /**
     * Feeds byte {@code b} (0..255); returns the logits for the next byte (a live 256-float view).
     *
     * <p>A byte is up to three steps of the backend ({@link Backend#beginStep(String)}), each kind
     * always the same ops in the same order, so a device backend keeps the weights, the recurrent
     * states and the keys and values on the device and replays them: the local pass up to the
     * entropy (which the host's patcher reads), the global step when the byte closes a patch, and
     * the decoder up to the logits (which the sampler reads).
     */
    public float[] feed(int b) {
        int dE = c.dEntropy(), dL = c.dLocal(), dM = c.dModel();
        if (length == history.length) {
            history = java.util.Arrays.copyOf(history, history.length * 2);
        }
        history[length] = b;
        one[0] = b;
        int[] ns = c.ngrams();
        for (int k = 0; k < ns.length; k++) {
            ngramIdx[k] = k * c.buckets() + Embeddings.ngramBucket(history, 0, length, ns[k], c.buckets());
        }

        be.beginStep(LOCAL_STEP);
        be.hostChanged(one, ngramIdx);
        // entropy model
        be.byteEmbeddingForward(eRow, 0, p, m.eEmbed, one, 0, 1, dE);
        float[] cur = runStep(m.entropyLayers, eState, eRow, eRow2, eBuf);
        be.rmsNormForward(eNormed, 0, r1, 0, cur, 0, p, m.eNorm, 1, dE, IonLlama.EPS);
        be.matmulForward(eLogits, 0, eNormed, 0, p, m.eHead, null, 0, 1, dE, 256);
        be.entropy(hNext, 0, eLogits, 0, 1, 256);

        // embeddings and encoder
        be.byteEmbeddingForward(row, 0, p, m.embByte, one, 0, 1, dL);
        if (ns.length > 0) {
            be.ngramEmbeddingForward(row, 0, p, m.embNgram, ngramIdx, 0, ns.length, 1, dL);
        }
        float[] enc = runStep(m.encoder, encState, row, row2, lBuf);
        be.copy(yEnc, 0, enc, 0, dL);
        be.toHost(hNext);
        be.endStep();

        // patch boundary, decided from bytes <= t
        patchLength++;
        boolean closes = m.forcedEndsOrNull() != null
                ? m.forcedEndsOrNull()[length] != 0
                : m.patcher.endsAt(b, hNext[0], prevH, length > 0, patchLength, m.warmupFixed());
        prevH = hNext[0];
        lastClosed = closes;
        if (closes) {
            patchLength = 0;
            closedPatches++;
            for (int i = 0; i < caches.length; i++) {
                m.global[i].ensureCache(be, caches[i], caches[i].rows + 1);
            }
            be.beginStep(PATCH_STEP);
            be.matmulForward(pv, 0, yEnc, 0, p, m.encProj, null, 0, 1, dL, dM);
            float[] gx = pv, gy = g;
            for (int i = 0; i < m.global.length; i++) {
                m.global[i].step(be, p, gx, 0, gy, 0, caches[i]);
                float[] t = gx;
                gx = gy;
                gy = (t == pv) ? g2 : t;
            }
            be.rmsNormForward(gin, 0, r1, 0, gx, 0, p, m.gNorm, 1, dM, IonLlama.EPS);
            be.matmulForward(ctx, 0, gin, 0, p, m.decUp, null, 0, 1, dM, dL);
            be.endStep();
        }

        // decoder and head
        be.beginStep(DECODE_STEP);
        be.copy(z, 0, ctx, 0, dL);
        be.accumulate(z, 0, yEnc, 0, dL);
        float[] dec = runStep(m.decoder, decState, z, row2, lBuf);
        be.rmsNormForward(decNormed, 0, r1, 0, dec, 0, p, m.decNorm, 1, dL, IonLlama.EPS);
        be.matmulForward(logits, 0, decNormed, 0, p, m.head, null, 0, 1, dL, 256);
        be.toHost(logits);
        be.endStep();
        length++;
        return logits;
    }

    /** Runs a stack one byte forward; returns the buffer holding the top layer's output. */
    private float[] runStep(IntegralLayer[] layers, float[][] states, float[] in, float[] spare, IntegralLayer.StepBuffers sb) {
        float[] cur = in, other = spare;
        for (int i = 0; i < layers.length; i++) {
            layers[i].step(be, p, cur, 0, other, 0, states[i], 0, sb);
            float[] t = cur;
            cur = other;
            other = t;
        }
        return cur;
    }
}
