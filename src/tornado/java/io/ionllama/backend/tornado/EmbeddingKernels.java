package io.ionllama.backend.tornado;

import io.ionllama.kernels.Embeddings;
import uk.ac.manchester.tornado.api.KernelContext;

/**
 * The embeddings' device kernels: one thread per unit of {@link Embeddings}. The forwards gather
 * (a row each); the backwards are the per-channel scatter-adds, one thread per channel walking
 * the rows (and n-gram lengths) in order, so no two threads touch one gradient cell and no
 * atomics are needed. Row count and sequence length come from {@code params}; D, the number of
 * n-gram lengths and the bucket count are compiled in. Offsets into the arrays come from
 * {@code params} too: 0 for the per-op graphs' staging buffers, the caller's offsets when a graph
 * is bound to the caller's own arrays ({@link Residency}). The n-gram lengths list takes none.
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

    /**
     * Indexes into {@code params}: rows, (n-gram index only) bytes per sequence, then the offset
     * of each array in the order of the kernel's arguments (the n-gram lengths list excepted).
     */
    public static final int ROWS = 0, T = 1, OFF0 = 2, PARAMS = 5;

    public static void byteForward(KernelContext k, float[] out, float[] emb, int[] bytes, int[] params, int pb, int D) {
        int t = k.globalIdx;
        if (t < params[pb + ROWS]) {
            Embeddings.byteEmbeddingForwardRow(out, params[pb + OFF0], emb, params[pb + OFF0 + 1], bytes, params[pb + OFF0 + 2], D, t);
        }
    }

    public static void byteBackward(KernelContext k, float[] dEmb, float[] dout, int[] bytes, int[] params, int pb, int D) {
        int c = k.globalIdx;
        if (c < D) {
            Embeddings.byteEmbeddingBackwardChannel(dEmb, params[pb + OFF0], dout, params[pb + OFF0 + 1], bytes, params[pb + OFF0 + 2],
                    params[pb + ROWS], D, c);
        }
    }

    public static void ngramIndex(KernelContext k, int[] idx, int[] bytes, int[] ns, int[] params, int pb, int numN, int buckets) {
        int t = k.globalIdx;
        if (t < params[pb + ROWS]) {
            Embeddings.ngramIndexRow(idx, params[pb + OFF0], bytes, params[pb + OFF0 + 1], ns, 0, numN, buckets, params[pb + T], t);
        }
    }

    public static void ngramForward(KernelContext k, float[] out, float[] tables, int[] idx, int[] params, int pb, int numN, int D) {
        int t = k.globalIdx;
        if (t < params[pb + ROWS]) {
            Embeddings.ngramForwardRow(out, params[pb + OFF0], tables, params[pb + OFF0 + 1], idx, params[pb + OFF0 + 2], numN, D, t);
        }
    }

    public static void ngramBackward(KernelContext k, float[] dTables, float[] dout, int[] idx, int[] params, int pb, int numN, int D) {
        int c = k.globalIdx;
        if (c < D) {
            Embeddings.ngramBackwardChannel(dTables, params[pb + OFF0], dout, params[pb + OFF0 + 1], idx, params[pb + OFF0 + 2], numN,
                    params[pb + ROWS], D, c);
        }
    }
}
