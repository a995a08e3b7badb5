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
 *   offsets 2^m <= i, or i+1 dense):  forward 4 hd (q.k, p v), backward 10 hd (dq pass:
 *   dout.v, ds k; dk/dv pass: dout.v, ds q, p dout)  => 14 hd
 * </pre>
 *
 * The entropy model trains on its own loss, so its backward is counted like the rest.
 */
public final class StepFlops {
    private StepFlops() {}

    /**
     * FLOPs of one step over {@code bytes} rows whose sequences have {@code patches[b]} closed
     * patches each.
     */
    public static double perStep(ModelConfig c, long bytes, int[] patches, boolean dense) {
        double dE = c.dEntropy(), dL = c.dLocal(), dM = c.dModel();
        double perByte = c.nEntropy() * (4 * dE * dE + 3 * dE * 2 * dE) + 256 * dE
                + (c.nEnc() + c.nDec()) * (4 * dL * dL + 3 * dL * c.localMlp()) + 256 * dL;
        double perPatch = c.layers() * (4 * dM * dM + 3 * dM * c.globalMlp()) + dL * dM + dM * dL;
        long rows = 0;
        double keys = 0;
        for (int P : patches) {
            rows += P;
            keys += keysRead(P, c.window(), dense);
        }
        double macs = perByte * bytes + perPatch * rows + dM * dL; // + the start row of W_up
        return 6 * macs + 14.0 * c.headDim() * c.heads() * c.layers() * keys;
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
        return 6 * perByte * batch * seqLen + 14.0 * c.headDim() * c.heads() * c.layers() * keys;
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
