package io.ionllama.backend.tornado;

import io.ionllama.kernels.Embeddings;
import uk.ac.manchester.tornado.api.KernelContext;

/**
 * The embeddings' device kernels: one thread per unit of {@link Embeddings}. The forwards gather
 * (a row each); the backwards are the per-channel scatter-adds, one thread per channel walking
 * the rows (and n-gram lengths) in order, so no two threads touch one gradient cell and no
 * atomics are needed. Row count and sequence length come from {@code params}; D, the number of
 * n-gram lengths and the bucket count are compiled in.
 * <pre>
 *   byteForward     thread t = row       Embeddings.byteEmbeddingForwardRow
 *   byteBackward    thread c = channel   Embeddings.byteEmbeddingBackwardChannel
 *   ngramIndex      thread t = row       Embeddings.ngramIndexRow
 *   ngramForward    thread t = row       Embeddings.ngramForwardRow
 *   ngramBackward   thread c = channel   Embeddings.ngramBackwardChannel
 * </pre>
 */
public final class EmbeddingKernels {
    private EmbeddingKernels() {}

    /** Indexes into {@code params}: rows, and (n-gram index only) bytes per sequence. */
    public static final int ROWS = 0, T = 1;

    public static void byteForward(KernelContext k, float[] out, float[] emb, int[] bytes, int[] params, int D) {
        int t = k.globalIdx;
        if (t < params[ROWS]) {
            Embeddings.byteEmbeddingForwardRow(out, 0, emb, 0, bytes, 0, D, t);
        }
    }

    public static void byteBackward(KernelContext k, float[] dEmb, float[] dout, int[] bytes, int[] params, int D) {
        int c = k.globalIdx;
        if (c < D) {
            Embeddings.byteEmbeddingBackwardChannel(dEmb, 0, dout, 0, bytes, 0, params[ROWS], D, c);
        }
    }

    public static void ngramIndex(KernelContext k, int[] idx, int[] bytes, int[] ns, int[] params, int numN, int buckets) {
        int t = k.globalIdx;
        if (t < params[ROWS]) {
            Embeddings.ngramIndexRow(idx, 0, bytes, 0, ns, 0, numN, buckets, params[T], t);
        }
    }

    public static void ngramForward(KernelContext k, float[] out, float[] tables, int[] idx, int[] params, int numN, int D) {
        int t = k.globalIdx;
        if (t < params[ROWS]) {
            Embeddings.ngramForwardRow(out, 0, tables, 0, idx, 0, numN, D, t);
        }
    }

    public static void ngramBackward(KernelContext k, float[] dTables, float[] dout, int[] idx, int[] params, int numN, int D) {
        int c = k.globalIdx;
        if (c < D) {
            Embeddings.ngramBackwardChannel(dTables, 0, dout, 0, idx, 0, numN, params[ROWS], D, c);
        }
    }
}
