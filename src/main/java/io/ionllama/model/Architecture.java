package io.ionllama.model;

import io.ionllama.model.ParamLayout.Kind;

/**
 * The parameter tensors of ionLlama v12, in layout order. Matrices are stored [out, in] (the
 * kernels' matmul layout). Names are stable: checkpoints use them.
 *
 * <pre>
 *   embed.byte [256, dL]   embed.ngram [nN, buckets, dL]
 *   entropy.*             small causal IntegralLNN byte model with its own head
 *   enc.{i}.*             IntegralLNN layers at dL        enc.proj [dM, dL]  (W_p, pool at patch end)
 *                         or, with --patcher tokun:PATH,  tokun.proj [dM, dT] (a frozen tokun's latent per patch)
 *   global.{i}.*          pre-norm transformer blocks at dM        global.norm [dM]
 *   dec.start [dM]        dec.up [dL, dM]        dec.{i}.*  IntegralLNN layers at dL
 *   dec.norm [dL]         head [256, dL]
 * </pre>
 */
public final class Architecture {
    private Architecture() {}

    /** The trainable projection of a frozen tokun's patch latents to the global width (--patcher tokun:PATH). */
    public static final String TOKUN_PROJ = "tokun.proj";

    public static ParamLayout layout(ModelConfig c) {
        return layout(c, 0);
    }

    /**
     * The layout with {@code tokunDim} > 0: patch vectors are a frozen tokun's latents of width
     * {@code tokunDim} (--patcher tokun:PATH), projected by {@code tokun.proj} in place of
     * {@code enc.proj}. The tokun's own weights are not parameters of this model: it never
     * trains them ({@link IonLlama#patchEncoder}).
     */
    public static ParamLayout layout(ModelConfig c, int tokunDim) {
        ParamLayout p = new ParamLayout();
        p.add("embed.byte", Kind.EMBEDDING, ModelConfig.VOCAB, c.dLocal());
        if (c.ngrams().length > 0) {
            p.add("embed.ngram", Kind.EMBEDDING, c.ngrams().length, c.buckets(), c.dLocal());
        }

        p.add("entropy.embed", Kind.EMBEDDING, ModelConfig.VOCAB, c.dEntropy());
        for (int i = 0; i < c.nEntropy(); i++) {
            integralLayer(p, "entropy." + i, c.dEntropy(), 2 * c.dEntropy());
        }
        p.add("entropy.norm", Kind.VECTOR, c.dEntropy());
        p.add("entropy.head", Kind.MATRIX, ModelConfig.VOCAB, c.dEntropy());

        for (int i = 0; i < c.nEnc(); i++) {
            integralLayer(p, "enc." + i, c.dLocal(), c.localMlp());
        }
        if (tokunDim > 0) {
            p.add(TOKUN_PROJ, Kind.MATRIX, c.dModel(), tokunDim);
        } else {
            p.add("enc.proj", Kind.MATRIX, c.dModel(), c.dLocal());
        }

        for (int i = 0; i < c.layers(); i++) {
            transformerBlock(p, "global." + i, c.dModel(), c.globalMlp());
        }
        p.add("global.norm", Kind.VECTOR, c.dModel());

        p.add("dec.start", Kind.VECTOR, c.dModel());
        p.add("dec.up", Kind.MATRIX, c.dLocal(), c.dModel());
        for (int i = 0; i < c.nDec(); i++) {
            integralLayer(p, "dec." + i, c.dLocal(), c.localMlp());
        }
        p.add("dec.norm", Kind.VECTOR, c.dLocal());
        p.add("head", Kind.MATRIX, ModelConfig.VOCAB, c.dLocal());
        return p;
    }

    /**
     * The parameter tensors of the dense byte-level GPT ({@link DenseGpt}), in layout order:
     *
     * <pre>
     *   embed.byte [256, d]    block.{i}.*  pre-norm transformer blocks (as global.{i}.* above)
     *   norm [d]               head [256, d]  (untied from the embedding)
     * </pre>
     */
    public static ParamLayout dense(DenseConfig c) {
        ParamLayout p = new ParamLayout();
        p.add("embed.byte", Kind.EMBEDDING, ModelConfig.VOCAB, c.dModel());
        for (int i = 0; i < c.layers(); i++) {
            transformerBlock(p, "block." + i, c.dModel(), c.mlp());
        }
        p.add("norm", Kind.VECTOR, c.dModel());
        p.add("head", Kind.MATRIX, ModelConfig.VOCAB, c.dModel());
        return p;
    }

    /**
     * The parameter tensors of the context-vector RNN ({@link ContextRnn}), in layout order
     * ({@link RnnConfig#layout}):
     *
     * <pre>
     *   embed [256, dE]    layer.{l}.in_x [dH, dIn]  in_c [dH, dC]  in_b [dH]  gates [3dC, dH]  gates_b [3dC]
     *                      norm_w [dC]  norm_b [dC]        head [256, dH]  head_b [256]
     * </pre>
     */
    public static ParamLayout rnn(RnnConfig c) {
        return c.layout();
    }

    /** One pre-norm transformer block ({@link GlobalBlock}): norm1, W_q, W_k, W_v, W_o, norm2, SwiGLU. */
    static void transformerBlock(ParamLayout p, String b, int d, int mlp) {
        p.add(b + ".norm1", Kind.VECTOR, d);
        p.add(b + ".wq", Kind.MATRIX, d, d);
        p.add(b + ".wk", Kind.MATRIX, d, d);
        p.add(b + ".wv", Kind.MATRIX, d, d);
        p.add(b + ".wo", Kind.MATRIX, d, d);
        p.add(b + ".norm2", Kind.VECTOR, d);
        swiglu(p, b, d, mlp);
    }

    /**
     * One IntegralLNN layer (docs/architecture.md, section 3.4): n = RMSNorm(x); Δ = softplus(W_Δ n + b_Δ);
     * a = exp(-Δ·exp(λ)); u = W_u n; h = a⊙h + (1-a)⊙u; y = x + W_o(RMSNorm(h) ⊙ silu(W_g n));
     * out = y + MLP(RMSNorm(y)).
     */
    static void integralLayer(ParamLayout p, String b, int d, int mlp) {
        p.add(b + ".norm1", Kind.VECTOR, d);
        p.add(b + ".w_delta", Kind.MATRIX, d, d);
        p.add(b + ".b_delta", Kind.VECTOR, d);
        p.add(b + ".lambda", Kind.VECTOR, d);
        p.add(b + ".w_u", Kind.MATRIX, d, d);
        p.add(b + ".w_g", Kind.MATRIX, d, d);
        p.add(b + ".norm_h", Kind.VECTOR, d);
        p.add(b + ".w_o", Kind.MATRIX, d, d);
        p.add(b + ".norm2", Kind.VECTOR, d);
        swiglu(p, b, d, mlp);
    }

    static void swiglu(ParamLayout p, String b, int d, int hidden) {
        p.add(b + ".mlp.w_gate", Kind.MATRIX, hidden, d);
        p.add(b + ".mlp.w_up", Kind.MATRIX, hidden, d);
        p.add(b + ".mlp.w_down", Kind.MATRIX, d, hidden);
    }
}
