package io.ionllama.model;

import io.ionllama.kernels.Losses;

/**
 * Bytes a training step holds: parameters, gradients and two AdamW moments (4 floats per
 * parameter), plus the activations saved for the backward pass. The activation count follows the
 * buffers the forward pass keeps per byte (local layers, entropy model, head) and per patch
 * (global blocks, attention probabilities over w + log2 P slots; a quarter more patches than the
 * target length gives, the buffers' headroom), and the scan's gradients, which
 * the backward keeps at each layer's offset (IntegralLayer.Scratch).
 */
public record MemoryEstimate(long optimizerState, long activations) {

    public long total() {
        return optimizerState + activations;
    }

    public static MemoryEstimate of(ModelConfig c, ParamLayout layout, int batch, int seqLen) {
        long state = 4L * Float.BYTES * layout.total();
        long positions = (long) batch * seqLen;
        long patches = (long) Math.ceil(positions / (double) c.targetPatch());
        patches += patches / 4; // the patch buffers' headroom (GlobalBlock.grown)
        long localLayers = c.nEnc() + c.nDec();
        long perByte = localLayers * (14L * c.dLocal() + 3L * c.localMlp())
                + c.nEntropy() * (14L * c.dEntropy() + 6L * c.dEntropy())
                + 2L * ModelConfig.VOCAB * 2 + 6L * c.dLocal() + 2L * c.dEntropy()
                + 3L * Math.max(c.nEnc(), c.nDec()) * c.dLocal() + 3L * c.nEntropy() * c.dEntropy();
        int slots = c.window() + 32 - Integer.numberOfLeadingZeros(Math.max(1, seqLen));
        long perPatch = c.layers() * (12L * c.dModel() + 3L * c.globalMlp() + (long) c.heads() * slots) + 4L * c.dModel();
        long floats = positions * perByte + patches * perPatch;
        return new MemoryEstimate(state, floats * Float.BYTES);
    }

    /**
     * The dense model's step ({@link DenseGpt}): per byte and block, the activations a
     * {@link GlobalBlock} saves (x, n1, q, k, v, q and k after RoPE, o, x2, n2: 10 d; two rstd;
     * g, u, s of the SwiGLU: 3 mlp) and the backward's scratch (9 d + 3 mlp, once), the causal
     * attention weights (heads · seqLen per byte and block), and the embedding, norm, head and
     * loss buffers (7 d + 4 · 256).
     */
    public static MemoryEstimate ofDense(DenseConfig c, ParamLayout layout, int batch, int seqLen) {
        long state = 4L * Float.BYTES * layout.total();
        long positions = (long) batch * seqLen;
        long d = c.dModel(), mlp = c.mlp();
        long perByte = c.layers() * (10 * d + 2 + 3 * mlp + (long) c.heads() * seqLen) + 9 * d + 3 * mlp + 7 * d
                + 4L * ModelConfig.VOCAB;
        return new MemoryEstimate(state, positions * perByte * Float.BYTES);
    }

    /**
     * The frozen tokun of a tokun patcher ({@link TokunPatches}): its weights and the gradient
     * array every {@link FlatModel} holds (no moments: nothing trains it), and the buffers
     * {@code Tokun.encode} allocates for the bytes of a batch's closed patches (at most
     * {@code batch·seqLen} = n): {@code Tokun}'s own (per stage s of r_s = n / ∏_{k<s} g_k rows the
     * encoder's input and its gradient, stage S's too, and six more of r_s·d for the decoder side;
     * per byte the norm, its gradient and rstd, logits, probabilities and their gradient, the loss,
     * the bytes, targets and argmax), each encoder block's ({@code TokunBlock}: 19 r_s·d, 2 r_s rstd,
     * 6 r_s·mlp and r_s·heads·g_s attention weights), and the patcher's copy of the closed patches'
     * bytes with the patch buffers' quarter of headroom.
     */
    public static MemoryEstimate ofTokunPatcher(TokunConfig t, long tokunParams, int batch, int seqLen) {
        long n = (long) batch * seqLen, d = t.dim(), rows = n, floats = 0;
        for (int s = 0; s < t.stages(); s++) {
            floats += 8 * rows * d + 19 * rows * d + 2 * rows + 6 * rows * t.mlp() + rows * t.heads() * t.groups()[s];
            rows /= t.groups()[s];
        }
        floats += 2 * rows * d + n * (2L * d + 1 + 3L * ModelConfig.VOCAB + 1 + 3) + Losses.STATS;
        floats += n + n / 4;
        return new MemoryEstimate(2L * Float.BYTES * tokunParams, floats * Float.BYTES);
    }

    /**
     * The context-vector RNN's step ({@link ContextRnn}): per byte and layer the saved pre, h (2 dH),
     * z (3 dC), p (dC), c (2 dC, the buffer's headroom for a larger batch) and the norm's mean and
     * rstd (2); once per byte the embedding and its gradient (2 dE), the step and backward scratch
     * (2 max(dE, dH) + dH + 6 dC) and the logits, probabilities and their gradient (4 · 256, the
     * batch-major copy included), the loss, bytes, targets and argmax (4).
     */
    public static MemoryEstimate ofRnn(RnnConfig c, ParamLayout layout, int batch, int seqLen) {
        long state = 4L * Float.BYTES * layout.total();
        long positions = (long) batch * seqLen;
        long dE = c.dEmbed(), dH = c.dHidden(), dC = c.dContext();
        long perByte = c.layers() * (2 * dH + 6 * dC + 2) + 2 * dE + 2 * Math.max(dE, dH) + dH + 6 * dC
                + 4L * ModelConfig.VOCAB + 4;
        return new MemoryEstimate(state, positions * perByte * Float.BYTES);
    }
}
