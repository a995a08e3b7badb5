package io.ionllama.cli;

import io.ionllama.model.ModelConfig;
import picocli.CommandLine.Option;

/** {@code --size} and per-dimension overrides, shared by every command that builds a model. */
final class ModelOptions {

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
    @Option(names = "--ngrams", split = ",", description = "Hashed n-gram orders, e.g. 3,4,5 (empty string: none).")
    int[] ngrams;
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

    /** The named size with every given override applied, validated. */
    ModelConfig config() {
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
