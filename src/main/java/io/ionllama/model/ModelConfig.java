package io.ionllama.model;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Every dimension of an ionLlama v12 model. The named sizes follow the seed table's parameter
 * counts (docs/architecture.md, section 3.9); every field can be overridden on the command line.
 *
 * <pre>
 *   dLocal   width of the byte-level parts (embeddings, IntegralLNN encoder and decoder, head)
 *   dModel   width of the global transformer over patches; layers/heads are its depth and heads
 *   nEnc/nDec IntegralLNN layers before and after the global transformer
 *   dEntropy/nEntropy  the small causal entropy model that places patch boundaries
 *   ngrams, buckets    hashed n-gram embedding orders and table size (BLT)
 *   localMlp, globalMlp  SwiGLU hidden widths
 *   window   dense local attention window in patches; the rest is dilated (i - 2^m)
 * </pre>
 */
public record ModelConfig(
        String size,
        int dLocal,
        int dModel,
        int layers,
        int heads,
        int nEnc,
        int nDec,
        int dEntropy,
        int nEntropy,
        int[] ngrams,
        int buckets,
        int localMlp,
        int globalMlp,
        int window,
        int maxPatch,
        float targetPatch) {

    public static final int VOCAB = 256;

    /** The named sizes, smallest first. */
    public static final String[] SIZES = {"nano", "tiny", "small", "base", "large", "xl"};

    /** Parameter counts the seed table promises (nano is ours: small enough for tests). */
    public static long nominalParams(String size) {
        return switch (size) {
            case "nano" -> 1_000_000L;
            case "tiny" -> 10_000_000L;
            case "small" -> 50_000_000L;
            case "base" -> 200_000_000L;
            case "large" -> 800_000_000L;
            case "xl" -> 2_000_000_000L;
            default -> throw new IllegalArgumentException("unknown size '" + size + "' (expected one of nano, tiny, small, base, large, xl)");
        };
    }

    public static ModelConfig of(String size) {
        int[] ng = {3, 4, 5};
        return switch (size.toLowerCase(Locale.ROOT)) {
            //                      dLoc dMod L   H  enc dec dEnt nEnt ngrams buckets    lMlp  gMlp  w  maxP tgt
            case "nano" -> new ModelConfig("nano", 96, 128, 2, 4, 1, 1, 64, 1, ng, 1024, 256, 384, 8, 16, 4f);
            case "tiny" -> new ModelConfig("tiny", 256, 256, 4, 4, 2, 2, 128, 2, ng, 4096, 768, 768, 8, 16, 4f);
            case "small" -> new ModelConfig("small", 512, 512, 8, 8, 2, 2, 128, 2, ng, 8192, 1536, 1536, 8, 16, 4f);
            case "base" -> new ModelConfig("base", 768, 768, 12, 12, 3, 3, 128, 2, ng, 16384, 3072, 3072, 8, 16, 4f);
            case "large" -> new ModelConfig("large", 1024, 1024, 24, 16, 4, 4, 256, 2, ng, 65536, 4096, 4096, 8, 16, 4f);
            case "xl" -> new ModelConfig("xl", 1024, 2048, 32, 32, 4, 4, 256, 2, ng, 65536, 4096, 6144, 8, 16, 4f);
            default -> throw new IllegalArgumentException("unknown size '" + size + "' (expected one of nano, tiny, small, base, large, xl)");
        };
    }

    public int headDim() {
        return dModel / heads;
    }

    /** Checks the invariants the kernels rely on; throws with a one-line reason. */
    public ModelConfig validate() {
        require(dLocal > 0 && dModel > 0 && dEntropy > 0, "widths must be positive");
        require(layers >= 0 && nEnc >= 0 && nDec >= 0 && nEntropy >= 0, "layer counts must be >= 0");
        // Also bounds what a damaged checkpoint can ask for: the layout has a few tensors per layer.
        require(layers <= MAX_LAYERS && nEnc <= MAX_LAYERS && nDec <= MAX_LAYERS && nEntropy <= MAX_LAYERS,
                "layer counts must be at most " + MAX_LAYERS);
        require(heads > 0 && dModel % heads == 0, "d-model (" + dModel + ") must be a multiple of heads (" + heads + ")");
        require(headDim() % 2 == 0, "head dimension (" + headDim() + ") must be even for RoPE");
        require(buckets > 0 || ngrams.length == 0, "buckets must be positive");
        for (int n : ngrams) {
            require(n >= 2 && n <= 8, "n-gram orders must be in 2..8, got " + n);
        }
        require(localMlp > 0 && globalMlp > 0, "MLP widths must be positive");
        require(window >= 1, "window must be >= 1");
        require(maxPatch >= 1 && maxPatch <= 256, "max-patch must be in 1..256");
        require(targetPatch >= 1 && targetPatch <= maxPatch, "target-patch must be in 1..max-patch");
        return this;
    }

    /** The most layers a stack may have (the CLI's bound too). */
    public static final int MAX_LAYERS = 512;

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    /** Flat key/value view, stored in checkpoints and printed by {@code info}. */
    public Map<String, String> toMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("size", size);
        m.put("d_local", Integer.toString(dLocal));
        m.put("d_model", Integer.toString(dModel));
        m.put("layers", Integer.toString(layers));
        m.put("heads", Integer.toString(heads));
        m.put("n_enc", Integer.toString(nEnc));
        m.put("n_dec", Integer.toString(nDec));
        m.put("d_entropy", Integer.toString(dEntropy));
        m.put("n_entropy", Integer.toString(nEntropy));
        StringBuilder ng = new StringBuilder();
        for (int n : ngrams) {
            ng.append(ng.isEmpty() ? "" : ",").append(n);
        }
        m.put("ngrams", ng.toString());
        m.put("buckets", Integer.toString(buckets));
        m.put("local_mlp", Integer.toString(localMlp));
        m.put("global_mlp", Integer.toString(globalMlp));
        m.put("window", Integer.toString(window));
        m.put("max_patch", Integer.toString(maxPatch));
        m.put("target_patch", Float.toString(targetPatch));
        return m;
    }

    public ModelConfig withDims(int dLocal, int dModel, int layers, int heads) {
        return new ModelConfig(size, dLocal, dModel, layers, heads, nEnc, nDec, dEntropy, nEntropy, ngrams, buckets,
                localMlp, globalMlp, window, maxPatch, targetPatch);
    }
}
