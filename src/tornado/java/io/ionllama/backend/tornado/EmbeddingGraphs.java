package io.ionllama.backend.tornado;

import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;

/**
 * The embeddings' device ops (byte embedding and hashed n-grams, forward and backward, and the
 * n-gram bucket indices), the row count per call.
 *
 * <p>A table's size (256 rows for the byte embedding, lengths x buckets rows for the n-grams,
 * any row count when the model uses the byte-embedding op as a row gather) is not an argument of
 * the {@link io.ionllama.backend.Backend} ops, so a copying graph stages the table rows the call's
 * indices reach (the largest index + 1, rounded up to {@link #TABLE_ROWS_STEP} rows, the graph's
 * second capacity), no more than the caller's array holds: in practice the whole table once a
 * batch has hashed into its last buckets. A step's site binds the caller's whole arrays, so that
 * path stages nothing.
 */
final class EmbeddingGraphs {

    /** The ops' names: their counters in {@link TornadoBackend#stats()}, their graphs' names. */
    static final String BYTE_FORWARD = "byteEmbeddingForward", BYTE_BACKWARD = "byteEmbeddingBackward",
            NGRAM_INDEX = "ngramIndex", NGRAM_FORWARD = "ngramEmbeddingForward", NGRAM_BACKWARD = "ngramEmbeddingBackward";

    /** Table rows are staged in steps of this many. */
    static final int TABLE_ROWS_STEP = 256;

    /**
     * params = [rows, T, offsets...] in the order of the kernel's array arguments; a thread per row
     * (forward) or per channel (the backward's scatter, which walks the rows itself). The table is
     * staged up to the row after the largest of the {@code n} indices from {@code off}.
     */
    private static OpCall call(String op, boolean backward, int rows, int D, int[] idx, int off, int n, int... dims) {
        int top = 0;
        for (int i = off; i < off + n; i++) {
            top = Math.max(top, idx[i]);
        }
        return DeviceOps.call(op, EmbeddingKernels.PARAMS, EmbeddingKernels.OFF0, dims).skipIf(rows <= 0 || n <= 0 || D <= 0)
                .size(EmbeddingKernels.ROWS, rows)
                .rows(rows, StagedGraph.roundUp(top + 1, TABLE_ROWS_STEP)).grids(DeviceOps.grid1(backward ? D : rows));
    }

    /**
     * Forward: out = emb[x]; backward: emb (dEmb) += scatter of out (dout) by x. The model also uses
     * this gather for rows that are not bytes (patch rows, encoder rows), so the table is staged
     * like the n-gram table: as many rows as the largest index reaches.
     */
    static void byteEmbedding(DeviceOps ops, boolean backward, float[] out, int outOff, float[] emb, int embOff, int[] x, int xOff,
                       int rows, int D) {
        OpCall c = call(backward ? BYTE_BACKWARD : BYTE_FORWARD, backward, rows, D, x, xOff, rows, D);
        if (backward) {
            c.inout(emb, embOff, OpCall.REST, D).rows2().in(out, outOff, rows * D, D);
        } else {
            c.out(out, outOff, rows * D, D).in(emb, embOff, OpCall.REST, D).rows2();
        }
        ops.run(c.in(x, xOff, rows, 1).tasks((tg, name, grids, st) -> {
            if (backward) {
                byteBackwardTasks(tg, name, grids, st.grid1(), st.f(0), st.f(1), st.i(2), st.params, st.pb(), D);
            } else {
                byteForwardTasks(tg, name, grids, st.grid1(), st.f(0), st.f(1), st.i(2), st.params, st.pb(), D);
            }
        }));
    }

    /** The n-gram lengths list {@code ns} goes along whole, at no offset. */
    static void ngramIndex(DeviceOps ops, int[] idx, int idxOff, int[] x, int xOff, int[] ns, int buckets, int T, int rows) {
        int numN = Math.max(1, ns.length);
        ops.run(DeviceOps.call(NGRAM_INDEX, EmbeddingKernels.PARAMS, EmbeddingKernels.OFF0, ns.length, buckets)
                .skipIf(rows <= 0 || ns.length == 0)
                .size(EmbeddingKernels.ROWS, rows).size(EmbeddingKernels.T, T).rows(rows).grids(DeviceOps.grid1(rows))
                .out(idx, idxOff, rows * ns.length, numN).in(x, xOff, rows, 1).inFixed(ns, 0, ns.length).at(-1)
                .tasks((tg, name, grids, st) -> indexTasks(tg, name, grids, st.grid1(), st.i(0), st.i(1), st.i(2), st.params, st.pb(),
                        buckets)));
    }

    /** Forward: out += tables[idx]; backward: tables (dTables) += scatter of out (dout). */
    static void ngram(DeviceOps ops, boolean backward, float[] out, int outOff, float[] tables, int tablesOff, int[] idx, int idxOff,
               int numN, int rows, int D) {
        OpCall c = call(backward ? NGRAM_BACKWARD : NGRAM_FORWARD, backward, rows, D, idx, idxOff, rows * numN, numN, D);
        if (backward) {
            c.inout(tables, tablesOff, OpCall.REST, D).rows2().in(out, outOff, rows * D, D);
        } else {
            c.inout(out, outOff, rows * D, D).in(tables, tablesOff, OpCall.REST, D).rows2();
        }
        ops.run(c.in(idx, idxOff, rows * numN, numN).tasks((tg, name, grids, st) -> {
            if (backward) {
                ngramBackwardTasks(tg, name, grids, st.grid1(), st.f(0), st.f(1), st.i(2), st.params, st.pb(), numN, D);
            } else {
                ngramForwardTasks(tg, name, grids, st.grid1(), st.f(0), st.f(1), st.i(2), st.params, st.pb(), numN, D);
            }
        }));
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
}
