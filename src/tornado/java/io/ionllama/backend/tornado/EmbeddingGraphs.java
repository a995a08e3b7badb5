package io.ionllama.backend.tornado;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The embeddings' TaskGraphs (byte embedding and hashed n-grams, forward and backward, and the
 * n-gram bucket indices), with per-op transfers as in {@link MatmulGraphs}. Rows per execution.
 *
 * <p>A table's size (256 rows for the byte embedding, lengths x buckets rows for the n-grams,
 * any row count when the model uses the byte-embedding op as a row gather) is not an argument of
 * the {@link io.ionllama.backend.Backend} ops, so the forwards and backwards stage the table rows
 * the call's indices reach (the largest index + 1, rounded up to {@link #TABLE_ROWS_STEP} rows, the
 * graph's second capacity): in practice the whole table once a batch has hashed into its last
 * buckets.
 */
final class EmbeddingGraphs implements AutoCloseable {

    static final String BYTE_FORWARD = "byteEmbeddingForward";
    static final String BYTE_BACKWARD = "byteEmbeddingBackward";
    static final String NGRAM_INDEX = "ngramIndex";
    static final String NGRAM_FORWARD = "ngramEmbeddingForward";
    static final String NGRAM_BACKWARD = "ngramEmbeddingBackward";

    /** Table rows are staged in steps of this many. */
    static final int TABLE_ROWS_STEP = 256;

    private final TornadoSession session;
    private final Residency residency;
    private final List<ByteGraph> bytes = new ArrayList<>();
    private final List<IndexGraph> indexes = new ArrayList<>();
    private final List<NgramGraph> ngrams = new ArrayList<>();

    EmbeddingGraphs(TornadoSession session, Residency residency) {
        this.session = session;
        this.residency = residency;
    }

    void byteEmbedding(boolean backward, float[] out, int outOff, float[] emb, int embOff, int[] x, int xOff,
                       int rows, int D) {
        ByteGraph g = null;
        for (ByteGraph f : bytes) {
            if (f.backward == backward && f.D == D) {
                g = f;
                break;
            }
        }
        if (g == null) {
            g = new ByteGraph(backward, D);
            bytes.add(g);
        }
        g.run(out, outOff, emb, embOff, x, xOff, rows);
    }

    void ngramIndex(int[] idx, int idxOff, int[] x, int xOff, int[] ns, int buckets, int T, int rows) {
        IndexGraph g = null;
        for (IndexGraph f : indexes) {
            if (f.buckets == buckets && Arrays.equals(f.ns, ns)) {
                g = f;
                break;
            }
        }
        if (g == null) {
            g = new IndexGraph(ns.clone(), buckets);
            indexes.add(g);
        }
        g.run(idx, idxOff, x, xOff, T, rows);
    }

    /** Forward: out += tables[idx]; backward: tables (dTables) += scatter of out (dout). */
    void ngram(boolean backward, float[] out, int outOff, float[] tables, int tablesOff, int[] idx, int idxOff,
               int numN, int rows, int D) {
        NgramGraph g = null;
        for (NgramGraph f : ngrams) {
            if (f.backward == backward && f.numN == numN && f.D == D) {
                g = f;
                break;
            }
        }
        if (g == null) {
            g = new NgramGraph(backward, numN, D);
            ngrams.add(g);
        }
        g.run(out, outOff, tables, tablesOff, idx, idxOff, rows);
    }

    /**
     * Forward: out = emb[x]; backward: emb (dEmb) += scatter of out (dout) by x. The model also uses
     * this gather for rows that are not bytes (patch rows, encoder rows), so the table is staged
     * like the n-gram table: as many rows as the largest index reaches.
     */
    private final class ByteGraph extends StagedGraph {
        final boolean backward;
        final int D;
        final int[] params = new int[1];
        float[] out, emb;
        int[] x;
        WorkerGrid1D grid;

        ByteGraph(boolean backward, int D) {
            super(EmbeddingGraphs.this.session, backward ? BYTE_BACKWARD : BYTE_FORWARD);
            this.backward = backward;
            this.D = D;
        }

        void run(float[] out, int outOff, float[] emb, int embOff, int[] x, int xOff, int rows) {
            int top = 0;
            for (int i = xOff; i < xOff + rows; i++) {
                top = Math.max(top, x[i]);
            }
            ensureCapacity(rows, roundUp(top + 1, TABLE_ROWS_STEP));
            int staged = Math.min(capacity2, (emb.length - embOff) / D) * D;
            System.arraycopy(x, xOff, this.x, 0, rows);
            System.arraycopy(emb, embOff, this.emb, 0, staged);
            if (backward) {
                System.arraycopy(out, outOff, this.out, 0, rows * D);
            }
            params[EmbeddingKernels.ROWS] = rows;
            size(grid, backward ? D : rows);
            graph.execute();
            if (backward) {
                System.arraycopy(this.emb, 0, emb, embOff, staged);
            } else {
                System.arraycopy(this.out, 0, out, outOff, rows * D);
            }
        }

        @Override
        DeviceGraph build(int capacity) {
            out = new float[capacity * D];
            emb = new float[capacity2 * D];
            x = new int[capacity];
            String name = session.graphName(op, "D" + D);
            GridScheduler grids = new GridScheduler();
            TaskGraph tg = new TaskGraph(name);
            Object[] in, result;
            if (backward) {
                grid = grid1(grids, name, "channels", D);
                in = arrays(params, emb, out, x);
                result = arrays(emb);
                tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in)
                        .task("channels", EmbeddingKernels::byteBackward, new KernelContext(), emb, out, x, params, D);
            } else {
                grid = grid1(grids, name, "rows", capacity);
                in = arrays(params, emb, x);
                result = arrays(out);
                tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in)
                        .task("rows", EmbeddingKernels::byteForward, new KernelContext(), out, emb, x, params, D);
            }
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, result);
            return device(tg, grids, in, result);
        }
    }

    private final class IndexGraph extends StagedGraph {
        final int[] ns;
        final int buckets;
        final int[] params = new int[2];
        int[] idx, x;
        WorkerGrid1D grid;

        IndexGraph(int[] ns, int buckets) {
            super(EmbeddingGraphs.this.session, NGRAM_INDEX);
            this.ns = ns;
            this.buckets = buckets;
        }

        void run(int[] idx, int idxOff, int[] x, int xOff, int T, int rows) {
            ensureCapacity(rows);
            System.arraycopy(x, xOff, this.x, 0, rows);
            params[EmbeddingKernels.ROWS] = rows;
            params[EmbeddingKernels.T] = T;
            size(grid, rows);
            graph.execute();
            System.arraycopy(this.idx, 0, idx, idxOff, rows * ns.length);
        }

        @Override
        DeviceGraph build(int capacity) {
            idx = new int[capacity * Math.max(1, ns.length)];
            x = new int[capacity];
            String name = session.graphName(op, "n" + ns.length + "b" + buckets);
            GridScheduler grids = new GridScheduler();
            grid = grid1(grids, name, "rows", capacity);
            Object[] in = arrays(params, x);
            TaskGraph tg = new TaskGraph(name)
                    .transferToDevice(DataTransferMode.FIRST_EXECUTION, ns)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, in)
                    .task("rows", EmbeddingKernels::ngramIndex, new KernelContext(), idx, x, ns, params, ns.length, buckets)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, idx);
            return device(tg, grids, in, arrays(idx), arrays(ns));
        }
    }

    private final class NgramGraph extends StagedGraph {
        final boolean backward;
        final int numN, D;
        final int[] params = new int[1];
        float[] out, tables;
        int[] idx;
        WorkerGrid1D grid;

        NgramGraph(boolean backward, int numN, int D) {
            super(EmbeddingGraphs.this.session, backward ? NGRAM_BACKWARD : NGRAM_FORWARD);
            this.backward = backward;
            this.numN = numN;
            this.D = D;
        }

        void run(float[] out, int outOff, float[] tables, int tablesOff, int[] idx, int idxOff, int rows) {
            int n = rows * numN, top = 0;
            for (int i = idxOff; i < idxOff + n; i++) {
                top = Math.max(top, idx[i]);
            }
            int tableRows = roundUp(top + 1, TABLE_ROWS_STEP);
            ensureCapacity(rows, tableRows);
            // Stage no more table rows than the caller's array has (the table may end the parameters).
            int staged = Math.min(capacity2, (tables.length - tablesOff) / D);
            System.arraycopy(idx, idxOff, this.idx, 0, n);
            System.arraycopy(tables, tablesOff, this.tables, 0, staged * D);
            System.arraycopy(out, outOff, this.out, 0, rows * D);
            params[EmbeddingKernels.ROWS] = rows;
            size(grid, backward ? D : rows);
            graph.execute();
            if (backward) {
                System.arraycopy(this.tables, 0, tables, tablesOff, staged * D);
            } else {
                System.arraycopy(this.out, 0, out, outOff, rows * D);
            }
        }

        @Override
        DeviceGraph build(int capacity) {
            out = new float[capacity * D];
            idx = new int[capacity * numN];
            tables = new float[capacity2 * D];
            String name = session.graphName(op, "n" + numN + "D" + D);
            GridScheduler grids = new GridScheduler();
            TaskGraph tg = new TaskGraph(name);
            Object[] in = arrays(params, out, tables, idx), result;
            tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
            if (backward) {
                grid = grid1(grids, name, "channels", D);
                result = arrays(tables);
                tg.task("channels", EmbeddingKernels::ngramBackward, new KernelContext(), tables, out, idx, params, numN, D);
            } else {
                grid = grid1(grids, name, "rows", capacity);
                result = arrays(out);
                tg.task("rows", EmbeddingKernels::ngramForward, new KernelContext(), out, tables, idx, params, numN, D);
            }
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, result);
            return device(tg, grids, in, result);
        }
    }

    @Override
    public void close() {
        bytes.forEach(StagedGraph::close);
        indexes.forEach(StagedGraph::close);
        ngrams.forEach(StagedGraph::close);
    }
}
