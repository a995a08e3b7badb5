package io.ionllama.cli;

import io.ionllama.model.DenseConfig;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.RnnConfig;
import picocli.CommandLine.Option;

/**
 * {@code --model}, {@code --size} and per-dimension overrides, shared by every command that builds
 * a model. The dense model ({@code --model dense}) reads --d-model, --layers, --heads, --mlp and
 * --context over the seed's defaults ({@link DenseConfig#defaults}); --size and the
 * ionLlama-only dimensions do not apply to it. The context-vector RNN ({@code --model rnn}) reads
 * --d-embed, --d-hidden, --d-context and --layers over {@link RnnConfig#defaults}; each model
 * refuses the others' dimensions.
 */
final class ModelOptions {

    @Option(names = "--model", defaultValue = "ionllama", description = "Architecture: ionllama, dense (the byte-level GPT baseline: RMSNorm, RoPE, dense causal attention, SwiGLU), or rnn (the context-vector RNN: no attention, memory that does not grow with length).")
    String architecture;

    @Option(names = "--size", defaultValue = "nano", description = "Model size: nano, tiny, small, base, large, xl.")
    String size;

    @Option(names = "--d-local", description = "Width of the byte-level layers.")
    Integer dLocal;
    @Option(names = "--d-model", description = "Width of the global transformer.")
    Integer dModel;
    @Option(names = "--layers", description = "Global transformer layers.")
    Integer layers;
    @Option(names = "--heads", description = "Attention heads.")
    Integer heads;
    @Option(names = "--n-enc", description = "IntegralLNN encoder layers.")
    Integer nEnc;
    @Option(names = "--n-dec", description = "IntegralLNN decoder layers.")
    Integer nDec;
    @Option(names = "--d-entropy", description = "Entropy model width.")
    Integer dEntropy;
    @Option(names = "--n-entropy", description = "Entropy model layers.")
    Integer nEntropy;
    /** Hashed n-gram orders; null when --ngrams is not given, empty for {@code --ngrams ''} (none). */
    int[] ngrams;
    /** A --ngrams value that is not a list of numbers, refused with the other bounds. */
    private String badNgrams;

    @Option(names = "--ngrams", paramLabel = "ORDERS", description = "Hashed n-gram orders, e.g. 3,4,5 (empty string: none).")
    void ngrams(String spec) {
        try {
            ngrams = CommaList.ints("--ngrams", spec, "3,4,5");
        } catch (Errors.UserError e) {
            ngrams = null;
            badNgrams = spec;
        }
    }
    @Option(names = "--buckets", description = "Buckets per n-gram table.")
    Integer buckets;
    @Option(names = "--local-mlp", description = "SwiGLU hidden width of byte-level layers.")
    Integer localMlp;
    @Option(names = "--global-mlp", description = "SwiGLU hidden width of global layers.")
    Integer globalMlp;
    @Option(names = "--window", description = "Dense attention window in patches (dilated beyond it).")
    Integer window;
    @Option(names = "--max-patch", description = "Longest patch in bytes.")
    Integer maxPatch;
    @Option(names = "--target-patch", description = "Mean patch length the entropy threshold is calibrated to.")
    Float targetPatch;
    @Option(names = "--mlp", description = "Dense model: SwiGLU hidden width (default 7/3 d-model rounded to 64: 448 at 192).")
    Integer mlp;
    @Option(names = "--context", description = "Dense model: context in bytes, the longest sequence it reads (default 512).")
    Integer context;

    @Option(names = "--d-embed", description = "RNN model: byte embedding width (default 256).")
    Integer dEmbed;
    @Option(names = "--d-hidden", description = "RNN model: FNN (hidden) width (default 512).")
    Integer dHidden;
    @Option(names = "--d-context", description = "RNN model: context vector width per layer (default 256).")
    Integer dContext;

    /** {@code --model} as checkpoints spell it (ionllama, dense or rnn); refuses an unknown architecture. */
    String kind() {
        return switch (architecture) {
            case "ionllama", "dense", "rnn" -> architecture;
            default -> throw new Errors.UserError("--model must be ionllama, dense or rnn (got '" + architecture + "')");
        };
    }

    /** Whether {@code --model} is dense; refuses an unknown architecture. */
    boolean dense() {
        return kind().equals("dense");
    }

    /** Whether {@code --model} is rnn; refuses an unknown architecture. */
    boolean rnn() {
        return kind().equals("rnn");
    }

    /** Refuses the context-vector RNN's dimensions for another model. */
    private void noRnnDimensions() {
        Object[][] rnnOnly = {{"--d-embed", dEmbed}, {"--d-hidden", dHidden}, {"--d-context", dContext}};
        for (Object[] o : rnnOnly) {
            if (o[1] != null) {
                throw new Errors.UserError(o[0] + " applies to --model rnn only");
            }
        }
    }

    /** The context-vector RNN's dimensions: {@link RnnConfig#defaults} with every given override, validated. */
    RnnConfig rnnConfig() {
        Object[][] others = {{"--d-local", dLocal}, {"--d-model", dModel}, {"--heads", heads}, {"--n-enc", nEnc},
            {"--n-dec", nDec}, {"--d-entropy", dEntropy}, {"--n-entropy", nEntropy}, {"--ngrams", ngrams},
            {"--buckets", buckets}, {"--local-mlp", localMlp}, {"--global-mlp", globalMlp}, {"--window", window},
            {"--max-patch", maxPatch}, {"--target-patch", targetPatch}, {"--mlp", mlp}, {"--context", context}};
        for (Object[] o : others) {
            if (o[1] != null) {
                throw new Errors.UserError(o[0] + " is not an rnn dimension; --model rnn takes --d-embed, --d-hidden, --d-context, --layers");
            }
        }
        bound("--d-embed", dEmbed, 1, Bounds.MAX_WIDTH);
        bound("--d-hidden", dHidden, 1, Bounds.MAX_WIDTH);
        bound("--d-context", dContext, 1, Bounds.MAX_WIDTH);
        bound("--layers", layers, 1, 12);
        RnnConfig b = RnnConfig.defaults();
        return new RnnConfig(or(dEmbed, b.dEmbed()), or(dHidden, b.dHidden()), or(dContext, b.dContext()),
                or(layers, b.layers())).validate();
    }

    /** The dense model's dimensions: the seed's defaults with every given override, validated. */
    DenseConfig denseConfig() {
        noRnnDimensions();
        Object[][] ionOnly = {{"--d-local", dLocal}, {"--n-enc", nEnc}, {"--n-dec", nDec}, {"--d-entropy", dEntropy},
            {"--n-entropy", nEntropy}, {"--ngrams", ngrams}, {"--buckets", buckets}, {"--local-mlp", localMlp},
            {"--global-mlp", globalMlp}, {"--window", window}, {"--max-patch", maxPatch}, {"--target-patch", targetPatch}};
        for (Object[] o : ionOnly) {
            if (o[1] != null) {
                throw new Errors.UserError(o[0] + " is an ionllama dimension; --model dense takes --d-model, --layers, --heads, --mlp, --context");
            }
        }
        checkBounds();
        bound("--mlp", mlp, 1, Bounds.MAX_MLP);
        bound("--context", context, 2, Bounds.MAX_SEQ_LEN);
        DenseConfig b = DenseConfig.defaults();
        int d = or(dModel, b.dModel());
        return new DenseConfig(d, or(layers, b.layers()), or(heads, b.heads()), or(mlp, DenseConfig.defaultMlp(d)),
                or(context, b.context())).validate();
    }

    /** The named size with every given override applied, validated. */
    ModelConfig config() {
        noRnnDimensions();
        if (mlp != null || context != null) {
            throw new Errors.UserError((mlp != null ? "--mlp" : "--context") + " applies to --model dense only");
        }
        checkBounds();
        ModelConfig b = ModelConfig.of(size);
        if (targetPatch != null) {
            Bounds.check("--target-patch", targetPatch, 1, or(maxPatch, b.maxPatch()));
        }
        return new ModelConfig(b.size(),
                or(dLocal, b.dLocal()), or(dModel, b.dModel()), or(layers, b.layers()), or(heads, b.heads()),
                or(nEnc, b.nEnc()), or(nDec, b.nDec()), or(dEntropy, b.dEntropy()), or(nEntropy, b.nEntropy()),
                ngrams != null ? ngrams : b.ngrams(), or(buckets, b.buckets()), or(localMlp, b.localMlp()),
                or(globalMlp, b.globalMlp()), or(window, b.window()), or(maxPatch, b.maxPatch()),
                targetPatch != null ? targetPatch : b.targetPatch()).validate();
    }

    /** Each given dimension within what the kernels and one Java array per tensor can hold. */
    private void checkBounds() {
        bound("--d-local", dLocal, 1, Bounds.MAX_WIDTH);
        bound("--d-model", dModel, 1, Bounds.MAX_WIDTH);
        // At least one global layer: with none, patches pass to the decoder untouched and the model is not ionLlama.
        bound("--layers", layers, 1, Bounds.MAX_LAYERS);
        bound("--heads", heads, 1, Bounds.MAX_HEADS);
        bound("--n-enc", nEnc, 0, Bounds.MAX_LAYERS);
        bound("--n-dec", nDec, 0, Bounds.MAX_LAYERS);
        bound("--d-entropy", dEntropy, 1, Bounds.MAX_WIDTH);
        bound("--n-entropy", nEntropy, 0, Bounds.MAX_LAYERS);
        bound("--buckets", buckets, 1, Bounds.MAX_BUCKETS);
        bound("--local-mlp", localMlp, 1, Bounds.MAX_MLP);
        bound("--global-mlp", globalMlp, 1, Bounds.MAX_MLP);
        bound("--window", window, 1, Bounds.MAX_SEQ_LEN);
        bound("--max-patch", maxPatch, 1, 256);
        if (badNgrams != null) {
            throw new Errors.UserError("--ngrams: '" + badNgrams + "' is not a list of orders (e.g. 3,4,5, or '' for none)");
        }
        if (ngrams != null) {
            for (int n : ngrams) {
                Bounds.check("--ngrams", n, 2, 8);
            }
        }
    }

    private static void bound(String flag, Integer v, int lo, int hi) {
        if (v != null) {
            Bounds.check(flag, v, lo, hi);
        }
    }

    private static int or(Integer v, int dflt) {
        return v != null ? v : dflt;
    }
}
