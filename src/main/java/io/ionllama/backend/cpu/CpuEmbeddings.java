package io.ionllama.backend.cpu;

import io.ionllama.kernels.Embeddings;

/**
 * The CPU schedule of the embeddings: the byte embedding and the hashed n-gram embeddings,
 * forward and backward, and the n-gram bucket indices ({@code kernels.Embeddings}). The device
 * counterpart is {@code backend/tornado/EmbeddingGraphs}.
 *
 * <p>Forwards and indices split rows. The backwards are scatter-adds into the tables; they split
 * channels instead: each channel range walks t (and the n-gram order k) in order, so a gradient
 * cell gets its terms in one order for any split, with no atomics.
 */
final class CpuEmbeddings {

    private final WorkerPool pool;

    CpuEmbeddings(WorkerPool pool) {
        this.pool = pool;
    }

    private static final class ByteEmbeddingForwardTask implements WorkerPool.RangeTask {
        float[] out, emb;
        int[] bytes;
        int outOff, embOff, bytesOff, D;

        @Override
        public void run(int from, int to) {
            for (int t = from; t < to; t++) {
                Embeddings.byteEmbeddingForwardRow(out, outOff, emb, embOff, bytes, bytesOff, D, t);
            }
        }
    }

    private static final class ByteEmbeddingBackwardTask implements WorkerPool.RangeTask {
        float[] dEmb, dout;
        int[] bytes;
        int dEmbOff, doutOff, bytesOff, rows, D;

        @Override
        public void run(int from, int to) {
            Embeddings.byteEmbeddingBackwardChannels(dEmb, dEmbOff, dout, doutOff, bytes, bytesOff, rows, D, from, to);
        }
    }

    private static final class NgramIndexTask implements WorkerPool.RangeTask {
        int[] idx, bytes, ns;
        int idxOff, bytesOff, buckets, T;

        @Override
        public void run(int from, int to) {
            for (int t = from; t < to; t++) {
                Embeddings.ngramIndexRow(idx, idxOff, bytes, bytesOff, ns, 0, ns.length, buckets, T, t);
            }
        }
    }

    private static final class NgramForwardTask implements WorkerPool.RangeTask {
        float[] out, tables;
        int[] idx;
        int outOff, tablesOff, idxOff, numN, D;

        @Override
        public void run(int from, int to) {
            for (int t = from; t < to; t++) {
                Embeddings.ngramForwardRow(out, outOff, tables, tablesOff, idx, idxOff, numN, D, t);
            }
        }
    }

    private static final class NgramBackwardTask implements WorkerPool.RangeTask {
        float[] dTables, dout;
        int[] idx;
        int dTablesOff, doutOff, idxOff, numN, rows, D;

        @Override
        public void run(int from, int to) {
            Embeddings.ngramBackwardChannels(dTables, dTablesOff, dout, doutOff, idx, idxOff, numN, rows, D, from, to);
        }
    }

    private final ByteEmbeddingForwardTask byteEmbeddingForward = new ByteEmbeddingForwardTask();
    private final ByteEmbeddingBackwardTask byteEmbeddingBackward = new ByteEmbeddingBackwardTask();
    private final NgramIndexTask ngramIndex = new NgramIndexTask();
    private final NgramForwardTask ngramForward = new NgramForwardTask();
    private final NgramBackwardTask ngramBackward = new NgramBackwardTask();

    void byteEmbeddingForward(float[] out, int outOff, float[] emb, int embOff, int[] bytes, int bytesOff,
                              int rows, int D) {
        ByteEmbeddingForwardTask t = byteEmbeddingForward;
        t.out = out; t.outOff = outOff; t.emb = emb; t.embOff = embOff; t.bytes = bytes; t.bytesOff = bytesOff;
        t.D = D;
        pool.parallelFor(rows, t);
    }

    void byteEmbeddingBackward(float[] dEmb, int dEmbOff, float[] dout, int doutOff, int[] bytes, int bytesOff,
                               int rows, int D) {
        ByteEmbeddingBackwardTask t = byteEmbeddingBackward;
        t.dEmb = dEmb; t.dEmbOff = dEmbOff; t.dout = dout; t.doutOff = doutOff; t.bytes = bytes;
        t.bytesOff = bytesOff; t.rows = rows; t.D = D;
        pool.parallelFor(D, t);
    }

    void ngramIndex(int[] idx, int idxOff, int[] bytes, int bytesOff, int[] ns, int buckets, int T, int rows) {
        NgramIndexTask t = ngramIndex;
        t.idx = idx; t.idxOff = idxOff; t.bytes = bytes; t.bytesOff = bytesOff; t.ns = ns;
        t.buckets = buckets; t.T = T;
        pool.parallelFor(rows, t);
    }

    void ngramEmbeddingForward(float[] out, int outOff, float[] tables, int tablesOff, int[] idx, int idxOff,
                               int numN, int rows, int D) {
        NgramForwardTask t = ngramForward;
        t.out = out; t.outOff = outOff; t.tables = tables; t.tablesOff = tablesOff; t.idx = idx; t.idxOff = idxOff;
        t.numN = numN; t.D = D;
        pool.parallelFor(rows, t);
    }

    void ngramEmbeddingBackward(float[] dTables, int dTablesOff, float[] dout, int doutOff, int[] idx, int idxOff,
                                int numN, int rows, int D) {
        NgramBackwardTask t = ngramBackward;
        t.dTables = dTables; t.dTablesOff = dTablesOff; t.dout = dout; t.doutOff = doutOff; t.idx = idx;
        t.idxOff = idxOff; t.numN = numN; t.rows = rows; t.D = D;
        pool.parallelFor(D, t);
    }
}
