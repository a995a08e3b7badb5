package io.ionllama.model;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The dimensions of the dense byte-level GPT ({@link DenseGpt}). The defaults are the seed's
 * (a 6-layer transformer with 8 heads over a 512-byte context, about 2.5M parameters); the width
 * and MLP width, which the seed leaves open, are chosen to land there: d 192 (head dim 24), SwiGLU
 * hidden 448 ({@link #defaultMlp}: 7/3 d, rounded to a multiple of 64), 2,533,824 parameters.
 *
 * <pre>
 *   dModel   width of the residual stream        layers, heads   depth and attention heads
 *   mlp      SwiGLU hidden width                  context         longest sequence (RoPE positions 0..context-1)
 * </pre>
 */
public record DenseConfig(int dModel, int layers, int heads, int mlp, int context) {

    public static DenseConfig defaults() {
        return new DenseConfig(192, 6, 8, defaultMlp(192), 512);
    }

    /**
     * The SwiGLU width when none is given: 7/3 of d rounded to a multiple of 64 (at least 64), so
     * a wider model keeps the seed's proportions (448 at d 192, 576 at d 256). SwiGLU's usual 8/3
     * would put the seed's defaults at 2.76M rather than about 2.5M.
     */
    public static int defaultMlp(int dModel) {
        return Math.max(64, (int) Math.round(7.0 * dModel / 3 / 64) * 64);
    }

    public int headDim() {
        return dModel / heads;
    }

    /** Checks the invariants the kernels rely on; throws with a one-line reason. */
    public DenseConfig validate() {
        require(dModel > 0 && mlp > 0, "widths must be positive");
        require(layers >= 1 && layers <= ModelConfig.MAX_LAYERS, "layers must be in 1.." + ModelConfig.MAX_LAYERS);
        require(heads > 0 && dModel % heads == 0, "d-model (" + dModel + ") must be a multiple of heads (" + heads + ")");
        require(headDim() % 2 == 0, "head dimension (" + headDim() + ") must be even for RoPE");
        require(context >= 2, "context must be >= 2 bytes");
        return this;
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    /** Flat key/value view, stored in checkpoints (under {@code model.}) and printed by {@code info}. */
    public Map<String, String> toMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("d_model", Integer.toString(dModel));
        m.put("layers", Integer.toString(layers));
        m.put("heads", Integer.toString(heads));
        m.put("mlp", Integer.toString(mlp));
        m.put("context", Integer.toString(context));
        return m;
    }

    /** Reads {@link #toMap}'s keys back (prefixed by {@code prefix}); throws on a missing or bad value. */
    public static DenseConfig fromMap(Map<String, String> m, String prefix) {
        return new DenseConfig(i(m, prefix + "d_model"), i(m, prefix + "layers"), i(m, prefix + "heads"), i(m, prefix + "mlp"),
                i(m, prefix + "context"));
    }

    private static int i(Map<String, String> m, String key) {
        String v = m.get(key);
        if (v == null) {
            throw new IllegalArgumentException("missing " + key);
        }
        return Integer.parseInt(v);
    }

    /**
     * The {@link ModelConfig} a {@link GlobalBlock} reads its sizes from (d_model, heads, the
     * SwiGLU width); the other fields are placeholders that no dense code reads.
     */
    ModelConfig blockConfig() {
        return new ModelConfig("dense", dModel, dModel, layers, heads, 0, 0, dModel, 0, new int[0], 1, mlp, mlp, context, 1, 1f);
    }

    public String describe() {
        return "dense d" + dModel + " x" + layers;
    }
}
