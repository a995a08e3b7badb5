package io.ionllama.model;

import io.ionllama.backend.Backend;
import java.util.Map;

/**
 * What training, evaluation, checkpoints, generation and the benchmarks need of a byte-level
 * model, so they work with any of them ({@link IonLlama}, {@link DenseGpt}) without asking which:
 * one flat parameter array and its gradient laid out by a {@link ParamLayout}, a forward pass with
 * its loss, a backward that accumulates into the gradients, and an incremental {@link Decoder}.
 */
public interface ByteModel {

    /** What a forward pass measured; {@code entropyLoss} and {@code patches} are 0 for a model without them. */
    interface Result {
        float loss();

        float entropyLoss();

        long patches();

        long bytes();

        int correct();
    }

    /**
     * Feeds bytes one at a time and returns the logits for the next, keeping what the model needs
     * (recurrent states, keys and values) so a byte does not re-run the context. The logits equal
     * those of a full forward pass over the bytes since the last {@link #reset}/{@link #prime}.
     */
    interface Decoder {
        /** Forgets everything: the next byte is the first of a new sequence. */
        void reset();

        /** Resets and feeds {@code bytes[from..to)} (in one forward pass where it can); the next byte's logits, or null if none was fed. */
        float[] prime(int[] bytes, int from, int to);

        /** Feeds byte {@code b} (0..255); returns the logits for the next byte (a live 256-float view). */
        float[] feed(int b);

        /** Bytes fed since the last reset. */
        int length();
    }

    /** The architecture's name, as {@code --model} spells it and checkpoints record it ({@code model}). */
    String kind();

    /** A short description for logs and plots, e.g. "nano" or "dense d192 x6". */
    String describe();

    /** The dimensions, as checkpoints store them (under {@code model.}) and {@code info} prints them. */
    Map<String, String> configMap();

    ParamLayout layout();

    float[] params();

    float[] grads();

    Backend backend();

    /** Deterministic initialisation from {@code seed}. */
    void init(long seed);

    /**
     * Forward pass over {@code B} sequences of {@code T} bytes: {@code bytes[b*T + t]} predicts
     * {@code targets[b*T + t]} (negative targets are ignored).
     */
    Result forward(int[] bytes, int[] targets, int B, int T);

    /** Accumulates d(objective)/d(params) of the last forward pass into {@link #grads}, times {@code scale}. */
    void backward(float scale);

    /** The objective of the last forward pass, summed in double (what {@link #backward} differentiates). */
    double objective();

    /** Logits of the last forward pass, [B·T, 256] (a live view: copy before the next forward). */
    float[] logits();

    /** The longest sequence a forward pass or a decoder may hold (unbounded unless the model has positions to run out of). */
    default int maxContext() {
        return Integer.MAX_VALUE;
    }

    /** A new incremental decoder that will hold at most {@code window} bytes between resets. */
    Decoder decoder(int window);

    /** The patcher, for a model that patches (training's entropy warm-up and calibration); null otherwise. */
    default Patcher patcher() {
        return null;
    }

    /** Fixed patches of this length during the entropy warm-up (0: off); nothing for a model that does not patch. */
    default void setWarmupFixed(int length) {}

    /** While on (training), a patching model recalibrates its threshold on each batch. */
    default void setCalibrating(boolean on) {}

    /** Training state beyond the parameters that checkpoints record (the patch threshold), as metadata. */
    default Map<String, String> stateMeta() {
        return Map.of();
    }

    /** Restores what {@link #stateMeta} recorded, from a checkpoint's metadata. */
    default void restoreState(Map<String, String> meta) {}

    /**
     * Models this one carries but never trains, by the prefix their tensors take in a checkpoint
     * (ionLlama's tokun patch encoder): their weights are in neither {@link #params} nor
     * {@link #grads}, so no optimizer sees them, and checkpoints store them so the file stands
     * alone. Empty for most models.
     */
    default Map<String, ByteModel> frozenParts() {
        return Map.of();
    }

    /**
     * Dropout of rate {@code p} on the residual branches for the following forward and backward
     * passes (0: off), masks drawn from {@code seed}; training turns it on for a step and off after.
     * A model without residual branches refuses a rate above 0.
     */
    default void setDropout(float p, int seed) {
        if (p != 0) {
            throw new UnsupportedOperationException(kind() + " has no residual branches to drop");
        }
    }

    /** Stages of a step, for the benchmark's time breakdown ({@link #stageNanos}). */
    String[] stages();

    /** Nanoseconds spent per stage since the last {@link #resetTimers}. */
    long[] stageNanos();

    void resetTimers();
}
