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
 * buckets. Inside a training step each call is also a {@link Residency} site bound to the
 * caller's whole arrays, so that path stages nothing and needs no capacity: rows and offsets
 * travel in the site's {@code params}.
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
        // Forward: out = emb[x]; backward: emb += scatter of out by x. The site binds the whole table, so no table rows are staged.
        String op = backward ? BYTE_BACKWARD : BYTE_FORWARD;
        Site site = residency.site(new SiteKey(op, new int[] {D}, out, emb, x),
                () -> new Site(op, EmbeddingKernels.PARAMS, new Object[] {out, emb, x}, new Object[] {backward ? emb : out},
                        Site.grids1(1), (tg, name, grids, st) -> {
                            if (backward) {
                                byteBackwardTasks(tg, name, grids, st.grid1(), emb, out, x, st.params, st.pb(), D);
                            } else {
                                byteForwardTasks(tg, name, grids, st.grid1(), out, emb, x, st.params, st.pb(), D);
                            }
                        }));
        if (site != null) {
            if (backward) {
                setOffsets(site.params, rows, embOff, outOff, xOff);
            } else {
                setOffsets(site.params, rows, outOff, embOff, xOff);
            }
            StagedGraph.size(site.grid1(), backward ? D : rows);
        }
        if (residency.run(site)) {
            return;
        }
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
        residency.wroteOnHost(backward ? emb : out);
    }

    void ngramIndex(int[] idx, int idxOff, int[] x, int xOff, int[] ns, int buckets, int T, int rows) {
        // The site binds the n-gram lengths list too.
        Site site = residency.site(new SiteKey(NGRAM_INDEX, new int[] {ns.length, buckets}, idx, x, ns),
                () -> new Site(NGRAM_INDEX, EmbeddingKernels.PARAMS, new Object[] {idx, x, ns}, new Object[] {idx},
                        Site.grids1(1), (tg, name, grids, st) -> indexTasks(tg, name, grids, st.grid1(), idx, x, ns, st.params, st.pb(), buckets)));
        if (site != null) {
            setOffsets(site.params, rows, idxOff, xOff);
            site.params[EmbeddingKernels.T] = T;
            StagedGraph.size(site.grid1(), rows);
        }
        if (residency.run(site)) {
            return;
        }
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
        residency.wroteOnHost(idx);
    }

    /** Forward: out += tables[idx]; backward: tables (dTables) += scatter of out (dout). */
    void ngram(boolean backward, float[] out, int outOff, float[] tables, int tablesOff, int[] idx, int idxOff,
               int numN, int rows, int D) {
        String op = backward ? NGRAM_BACKWARD : NGRAM_FORWARD;
        Site site = residency.site(new SiteKey(op, new int[] {numN, D}, out, tables, idx),
                () -> new Site(op, EmbeddingKernels.PARAMS, new Object[] {out, tables, idx}, new Object[] {backward ? tables : out},
                        Site.grids1(1), (tg, name, grids, st) -> {
                            if (backward) {
                                ngramBackwardTasks(tg, name, grids, st.grid1(), tables, out, idx, st.params, st.pb(), numN, D);
                            } else {
                                ngramForwardTasks(tg, name, grids, st.grid1(), out, tables, idx, st.params, st.pb(), numN, D);
                            }
                        }));
        if (site != null) {
            if (backward) {
                setOffsets(site.params, rows, tablesOff, outOff, idxOff);
            } else {
                setOffsets(site.params, rows, outOff, tablesOff, idxOff);
            }
            StagedGraph.size(site.grid1(), backward ? D : rows);
        }
        if (residency.run(site)) {
            return;
        }
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
        residency.wroteOnHost(backward ? tables : out);
    }

    /** params = [rows, T, offsets...] with the offsets in the order of the kernel's array arguments. */
    static void setOffsets(int[] params, int rows, int... offsets) {
        params[EmbeddingKernels.ROWS] = rows;
        System.arraycopy(offsets, 0, params, EmbeddingKernels.OFF0, offsets.length);
    }

    static void byteForwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] out, float[] emb,
                                 int[] x, int[] params, int pb, int D) {
        tg.task("rows", EmbeddingKernels::byteForward, new KernelContext(), out, emb, x, params, pb, D);
        grids.addWorkerGrid(name + ".rows", grid);
    }

    static void byteBackwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] dEmb, float[] dout,
                                  int[] x, int[] params, int pb, int D) {
        tg.task("channels", EmbeddingKernels::byteBackward, new KernelContext(), dEmb, dout, x, params, pb, D);
        grids.addWorkerGrid(name + ".channels", grid);
    }

    static void indexTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, int[] idx, int[] x, int[] ns,
                           int[] params, int pb, int buckets) {
        tg.task("rows", EmbeddingKernels::ngramIndex, new KernelContext(), idx, x, ns, params, pb, ns.length, buckets);
        grids.addWorkerGrid(name + ".rows", grid);
    }

    static void ngramForwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] out, float[] tables,
                                  int[] idx, int[] params, int pb, int numN, int D) {
        tg.task("rows", EmbeddingKernels::ngramForward, new KernelContext(), out, tables, idx, params, pb, numN, D);
        grids.addWorkerGrid(name + ".rows", grid);
    }

    static void ngramBackwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] dTables,
                                   float[] dout, int[] idx, int[] params, int pb, int numN, int D) {
        tg.task("channels", EmbeddingKernels::ngramBackward, new KernelContext(), dTables, dout, idx, params, pb, numN, D);
        grids.addWorkerGrid(name + ".channels", grid);
    }

    /**
     * Forward: out = emb[x]; backward: emb (dEmb) += scatter of out (dout) by x. The model also uses
     * this gather for rows that are not bytes (patch rows, encoder rows), so the table is staged
     * like the n-gram table: as many rows as the largest index reaches.
     */
    private final class ByteGraph extends StagedGraph {
        final boolean backward;
        final int D;
        final int[] params = new int[EmbeddingKernels.PARAMS];
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
                grid = StagedGraph.grid1(D);
                in = arrays(params, emb, out, x);
                result = arrays(emb);
                tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
                byteBackwardTasks(tg, name, grids, grid, emb, out, x, params, 0, D);
            } else {
                grid = StagedGraph.grid1(capacity);
                in = arrays(params, emb, x);
                result = arrays(out);
                tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
                byteForwardTasks(tg, name, grids, grid, out, emb, x, params, 0, D);
            }
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, result);
            return device(tg, grids, in, result);
        }
    }

    private final class IndexGraph extends StagedGraph {
        final int[] ns;
        final int buckets;
        final int[] params = new int[EmbeddingKernels.PARAMS];
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
            grid = StagedGraph.grid1(capacity);
            Object[] in = arrays(params, x);
            TaskGraph tg = new TaskGraph(name)
                    .transferToDevice(DataTransferMode.FIRST_EXECUTION, ns)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
            indexTasks(tg, name, grids, grid, idx, x, ns, params, 0, buckets);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, idx);
            return device(tg, grids, in, arrays(idx), arrays(ns));
        }
    }

    private final class NgramGraph extends StagedGraph {
        final boolean backward;
        final int numN, D;
        final int[] params = new int[EmbeddingKernels.PARAMS];
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
                grid = StagedGraph.grid1(D);
                result = arrays(tables);
                ngramBackwardTasks(tg, name, grids, grid, tables, out, idx, params, 0, numN, D);
            } else {
                grid = StagedGraph.grid1(capacity);
                result = arrays(out);
                ngramForwardTasks(tg, name, grids, grid, out, tables, idx, params, 0, numN, D);
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
