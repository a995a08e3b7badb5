package io.ionllama.model;

import io.ionllama.kernels.Attention;

/**
 * Model FLOPs of one training step (forward + backward), counted analytically, for the
 * GFLOP/s the benchmarks report. Counted: every matmul and the attention products; not counted:
 * norms, activations, the scan, embeddings, softmax and the loss (elementwise, O(rows * d)).
 *
 * <pre>
 *   matmul rows x in -> out:   forward 2 rows in out, backward 4 rows in out (dx and dW)
 *                               => 6 rows in out per step
 *   per byte (N = B T rows):    entropy  nE (4 dE^2 + 3 dE (2 dE)) + 256 dE
 *                               local    (nEnc + nDec) (4 dL^2 + 3 dL mlpL) + 256 dL
 *   per patch (R rows):         global   L (4 dM^2 + 3 dM mlpG) + dL dM (W_p) + dM dL (W_up, R + 1 rows)
 *   attention, per query i, head and key read (k_i keys: min(i+1, w) plus the dilated
 *   offsets 2^m <= i, or i+1 dense):  forward 4 hd (q.k, p v), backward 8 hd (dp = dout.v,
 *   dq = ds k, dk = ds q, dv = p dout)  => 12 hd, the model's products only: FLOPs an
 *   implementation adds (the scalar units' second dout.v, the Vector API path's recomputed
 *   scores) are not counted (sessions before 11 counted 14 hd)
 * </pre>
 *
 * The entropy model trains on its own loss, so its backward is counted like the rest. With a
 * tokun patcher ({@code --patcher tokun:PATH}) the patch vector is the frozen tokun's latent
 * through the trainable {@code tokun.proj} (dT dM per patch, in place of W_p's dL dM), and the
 * tokun's encoder runs forward only over every byte ({@link #tokunEncoderForward}).
 */
public final class StepFlops {
    private StepFlops() {}

    /** FLOPs per key read, query and head, in units of the head dimension: 4 forward + 8 backward. */
    public static final double ATTENTION_PER_KEY = 12.0;

    /**
     * FLOPs of one step over {@code bytes} rows whose sequences have {@code patches[b]} closed
     * patches each.
     */
    public static double perStep(ModelConfig c, long bytes, int[] patches, boolean dense) {
        return perStep(c, bytes, patches, dense, null);
    }

    /** As {@link #perStep(ModelConfig, long, int[], boolean)}, for a model whose patch vectors come from the frozen {@code tokun} (null: pooled). */
    public static double perStep(ModelConfig c, long bytes, int[] patches, boolean dense, TokunConfig tokun) {
        double dE = c.dEntropy(), dL = c.dLocal(), dM = c.dModel();
        double perByte = c.nEntropy() * (4 * dE * dE + 3 * dE * 2 * dE) + 256 * dE
                + (c.nEnc() + c.nDec()) * (4 * dL * dL + 3 * dL * c.localMlp()) + 256 * dL;
        double patchIn = tokun != null ? tokun.dim() : dL;
        double perPatch = c.layers() * (4 * dM * dM + 3 * dM * c.globalMlp()) + patchIn * dM + dM * dL;
        long rows = 0;
        double keys = 0;
        for (int P : patches) {
            rows += P;
            keys += keysRead(P, c.window(), dense);
        }
        double macs = perByte * bytes + perPatch * rows + dM * dL; // + the start row of W_up
        double frozen = tokun != null ? tokunEncoderForward(tokun, bytes) : 0;
        return 6 * macs + ATTENTION_PER_KEY * c.headDim() * c.heads() * c.layers() * keys + frozen;
    }

    /**
     * FLOPs of a tokun's encoder forward over {@code bytes} bytes (2 per multiply-add; no backward:
     * a patch encoder is frozen). Stage s sees rows_s = bytes / (G_0 ... G_{s-1}) rows: its block's
     * q, k, v, o and SwiGLU (4 d^2 + 3 d mlp per row), attention inside each group of G_s rows
     * (every row reads G_s keys: 4 d for q.k and p.v over all heads), then the merge of each group's
     * G_s d values into d.
     */
    public static double tokunEncoderForward(TokunConfig t, long bytes) {
        double d = t.dim(), rows = bytes, flops = 0;
        for (int G : t.groups()) {
            flops += 2 * rows * (4 * d * d + 3 * d * t.mlp()) + rows * G * 4 * d;
            rows /= G;
            flops += 2 * rows * (G * d) * d;
        }
        return flops;
    }

    /**
     * FLOPs of one step of the dense model ({@link DenseGpt}) over {@code batch} sequences of
     * {@code seqLen} bytes: per byte L (4 d^2 + 3 d mlp) + 256 d multiply-adds (blocks, head),
     * and every query reads all keys up to its own position (seqLen (seqLen + 1) / 2 per
     * sequence, head and layer), counted as for ionLlama.
     */
    public static double perStepDense(DenseConfig c, int batch, int seqLen) {
        double d = c.dModel();
        double perByte = c.layers() * (4 * d * d + 3 * d * c.mlp()) + 256 * d;
        double keys = (double) batch * keysRead(seqLen, 0, true);
        return 6 * perByte * batch * seqLen + ATTENTION_PER_KEY * c.headDim() * c.heads() * c.layers() * keys;
    }

    /**
     * FLOPs of one step of the context-vector RNN ({@link ContextRnn}) over {@code bytes} bytes:
     * 6 · its matmul multiply-adds per byte ({@link RnnConfig#flopsPerByte}); no attention.
     */
    public static double perStepRnn(RnnConfig c, long bytes) {
        return c.flopsPerByte() * bytes;
    }

    /** Keys read by all queries 0..P-1 of one sequence. */
    public static double keysRead(int P, int window, boolean dense) {
        if (dense) {
            return (double) P * (P + 1) / 2;
        }
        double keys = 0;
        for (int i = 0; i < P; i++) {
            keys += Math.min(i + 1, window);
            for (long off = Attention.firstDilatedOffset(window); off <= i; off *= 2) {
                keys++;
            }
        }
        return keys;
    }
}
