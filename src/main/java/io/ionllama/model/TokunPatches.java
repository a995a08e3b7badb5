package io.ionllama.model;

import io.ionllama.backend.Backend;

/**
 * The tokun patcher's encoder path of {@link IonLlama} ({@code --patcher tokun:PATH}): patches are
 * a trained tokun's chunks (fixed:C, C = 16 for tokun 4,4) and patch r's vector is the frozen
 * tokun's latent of its C bytes, projected by the trainable {@code tokun.proj} in place of
 * W_p·yEnc[end]: the global transformer sees only what tokun encoded, the ablation's question.
 * The tokun's weights are not in the model's parameters, so neither the backward nor any optimizer
 * touches them; checkpoints carry them ({@link IonLlama#frozenParts}). Causality holds as for
 * fixed:C: patch r's latent reads its own bytes only, and no byte before the patch's last one
 * reads row r (π).
 */
final class TokunPatches {

    private final Tokun tokun;
    private final int chunk;
    /** The closed patches' bytes, sequence after sequence (grow-only). */
    private int[] chunkBytes;

    TokunPatches(Tokun tokun) {
        this.tokun = tokun;
        this.chunk = tokun.chunk();
    }

    /** Held boundaries (gradient checks) must be the tokun's chunks: every C bytes from each sequence's start. */
    void checkBoundaries(int[] ends, int N, int T) {
        for (int i = 0; i < N; i++) {
            if ((ends[i] != 0) != ((i % T + 1) % chunk == 0)) {
                throw new IllegalStateException("a tokun patcher's patches are its chunks: held boundaries must be every "
                        + chunk + " bytes");
            }
        }
    }

    /**
     * pv [R, dim]: the frozen tokun's latent of every closed patch. Patches are the tokun's chunks
     * counted from each sequence's start, so sequence b's closed patches are its first
     * count[b]·C bytes, contiguous, and its rows follow in order: one tokun pass over them all.
     * {@code capR}: the patch rows the model's buffers hold.
     */
    void encode(Backend be, int[] x, int B, int T, int[] seqStart, int[] seqCount, int R, int capR, float[] pv) {
        if (chunkBytes == null || chunkBytes.length < capR * chunk) {
            chunkBytes = new int[capR * chunk];
        }
        for (int b = 0; b < B; b++) {
            System.arraycopy(x, b * T, chunkBytes, seqStart[b] * chunk, seqCount[b] * chunk);
        }
        tokun.encode(chunkBytes, R * chunk);
        be.copy(pv, 0, tokun.latent(), 0, R * tokun.config.dim());
    }
}
