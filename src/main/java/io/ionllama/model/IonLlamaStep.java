package io.ionllama.model;

import io.ionllama.backend.Backend;
import io.ionllama.kernels.Embeddings;

/**
 * {@link IonLlama}'s forward pass one byte at a time, for generation: the ops of
 * {@link IonLlama#forward} in the same order, on one row, with every layer's scan state, the
 * global blocks' keys and values and the decoder's context carried from byte to byte in a
 * {@link State}, which the caller (a {@link StreamingDecoder}) holds. Besides IonLlama itself,
 * this is the only reader of the model's parameter offsets and layers; it has a file of its own
 * so that IonLlama's stays a readable length.
 *
 * <pre>
 *   {@link #input}        byte t and its n-gram buckets over bytes ≤ t
 *   {@link #entropyStep}  entropy layers (state) ─► RMSNorm ─► head ─► hNext[t]
 *   {@link #encodeStep}   byte + n-gram embedding ─► encoder layers (state) ─► yEnc[t]
 *   {@link #globalStep}   if t closes patch j: W_p yEnc[t] (or tokun.proj · tokun(bytes of j)) ─► global blocks (KV cache) ─► RMSNorm ─► ctx = W_up G[j]
 *   {@link #decodeStep}   z = yEnc[t] + ctx ─► decoder layers (state) ─► RMSNorm ─► head ─► logits for byte t+1
 * </pre>
 *
 * Each method is a fixed sequence of backend ops, so a device backend can record and replay it;
 * the caller says where its backend steps begin and end.
 */
final class IonLlamaStep {
    private final IonLlama m;
    private final Backend be;
    private final ModelConfig c;
    private final float[] p;

    IonLlamaStep(IonLlama model) {
        this.m = model;
        this.be = model.backend();
        this.c = model.config;
        this.p = model.params;
    }

    /** What the per-byte path carries from byte to byte, and its one-row buffers. */
    final class State {
        /** Each layer's scan state, per stack. */
        final float[][] entropy, encoder, decoder;
        /** Each global block's keys and values of the patches closed so far. */
        final GlobalBlock.Cache[] caches;
        /** The decoder's context: W_up times the last closed patch's G, or the learned start vector. */
        final float[] ctx;
        /** The entropy of the next byte's distribution (hNext[t], which the patcher reads) and the logits for it. */
        final float[] hNext = new float[1], logits = new float[256];
        private final IntegralLayer.StepBuffers eBuf, lBuf;
        private final int[] one = new int[1], ngramIdx;
        /** A tokun patcher's: the bytes of the patch just closed, and its latent. */
        private final int[] chunk;
        private final float[] latent;
        private final float[] eRow, eRow2, eNormed, eLogits, r1, row, row2, yEnc, pv, g, g2, gin, z, decNormed;

        /** Keys and values with room for {@code patches} patches before they grow. */
        private State(int patches) {
            int dE = c.dEntropy(), dL = c.dLocal(), dM = c.dModel();
            entropy = new float[m.entropyLayers.length][dE];
            encoder = new float[m.encoder.length][dL];
            decoder = new float[m.decoder.length][dL];
            eBuf = new IntegralLayer.StepBuffers(dE, 2 * dE);
            lBuf = new IntegralLayer.StepBuffers(dL, c.localMlp());
            caches = new GlobalBlock.Cache[m.global.length];
            for (int i = 0; i < caches.length; i++) {
                caches[i] = new GlobalBlock.Cache(dM, c.globalMlp(), c.heads());
                m.global[i].ensureCache(be, caches[i], patches);
            }
            eRow = new float[dE]; eRow2 = new float[dE]; eNormed = new float[dE]; eLogits = new float[256];
            r1 = new float[1];
            row = new float[dL]; row2 = new float[dL]; yEnc = new float[dL]; pv = new float[dM]; g = new float[dM];
            g2 = new float[dM]; gin = new float[dM]; ctx = new float[dL]; z = new float[dL]; decNormed = new float[dL];
            ngramIdx = new int[Math.max(1, c.ngrams().length)];
            chunk = m.patchEncoder == null ? null : new int[m.patcher.fixedLength];
            latent = m.patchEncoder == null ? null : new float[m.dPatch];
        }
    }

    /**
     * A new state whose keys and values have room for {@code patches} patches before they grow:
     * on a device backend, growing them mid-way means new arrays, and a new plan for the steps that
     * bind them. Call {@link #start} before the first byte.
     */
    State newState(int patches) {
        return new State(patches);
    }

    /** Back to the start of a sequence: scan states zero, no patch closed, the decoder reading the learned start vector. */
    void start(State s) {
        zero(s.entropy);
        zero(s.encoder);
        zero(s.decoder);
        for (GlobalBlock.Cache cache : s.caches) {
            cache.rows = 0;
        }
        statesChanged(s);
        be.matmulForward(s.ctx, 0, p, m.decStart, p, m.decUp, null, 0, 1, c.dModel(), c.dLocal());
    }

    private static void zero(float[][] states) {
        for (float[] h : states) {
            java.util.Arrays.fill(h, 0f);
        }
    }

    /**
     * Takes the state after the last byte of the last forward pass (one sequence of {@code n}
     * bytes) into {@code s}: the scan states, the keys and values of its closed patches, the
     * decoder's context and the logits for the next byte. A prompt then costs one forward pass.
     */
    void fromForward(State s, int n) {
        int last = n - 1;
        stateAfter(m.entropyLayers, s.entropy, n, last);
        stateAfter(m.encoder, s.encoder, n, last);
        stateAfter(m.decoder, s.decoder, n, last);
        int rows = m.lastPatchCount();
        // A prompt that closes no patch ran no global block: its caches stay empty (start).
        for (int i = 0; i < s.caches.length && rows > 0; i++) {
            m.global[i].cacheFromForward(be, s.caches[i], rows);
        }
        m.decoderContextRow(rows, s.ctx);
        System.arraycopy(m.logits(), last * 256, s.logits, 0, 256);
        statesChanged(s);
        be.hostChanged(s.ctx, s.logits);
    }

    private void stateAfter(IntegralLayer[] layers, float[][] states, int rows, int row) {
        for (int i = 0; i < layers.length; i++) {
            layers[i].stateAfter(be, rows, row, states[i]);
        }
    }

    /** The host wrote the scan states: a device keeping them must take the host's. */
    private void statesChanged(State s) {
        be.hostChanged(s.entropy);
        be.hostChanged(s.encoder);
        be.hostChanged(s.decoder);
    }

    /** Whether the forward pass's patches come from held boundaries (gradient checks), which {@link StreamingDecoder#prime} cannot read back. */
    boolean boundariesForced() {
        return m.forcedEndsOrNull() != null;
    }

    /**
     * Whether byte {@code b} at {@code position} closes a patch, as the forward pass decides it
     * from bytes ≤ position: the held boundaries, or the patcher on the byte's entropy {@code h},
     * the previous byte's {@code prevH} and the {@code patchLength} bytes of the patch so far.
     */
    boolean patchEndsAt(int position, int b, float h, float prevH, int patchLength) {
        int[] forced = m.forcedEndsOrNull();
        return forced != null ? forced[position] != 0
                : m.patcher.endsAt(b, h, prevH, position > 0, patchLength, m.warmupFixed());
    }

    /** Byte {@code history[position]} as the next step's input, with its n-gram buckets over {@code history[0..position]}. */
    void input(State s, int[] history, int position) {
        s.one[0] = history[position];
        int[] ns = c.ngrams();
        for (int k = 0; k < ns.length; k++) {
            s.ngramIdx[k] = k * c.buckets() + Embeddings.ngramBucket(history, 0, position, ns[k], c.buckets());
        }
        be.hostChanged(s.one, s.ngramIdx);
    }

    /** The entropy model on the input byte: {@code s.hNext[0]}, the entropy of its next-byte distribution. */
    void entropyStep(State s) {
        int dE = c.dEntropy();
        be.byteEmbeddingForward(s.eRow, 0, p, m.eEmbed, s.one, 0, 1, dE);
        float[] top = layersStep(m.entropyLayers, s.entropy, s.eRow, s.eRow2, s.eBuf);
        be.rmsNormForward(s.eNormed, 0, s.r1, 0, top, 0, p, m.eNorm, 1, dE, IonLlama.EPS);
        be.matmulForward(s.eLogits, 0, s.eNormed, 0, p, m.eHead, null, 0, 1, dE, 256);
        be.entropy(s.hNext, 0, s.eLogits, 0, 1, 256);
    }

    /** The byte and n-gram embeddings and the encoder on the input byte: the encoder's output row. */
    void encodeStep(State s) {
        int dL = c.dLocal();
        be.byteEmbeddingForward(s.row, 0, p, m.embByte, s.one, 0, 1, dL);
        if (c.ngrams().length > 0) {
            be.ngramEmbeddingForward(s.row, 0, p, m.embNgram, s.ngramIdx, 0, c.ngrams().length, 1, dL);
        }
        float[] top = layersStep(m.encoder, s.encoder, s.row, s.row2, s.lBuf);
        be.copy(s.yEnc, 0, top, 0, dL);
    }

    /** Room in every global block's cache for one more patch: outside a backend step, since growing copies on the host. */
    void makeRoomForPatch(State s) {
        for (int i = 0; i < s.caches.length; i++) {
            m.global[i].ensureCache(be, s.caches[i], s.caches[i].rows + 1);
        }
    }

    /**
     * Byte {@code history[position]} closed a patch: its vector (the encoder's row, or a tokun
     * patcher's latent of the patch's bytes) through the global blocks, and the decoder's new context.
     */
    void globalStep(State s, int[] history, int position) {
        int dL = c.dLocal(), dM = c.dModel();
        if (m.patchEncoder != null) {
            // The patch is the tokun's chunk ending here: the same latent the forward pass computes for it.
            int C = s.chunk.length;
            System.arraycopy(history, position - C + 1, s.chunk, 0, C);
            m.patchEncoder.encode(s.chunk, C);
            be.copy(s.latent, 0, m.patchEncoder.latent(), 0, m.dPatch);
            be.matmulForward(s.pv, 0, s.latent, 0, p, m.patchProj, null, 0, 1, m.dPatch, dM);
        } else {
            be.matmulForward(s.pv, 0, s.yEnc, 0, p, m.patchProj, null, 0, 1, dL, dM);
        }
        float[] gx = s.pv, gy = s.g;
        for (int i = 0; i < m.global.length; i++) {
            m.global[i].step(be, p, gx, 0, gy, 0, s.caches[i]);
            float[] t = gx;
            gx = gy;
            gy = (t == s.pv) ? s.g2 : t;
        }
        be.rmsNormForward(s.gin, 0, s.r1, 0, gx, 0, p, m.gNorm, 1, dM, IonLlama.EPS);
        be.matmulForward(s.ctx, 0, s.gin, 0, p, m.decUp, null, 0, 1, dM, dL);
    }

    /** The decoder and the head on the encoder's row plus the context: {@code s.logits}, for the next byte. */
    void decodeStep(State s) {
        int dL = c.dLocal();
        be.copy(s.z, 0, s.ctx, 0, dL);
        be.accumulate(s.z, 0, s.yEnc, 0, dL);
        float[] top = layersStep(m.decoder, s.decoder, s.z, s.row2, s.lBuf);
        be.rmsNormForward(s.decNormed, 0, s.r1, 0, top, 0, p, m.decNorm, 1, dL, IonLlama.EPS);
        be.matmulForward(s.logits, 0, s.decNormed, 0, p, m.head, null, 0, 1, dL, 256);
    }

    /** Runs a stack one byte forward, ping-ponging between {@code in} and {@code spare}; returns the buffer holding the top layer's output. */
    private float[] layersStep(IntegralLayer[] layers, float[][] states, float[] in, float[] spare, IntegralLayer.StepBuffers sb) {
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
