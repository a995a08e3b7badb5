package io.ionllama.backend.tornado;

import java.util.ArrayList;
import java.util.List;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * LayerNorm's TaskGraphs ({@link NormKernels}'s {@code layer*} kernels; only {@code --model rnn}
 * calls LayerNorm), as {@link NormGraphs} does RMSNorm's: cached per (C, eps, bias or not) for the
 * forward and per (C, weight gradient or not, bias gradient or not) for the backward, the row count
 * per execution.
 *
 * <p>The model keeps the norm's weight and bias in its one parameter array, and their gradients
 * in its one gradient array. A site binds each array once (a task given one array twice never
 * compiles, docs/gpu.md's table): the forward then runs {@link NormKernels#layerForwardBiasInWeights},
 * and the backward's weight and bias gradients are two tasks, each binding the gradient array once.
 */
final class LayerNormGraphs implements AutoCloseable {

    static final String FORWARD = "layerNormForward";
    static final String BACKWARD = "layerNormBackward";

    private final TornadoSession session;
    private final Residency residency;
    private final List<Forward> forwards = new ArrayList<>();
    private final List<Backward> backwards = new ArrayList<>();

    LayerNormGraphs(TornadoSession session, Residency residency) {
        this.session = session;
        this.residency = residency;
    }

    /** b null: no bias. */
    void forward(float[] out, int outOff, float[] mean, int meanOff, float[] rstd, int rstdOff, float[] x, int xOff,
                 float[] w, int wOff, float[] b, int bOff, int rows, int C, float eps) {
        boolean hasBias = b != null;
        // No bias, or a bias in the weights' own array: w is bound once (and b stands for it).
        boolean oneArray = !hasBias || b == w;
        Object[] arrays = oneArray ? new Object[] {out, mean, rstd, x, w} : new Object[] {out, mean, rstd, x, w, b};
        Site site = residency.site(
                new SiteKey(FORWARD, new int[] {C, Float.floatToIntBits(eps), !hasBias ? 0 : oneArray ? 2 : 1}, arrays),
                () -> new Site(FORWARD, NormKernels.PARAMS, arrays, new Object[] {out, mean, rstd}, Site.grids1(1),
                        (tg, name, grids, st) -> forwardTasks(tg, name, grids, st.grid1(), out, mean, rstd, x, w, oneArray ? w : b,
                                st.params, st.pb(), C, eps, hasBias)));
        if (site != null) {
            NormGraphs.setOffsets(site.params, rows, outOff, meanOff, rstdOff, xOff, wOff, hasBias ? bOff : 0);
            StagedGraph.size(site.grid1(), rows);
        }
        if (residency.run(site)) {
            return;
        }
        Forward g = null;
        for (Forward f : forwards) {
            if (f.C == C && Float.floatToIntBits(f.eps) == Float.floatToIntBits(eps) && f.hasBias == hasBias) {
                g = f;
                break;
            }
        }
        if (g == null) {
            g = new Forward(C, eps, hasBias);
            forwards.add(g);
        }
        g.run(out, outOff, mean, meanOff, rstd, rstdOff, x, xOff, w, wOff, b, bOff, rows);
        residency.wroteOnHost(out, mean, rstd);
    }

    /** dw, db null: that gradient is not wanted. db may be dw's own array. */
    void backward(float[] dx, int dxOff, float[] dw, int dwOff, float[] db, int dbOff, float[] dy, int dyOff,
                  float[] x, int xOff, float[] w, int wOff, float[] mean, int meanOff, float[] rstd, int rstdOff, int rows, int C) {
        List<Object> bound = new ArrayList<>(List.of(dx, dy, x, w, mean, rstd));
        List<Object> written = new ArrayList<>(List.of(dx));
        for (float[] g : new float[][] {dw, db}) {
            if (g != null && !bound.contains(g)) {
                bound.add(g);
                written.add(g);
            }
        }
        Object[] arrays = bound.toArray();
        int kind = (dw == null ? 0 : 1) + (db == null ? 0 : db == dw ? 4 : 2);
        Site site = residency.site(new SiteKey(BACKWARD, new int[] {C, kind}, arrays),
                () -> new Site(BACKWARD, NormKernels.PARAMS, arrays, written.toArray(), Site.grids1(1),
                        (tg, name, grids, st) -> backwardTasks(tg, name, grids, st.grid1(), dx, dw, db, dy, x, w, mean, rstd,
                                st.params, st.pb(), C)));
        if (site != null) {
            NormGraphs.setOffsets(site.params, rows, dxOff, dyOff, xOff, wOff, meanOff, rstdOff, dw == null ? 0 : dwOff,
                    db == null ? 0 : dbOff);
            StagedGraph.size(site.grid1(), rows);
        }
        if (residency.run(site)) {
            return;
        }
        boolean weight = dw != null, bias = db != null;
        Backward g = null;
        for (Backward f : backwards) {
            if (f.C == C && f.weight == weight && f.bias == bias) {
                g = f;
                break;
            }
        }
        if (g == null) {
            g = new Backward(C, weight, bias);
            backwards.add(g);
        }
        g.run(dx, dxOff, dw, dwOff, db, dbOff, dy, dyOff, x, xOff, w, wOff, mean, meanOff, rstd, rstdOff, rows);
        residency.wroteOnHost(dx, dw, db);
    }

    /** b == w: the bias is read from the weights' array ({@link NormKernels#layerForwardBiasInWeights}). */
    static void forwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] out, float[] mean,
                             float[] rstd, float[] x, float[] w, float[] b, int[] params, int pb, int C, float eps, boolean hasBias) {
        if (hasBias && b == w) {
            tg.task("rows", NormKernels::layerForwardBiasInWeights, new KernelContext(), out, mean, rstd, x, w, params, pb, C, eps);
        } else {
            tg.task("rows", NormKernels::layerForward, new KernelContext(), out, mean, rstd, x, w, b, params, pb, C, eps,
                    hasBias ? 1 : 0);
        }
        grids.addWorkerGrid(name + ".rows", grid);
    }

    /** dw, db null: no such task. */
    static void backwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D rowGrid, float[] dx, float[] dw,
                              float[] db, float[] dy, float[] x, float[] w, float[] mean, float[] rstd, int[] params, int pb, int C) {
        tg.task("input", NormKernels::layerBackwardInput, new KernelContext(), dx, dy, x, w, mean, rstd, params, pb, C);
        grids.addWorkerGrid(name + ".input", rowGrid);
        if (dw != null) {
            tg.task("weight", NormKernels::layerBackwardWeight, new KernelContext(), dw, dy, x, mean, rstd, params, pb, C);
            grids.addWorkerGrid(name + ".weight", channelGrid(C));
        }
        if (db != null) {
            tg.task("bias", NormKernels::layerBackwardBias, new KernelContext(), db, dy, params, pb, C);
            grids.addWorkerGrid(name + ".bias", channelGrid(C));
        }
    }

    private static WorkerGrid1D channelGrid(int C) {
        WorkerGrid1D g = new WorkerGrid1D(StagedGraph.roundUp(C, StagedGraph.LOCAL_1D));
        g.setLocalWork(StagedGraph.LOCAL_1D, 1, 1);
        return g;
    }

    private final class Forward extends StagedGraph {
        final int C;
        final float eps;
        final boolean hasBias;
        final int[] params = new int[NormKernels.PARAMS];
        final float[] w, b;
        float[] out, mean, rstd, x;
        WorkerGrid1D grid;

        Forward(int C, float eps, boolean hasBias) {
            super(LayerNormGraphs.this.session, FORWARD);
            this.C = C;
            this.eps = eps;
            this.hasBias = hasBias;
            this.w = new float[C];
            this.b = new float[hasBias ? C : 1];
        }

        void run(float[] out, int outOff, float[] mean, int meanOff, float[] rstd, int rstdOff, float[] x, int xOff,
                 float[] w, int wOff, float[] b, int bOff, int rows) {
            ensureCapacity(rows);
            System.arraycopy(x, xOff, this.x, 0, rows * C);
            System.arraycopy(w, wOff, this.w, 0, C);
            if (hasBias) {
                System.arraycopy(b, bOff, this.b, 0, C);
            }
            params[NormKernels.ROWS] = rows;
            size(grid, rows);
            graph.execute();
            System.arraycopy(this.out, 0, out, outOff, rows * C);
            System.arraycopy(this.mean, 0, mean, meanOff, rows);
            System.arraycopy(this.rstd, 0, rstd, rstdOff, rows);
        }

        @Override
        DeviceGraph build(int capacity) {
            out = new float[capacity * C];
            mean = new float[capacity];
            rstd = new float[capacity];
            x = new float[capacity * C];
            String name = session.graphName(op, "C" + C + (hasBias ? "b" : ""));
            GridScheduler grids = new GridScheduler();
            grid = StagedGraph.grid1(capacity);
            Object[] in = arrays(params, x, w, b);
            TaskGraph tg = new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
            forwardTasks(tg, name, grids, grid, out, mean, rstd, x, w, b, params, 0, C, eps, hasBias);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, out, mean, rstd);
            return device(tg, grids, in, arrays(out, mean, rstd));
        }
    }

    private final class Backward extends StagedGraph {
        final int C;
        final boolean weight, bias;
        final int[] params = new int[NormKernels.PARAMS];
        final float[] w, dw, db;
        float[] dx, dy, x, mean, rstd;
        WorkerGrid1D grid;

        Backward(int C, boolean weight, boolean bias) {
            super(LayerNormGraphs.this.session, BACKWARD);
            this.C = C;
            this.weight = weight;
            this.bias = bias;
            this.w = new float[C];
            this.dw = new float[weight ? C : 1];
            this.db = new float[bias ? C : 1];
        }

        void run(float[] dx, int dxOff, float[] dw, int dwOff, float[] db, int dbOff, float[] dy, int dyOff,
                 float[] x, int xOff, float[] w, int wOff, float[] mean, int meanOff, float[] rstd, int rstdOff, int rows) {
            ensureCapacity(rows);
            int n = rows * C;
            System.arraycopy(dx, dxOff, this.dx, 0, n);
            System.arraycopy(dy, dyOff, this.dy, 0, n);
            System.arraycopy(x, xOff, this.x, 0, n);
            System.arraycopy(w, wOff, this.w, 0, C);
            System.arraycopy(mean, meanOff, this.mean, 0, rows);
            System.arraycopy(rstd, rstdOff, this.rstd, 0, rows);
            if (weight) {
                System.arraycopy(dw, dwOff, this.dw, 0, C);
            }
            if (bias) {
                System.arraycopy(db, dbOff, this.db, 0, C);
            }
            params[NormKernels.ROWS] = rows;
            size(grid, rows);
            graph.execute();
            System.arraycopy(this.dx, 0, dx, dxOff, n);
            // Staged in two arrays, copied back in order: a bias in the weight gradient's own array
            // lands at its own offset either way.
            if (weight) {
                System.arraycopy(this.dw, 0, dw, dwOff, C);
            }
            if (bias) {
                System.arraycopy(this.db, 0, db, dbOff, C);
            }
        }

        @Override
        DeviceGraph build(int capacity) {
            dx = new float[capacity * C];
            dy = new float[capacity * C];
            x = new float[capacity * C];
            mean = new float[capacity];
            rstd = new float[capacity];
            String name = session.graphName(op, "C" + C + (weight ? "w" : "") + (bias ? "b" : ""));
            GridScheduler grids = new GridScheduler();
            grid = StagedGraph.grid1(capacity);
            List<Object> in = new ArrayList<>(List.of(params, dx, dy, x, w, mean, rstd));
            List<Object> out = new ArrayList<>(List.of(dx));
            if (weight) {
                in.add(dw);
                out.add(dw);
            }
            if (bias) {
                in.add(db);
                out.add(db);
            }
            TaskGraph tg = new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, in.toArray());
            backwardTasks(tg, name, grids, grid, dx, weight ? dw : null, bias ? db : null, dy, x, w, mean, rstd, params, 0, C);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, out.toArray());
            return device(tg, grids, in.toArray(), out.toArray());
        }
    }

    @Override
    public void close() {
        forwards.forEach(StagedGraph::close);
        backwards.forEach(StagedGraph::close);
    }
}
