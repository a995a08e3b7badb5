package io.ionllama.model;

import io.ionllama.backend.Backend;

/**
 * Incremental decoding: feeds bytes one at a time and returns the logits for the next byte,
 * keeping every layer's recurrent state and the global transformer's keys and values, so a byte
 * costs O(local layers) and, when it closes a patch, one global step of O(w + log P) attention
 * reads. The logits equal those of a full forward pass over the same bytes (up to float
 * rounding of one-row versus many-row matmuls), patch boundaries included.
 *
 * <p>This class holds what decoding keeps (the bytes so far, the current patch, the model's
 * {@link IonLlamaStep.State}) and says which backend step runs when; the model's ops for one byte
 * (its diagram is there), and which parameters they read, are {@link IonLlamaStep}'s.
 */
public final class StreamingDecoder implements ByteModel.Decoder {
    /** The kinds of backend step a byte is made of (see {@link #feed}). */
    static final String LOCAL_STEP = "generate: local", PATCH_STEP = "generate: patch", DECODE_STEP = "generate: decode";

    private final IonLlama model;
    private final IonLlamaStep perByte;
    private final Backend be;
    private final IonLlamaStep.State state;
    private int[] history = new int[256];
    private int length, patchLength, closedPatches;
    private boolean lastClosed;
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
        this.model = model;
        this.perByte = new IonLlamaStep(model);
        this.be = model.backend();
        this.state = perByte.newState(patches);
        reset();
    }

    /** Forgets everything: the next byte is the first of a new sequence. */
    @Override
    public void reset() {
        length = 0;
        patchLength = 0;
        closedPatches = 0;
        lastClosed = false;
        prevH = 0f;
        perByte.start(state);
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
        long activationsPerByte = Math.max(1, MemoryEstimate.of(model.config, model.layout, 1, 4096).activations() / 4096);
        return (int) Math.max(256, Math.min(PRIME_MAX, free / 2 / activationsPerByte));
    }

    /**
     * Resets and feeds {@code bytes[from..to)}, as {@link #feed} byte by byte would, but through
     * one full forward pass over them (batched matmuls, the parallel scan): a prompt then costs
     * about what a training forward over it costs, not one decoder step per byte. The recurrent
     * states, the global keys and values, the patch state and the decoder's context are read from
     * that pass. Returns the logits for the next byte (a live view), or null when nothing was fed.
     */
    @Override
    public float[] prime(int[] bytes, int from, int to) {
        reset();
        int n = Math.min(to - from, primeLimit());
        if (n < 2 || perByte.boundariesForced()) {
            float[] logits = null;
            for (int i = from; i < to; i++) {
                logits = feed(bytes[i]);
            }
            return logits;
        }
        int[] x = java.util.Arrays.copyOfRange(bytes, from, from + n), y = new int[n];
        java.util.Arrays.fill(y, -1);
        model.forward(x, y, 1, n);
        perByte.fromForward(state, n);
        int last = n - 1;
        int[] ends = model.lastBoundaries();
        int lastEnd = -1;
        for (int t = last; t >= 0 && lastEnd < 0; t--) {
            if (ends[t] != 0) {
                lastEnd = t;
            }
        }
        closedPatches = model.lastPatchCount();
        lastClosed = ends[last] != 0;
        patchLength = last - lastEnd;
        prevH = model.lastEntropies()[last];
        if (history.length < n) {
            history = java.util.Arrays.copyOf(history, Integer.highestOneBit(n) * 2);
        }
        System.arraycopy(x, 0, history, 0, n);
        length = n;
        float[] out = state.logits;
        for (int i = from + n; i < to; i++) {
            out = feed(bytes[i]);
        }
        return out;
    }

    /** Bytes fed since the last reset. */
    @Override
    public int length() {
        return length;
    }

    /** Patches closed since the last reset. */
    public int patches() {
        return state.caches.length > 0 ? state.caches[0].rows : closedPatches;
    }

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
    @Override
    public float[] feed(int b) {
        if (length == history.length) {
            history = java.util.Arrays.copyOf(history, history.length * 2);
        }
        history[length] = b;

        be.beginStep(LOCAL_STEP);
        perByte.input(state, history, length);
        perByte.entropyStep(state);
        perByte.encodeStep(state);
        be.toHost(state.hNext);
        be.endStep();

        // patch boundary, decided from bytes <= t
        patchLength++;
        boolean closes = perByte.patchEndsAt(length, b, state.hNext[0], prevH, patchLength);
        prevH = state.hNext[0];
        lastClosed = closes;
        if (closes) {
            patchLength = 0;
            closedPatches++;
            perByte.makeRoomForPatch(state);
            be.beginStep(PATCH_STEP);
            perByte.globalStep(state, history, length);
            be.endStep();
        }

        be.beginStep(DECODE_STEP);
        perByte.decodeStep(state);
        be.toHost(state.logits);
        be.endStep();
        length++;
        return state.logits;
    }
}
