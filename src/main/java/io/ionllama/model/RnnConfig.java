package io.ionllama.model;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Sizes of the context-vector RNN ({@link ContextRnn}): byte embedding width, FNN (hidden) width,
 * context width, and the number of stacked recurrent layers (1 to 12, the range seed 003 scales over).
 *
 * <p>The defaults ({@link #defaults}) are the seed's size: its repository's embedding width 256,
 * a context vector at the low end of its "256-512 dims", FNN width 512 and 3 layers (its base
 * configuration's depth), 2,430,464 parameters: about the seed's 2.7M baseline and the dense
 * model's 2.5M, so the three models of the tool compare at one size.
 */
public record RnnConfig(int dEmbed, int dHidden, int dContext, int layers) {

    public static final int MAX_LAYERS = 12;

    /** d_embed 256, d_hidden 512, d_context 256, 3 layers (2,430,464 parameters). */
    public static RnnConfig defaults() {
        return new RnnConfig(256, 512, 256, 3);
    }

    /** Flat key/value view, stored in checkpoints (under {@code model.}) and printed by {@code info}. */
    public Map<String, String> toMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("d_embed", Integer.toString(dEmbed));
        m.put("d_hidden", Integer.toString(dHidden));
        m.put("d_context", Integer.toString(dContext));
        m.put("layers", Integer.toString(layers));
        return m;
    }

    /** Reads {@link #toMap}'s keys back (prefixed by {@code prefix}); throws on a missing or bad value. */
    public static RnnConfig fromMap(Map<String, String> m, String prefix) {
        return new RnnConfig(i(m, prefix + "d_embed"), i(m, prefix + "d_hidden"), i(m, prefix + "d_context"),
                i(m, prefix + "layers"));
    }

    private static int i(Map<String, String> m, String key) {
        String v = m.get(key);
        if (v == null) {
            throw new IllegalArgumentException("missing " + key);
        }
        return Integer.parseInt(v);
    }

    /** e.g. "rnn e256 h512 c256 x3". */
    public String describe() {
        return "rnn e" + dEmbed + " h" + dHidden + " c" + dContext + " x" + layers;
    }

    public RnnConfig validate() {
        if (dEmbed < 1 || dHidden < 1 || dContext < 1) {
            throw new IllegalArgumentException("rnn widths must be positive: d_embed " + dEmbed + ", d_hidden "
                    + dHidden + ", d_context " + dContext);
        }
        if (layers < 1 || layers > MAX_LAYERS) {
            throw new IllegalArgumentException("rnn layers must be 1.." + MAX_LAYERS + ", got " + layers);
        }
        return this;
    }

    /** Input width of layer {@code l}: the byte embedding for layer 0, the hidden of the layer below otherwise. */
    public int dIn(int l) {
        return l == 0 ? dEmbed : dHidden;
    }

    /**
     * The parameter layout, in this order: {@code embed [256, dE]}; per layer l
     * {@code layer.l.in_x [dH, dIn]}, {@code layer.l.in_c [dH, dC]}, {@code layer.l.in_b [dH]},
     * {@code layer.l.gates [3dC, dH]} (rows f, then i, then g), {@code layer.l.gates_b [3dC]},
     * {@code layer.l.norm_w [dC]}, {@code layer.l.norm_b [dC]}; then {@code head [256, dH]},
     * {@code head_b [256]}.
     */
    public ParamLayout layout() {
        validate();
        ParamLayout p = new ParamLayout();
        p.add("embed", ParamLayout.Kind.EMBEDDING, 256, dEmbed);
        for (int l = 0; l < layers; l++) {
            String n = "layer." + l + ".";
            p.add(n + "in_x", ParamLayout.Kind.MATRIX, dHidden, dIn(l));
            p.add(n + "in_c", ParamLayout.Kind.MATRIX, dHidden, dContext);
            p.add(n + "in_b", ParamLayout.Kind.VECTOR, dHidden);
            p.add(n + "gates", ParamLayout.Kind.MATRIX, 3 * dContext, dHidden);
            p.add(n + "gates_b", ParamLayout.Kind.VECTOR, 3 * dContext);
            p.add(n + "norm_w", ParamLayout.Kind.VECTOR, dContext);
            p.add(n + "norm_b", ParamLayout.Kind.VECTOR, dContext);
        }
        p.add("head", ParamLayout.Kind.MATRIX, 256, dHidden);
        p.add("head_b", ParamLayout.Kind.VECTOR, 256);
        return p;
    }

    /** Multiply-adds of the forward pass per byte: every matmul, as if every step ran all of them. */
    public double macsPerByte() {
        double macs = 256.0 * dHidden;
        for (int l = 0; l < layers; l++) {
            macs += (double) dHidden * (dIn(l) + dContext) + 3.0 * dContext * dHidden;
        }
        return macs;
    }

    /**
     * Model FLOPs of one training step (forward + backward) per byte, counted as {@link StepFlops}
     * counts them: each matmul 2 FLOPs per multiply-add forward, 4 backward (dx and dW) = 6 · MACs.
     * Not counted: the embedding, the gates, GELU, LayerNorm, softmax and the loss (elementwise).
     * The first step of a sequence skips the c_{-1} = 0 products; that is not subtracted (under
     * 1/T of that term).
     */
    public double flopsPerByte() {
        return 6 * macsPerByte();
    }
}
