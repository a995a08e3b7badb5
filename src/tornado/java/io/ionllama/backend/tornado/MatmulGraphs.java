package io.ionllama.backend.tornado;

import java.util.ArrayList;
import java.util.List;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.WorkerGrid2D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The matmul's TaskGraphs, one per op and shape, built on first use and cached.
 *
 * <p>Per-op transfers: the {@link io.ionllama.backend.Backend} interface hands over
 * {@code float[]} slices (array + offset), while a TaskGraph is bound to the array objects it was
 * built with. So each graph owns staging arrays ({@link StagedGraph}): a call copies its input
 * slices into them, the graph transfers them to the device, runs, and transfers the result back,
 * and the call copies it out into the caller's slice. Accumulated gradients (dx, dW, db) travel
 * both ways. The whole-step graphs that keep weights and activations resident on the device come
 * in a later issue.
 *
 * <p>Cache key and sizes (docs/gpu.md, pitfall 3): {@code in}, {@code out} and the bias flag are
 * compiled into the kernels, so they select the graph. The row count changes from call to call:
 * it is written into the graph's {@code params} (transferred on every execution) and the worker
 * grid's global size is set for it before each execution; the kernels mask the rest. Only a call
 * with more rows than the graph's capacity builds a bigger graph.
 */
final class MatmulGraphs implements AutoCloseable {

    static final String FORWARD = "matmulForward";
    static final String FORWARD_TILED = "matmulForwardTiled";
    static final String BACKWARD_INPUT = "matmulBackwardInput";
    static final String BACKWARD_WEIGHT = "matmulBackwardWeight";

    private final TornadoSession session;
    private final Residency residency;
    private final List<Forward> forwards = new ArrayList<>();
    private final List<BackwardInput> backwardInputs = new ArrayList<>();
    private final List<BackwardWeight> backwardWeights = new ArrayList<>();

    MatmulGraphs(TornadoSession session, Residency residency) {
        this.session = session;
        this.residency = residency;
    }

    // ---------------------------------------------------------------- forward (cell kernel or tiled)

    /** y = x W^T + b through the per-cell kernel ({@code tile == 0}) or the tiled one with tile x tile work-groups. */
    void forward(float[] y, int yOff, float[] x, int xOff, float[] w, int wOff, float[] b, int bOff,
                 int rows, int in, int out, int tile) {
        int hasBias = b == null ? 0 : 1;
        boolean tiled = tile != 0;
        Forward g = null;
        for (Forward f : forwards) {
            if (f.in == in && f.out == out && f.hasBias == hasBias && f.tiled == tiled) {
                g = f;
                break;
            }
        }
        // A bias in the weights' own array binds that array once (forwardBiasInWeights), the tiled kernel excepted.
        boolean biasInW = b == w && !tiled;
        String op = tiled ? FORWARD_TILED : FORWARD;
        Object[] arrays = b == null || biasInW ? new Object[] {y, x, w} : new Object[] {y, x, w, b};
        Site site = residency.site(new SiteKey(op, new int[] {in, out, b == null ? 0 : biasInW ? 2 : 1, tile}, arrays),
                () -> {
                    // No bias: the site's own one-float stand-in (the kernel reads it only with hasBias).
                    float[] bias = b == null ? new float[1] : b;
                    return new Site(op, MatmulKernels.PARAMS, b == null ? new Object[] {y, x, w, bias} : arrays, new Object[] {y},
                            new WorkerGrid[] {new WorkerGrid2D(StagedGraph.LOCAL_X, StagedGraph.LOCAL_Y)},
                            (tg, name, grids, st) -> forwardTasks(tg, name, grids, st.grid2(), y, x, w, bias, st.params, st.pb(), hasBias, in, out, tiled));
                });
        if (site != null) {
            set(site.params, rows, yOff, xOff, wOff, b == null ? 0 : bOff);
            sizeForward(site.grid2(), rows, out, tile);
        }
        if (residency.run(site)) {
            return;
        }
        if (g == null) {
            g = new Forward(in, out, hasBias, tiled);
            forwards.add(g);
        }
        g.run(y, yOff, x, xOff, w, wOff, b, bOff, rows, tile);
        residency.wroteOnHost(y);
    }

    /** params = [rows, offsets in the kernel's order]. */
    private static void set(int[] params, int rows, int... offsets) {
        params[MatmulKernels.ROWS] = rows;
        System.arraycopy(offsets, 0, params, MatmulKernels.OFF0, offsets.length);
    }

    private static void sizeForward(WorkerGrid2D grid, int rows, int out, int tile) {
        if (tile != 0) {
            grid.setGlobalWork(roundUp(out, tile), roundUp(rows, tile), 1);
            grid.setLocalWork(tile, tile, 1);
        } else {
            grid.setGlobalWork(roundUp(out, StagedGraph.LOCAL_X), roundUp(rows, StagedGraph.LOCAL_Y), 1);
            grid.setLocalWork(StagedGraph.LOCAL_X, StagedGraph.LOCAL_Y, 1);
        }
    }

    static void forwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid2D grid, float[] y, float[] x, float[] w,
                             float[] b, int[] params, int pb, int hasBias, int in, int out, boolean tiled) {
        String task = tiled ? "tiled" : "cells";
        if (b == w) {
            tg.task(task, MatmulKernels::forwardBiasInWeights, new KernelContext(), y, x, w, params, pb, in, out);
        } else if (tiled) {
            tg.task(task, MatmulKernels::forwardTiled, new KernelContext(), y, x, w, b, params, pb, hasBias, in, out);
        } else {
            tg.task(task, MatmulKernels::forward, new KernelContext(), y, x, w, b, params, pb, hasBias, in, out);
        }
        grids.addWorkerGrid(name + "." + task, grid);
    }

    static void backwardInputTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid2D grid, float[] dx, float[] dy,
                                   float[] w, int[] params, int pb, int in, int out) {
        tg.task("cells", MatmulKernels::backwardInput, new KernelContext(), dx, dy, w, params, pb, in, out);
        grids.addWorkerGrid(name + ".cells", grid);
    }

    /** db null: weight gradient only. */
    static void backwardWeightTasks(TaskGraph tg, String name, GridScheduler grids, float[] dw, float[] db, float[] dy, float[] x,
                                    int[] params, int pb, int in, int out) {
        WorkerGrid2D weightGrid = new WorkerGrid2D(roundUp(in, StagedGraph.LOCAL_X), roundUp(out, StagedGraph.LOCAL_Y));
        weightGrid.setLocalWork(StagedGraph.LOCAL_X, StagedGraph.LOCAL_Y, 1);
        grids.addWorkerGrid(name + ".weight", weightGrid);
        tg.task("weight", MatmulKernels::backwardWeight, new KernelContext(), dw, dy, x, params, pb, in, out);
        if (db != null) {
            if (db == dw) {
                tg.task("bias", MatmulKernels::backwardBiasInWeights, new KernelContext(), dw, dy, params, pb, out);
            } else {
                tg.task("bias", MatmulKernels::backwardBias, new KernelContext(), db, dy, params, pb, out);
            }
            WorkerGrid1D biasGrid = new WorkerGrid1D(roundUp(out, StagedGraph.LOCAL_1D));
            biasGrid.setLocalWork(StagedGraph.LOCAL_1D, 1, 1);
            grids.addWorkerGrid(name + ".bias", biasGrid);
        }
    }

    private final class Forward extends StagedGraph {
        final int in, out, hasBias;
        final boolean tiled;
        final int[] params = new int[MatmulKernels.PARAMS];
        final float[] w, b;
        float[] x, y;
        WorkerGrid2D grid;

        Forward(int in, int out, int hasBias, boolean tiled) {
            super(MatmulGraphs.this.session, tiled ? FORWARD_TILED : FORWARD);
            this.in = in;
            this.out = out;
            this.hasBias = hasBias;
            this.tiled = tiled;
            this.w = new float[out * in];
            this.b = new float[hasBias == 1 ? out : 1];
        }

        void run(float[] y, int yOff, float[] x, int xOff, float[] w, int wOff, float[] b, int bOff, int rows, int tile) {
            ensureCapacity(rows);
            System.arraycopy(x, xOff, this.x, 0, rows * in);
            System.arraycopy(w, wOff, this.w, 0, out * in);
            if (hasBias == 1) {
                System.arraycopy(b, bOff, this.b, 0, out);
            }
            params[MatmulKernels.ROWS] = rows;
            sizeForward(grid, rows, out, tiled ? tile : 0);
            graph.execute();
            System.arraycopy(this.y, 0, y, yOff, rows * out);
        }

        @Override
        DeviceGraph build(int capacity) {
            x = new float[capacity * in];
            y = new float[capacity * out];
            String name = session.graphName(op, in + "x" + out + (hasBias == 1 ? "b" : ""));
            TaskGraph tg = new TaskGraph(name)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, params, x, w, b);
            grid = new WorkerGrid2D(roundUp(out, LOCAL_X), roundUp(capacity, LOCAL_Y));
            GridScheduler grids = new GridScheduler();
            forwardTasks(tg, name, grids, grid, y, x, w, b, params, 0, hasBias, in, out, tiled);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, y);
            return device(tg, grids, arrays(params, x, w, b), arrays(y));
        }
    }

    // ---------------------------------------------------------------- backward: input gradient

    void backwardInput(float[] dx, int dxOff, float[] dy, int dyOff, float[] w, int wOff, int rows, int in, int out) {
        BackwardInput g = null;
        for (BackwardInput f : backwardInputs) {
            if (f.in == in && f.out == out) {
                g = f;
                break;
            }
        }
        Site site = residency.site(new SiteKey(BACKWARD_INPUT, new int[] {in, out}, dx, dy, w),
                () -> new Site(BACKWARD_INPUT, MatmulKernels.PARAMS, new Object[] {dx, dy, w}, new Object[] {dx},
                        new WorkerGrid[] {new WorkerGrid2D(StagedGraph.LOCAL_X, StagedGraph.LOCAL_Y)},
                        (tg, name, grids, st) -> backwardInputTasks(tg, name, grids, st.grid2(), dx, dy, w, st.params, st.pb(), in, out)));
        if (site != null) {
            set(site.params, rows, dxOff, dyOff, wOff);
            site.grid2().setGlobalWork(roundUp(in, StagedGraph.LOCAL_X), roundUp(rows, StagedGraph.LOCAL_Y), 1);
            site.grid2().setLocalWork(StagedGraph.LOCAL_X, StagedGraph.LOCAL_Y, 1);
        }
        if (residency.run(site)) {
            return;
        }
        if (g == null) {
            g = new BackwardInput(in, out);
            backwardInputs.add(g);
        }
        g.run(dx, dxOff, dy, dyOff, w, wOff, rows);
        residency.wroteOnHost(dx);
    }

    private final class BackwardInput extends StagedGraph {
        final int in, out;
        final int[] params = new int[MatmulKernels.PARAMS];
        final float[] w;
        float[] dx, dy;
        WorkerGrid2D grid;

        BackwardInput(int in, int out) {
            super(MatmulGraphs.this.session, BACKWARD_INPUT);
            this.in = in;
            this.out = out;
            this.w = new float[out * in];
        }

        void run(float[] dx, int dxOff, float[] dy, int dyOff, float[] w, int wOff, int rows) {
            ensureCapacity(rows);
            System.arraycopy(dx, dxOff, this.dx, 0, rows * in);
            System.arraycopy(dy, dyOff, this.dy, 0, rows * out);
            System.arraycopy(w, wOff, this.w, 0, out * in);
            params[MatmulKernels.ROWS] = rows;
            grid.setGlobalWork(roundUp(in, LOCAL_X), roundUp(rows, LOCAL_Y), 1);
            grid.setLocalWork(LOCAL_X, LOCAL_Y, 1);
            graph.execute();
            System.arraycopy(this.dx, 0, dx, dxOff, rows * in);
        }

        @Override
        DeviceGraph build(int capacity) {
            dx = new float[capacity * in];
            dy = new float[capacity * out];
            String name = session.graphName(op, in + "x" + out);
            TaskGraph tg = new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, params, dx, dy, w);
            grid = new WorkerGrid2D(roundUp(in, LOCAL_X), roundUp(capacity, LOCAL_Y));
            GridScheduler grids = new GridScheduler();
            backwardInputTasks(tg, name, grids, grid, dx, dy, w, params, 0, in, out);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, dx);
            return device(tg, grids, arrays(params, dx, dy, w), arrays(dx));
        }
    }

    // ---------------------------------------------------------------- backward: weight and bias gradients

    void backwardWeight(float[] dw, int dwOff, float[] db, int dbOff, float[] dy, int dyOff, float[] x, int xOff,
                        int rows, int in, int out) {
        int hasBias = db == null ? 0 : 1;
        BackwardWeight g = null;
        for (BackwardWeight f : backwardWeights) {
            if (f.in == in && f.out == out && f.hasBias == hasBias) {
                g = f;
                break;
            }
        }
        // A bias gradient in the weight gradient's own array binds that array once (backwardBiasInWeights).
        Object[] arrays = db == null || db == dw ? new Object[] {dw, dy, x} : new Object[] {dw, db, dy, x};
        Site site = residency.site(new SiteKey(BACKWARD_WEIGHT, new int[] {in, out, db == null ? 0 : db == dw ? 2 : 1}, arrays),
                () -> new Site(BACKWARD_WEIGHT, MatmulKernels.PARAMS, arrays, db == null || db == dw ? new Object[] {dw} : new Object[] {dw, db},
                        new WorkerGrid[0], (tg, name, grids, st) -> backwardWeightTasks(tg, name, grids, dw, db, dy, x, st.params, st.pb(), in, out)));
        if (site != null) {
            set(site.params, rows, dwOff, dyOff, xOff, db == null ? 0 : dbOff);
        }
        if (residency.run(site)) {
            return;
        }
        if (g == null) {
            g = new BackwardWeight(in, out, hasBias);
            backwardWeights.add(g);
        }
        g.run(dw, dwOff, db, dbOff, dy, dyOff, x, xOff, rows);
        residency.wroteOnHost(dw, db);
    }

    private final class BackwardWeight extends StagedGraph {
        final int in, out, hasBias;
        final int[] params = new int[MatmulKernels.PARAMS];
        final float[] dw, db;
        float[] dy, x;

        BackwardWeight(int in, int out, int hasBias) {
            super(MatmulGraphs.this.session, BACKWARD_WEIGHT);
            this.in = in;
            this.out = out;
            this.hasBias = hasBias;
            this.dw = new float[out * in];
            this.db = new float[hasBias == 1 ? out : 1];
        }

        void run(float[] dw, int dwOff, float[] db, int dbOff, float[] dy, int dyOff, float[] x, int xOff, int rows) {
            ensureCapacity(rows);
            System.arraycopy(dw, dwOff, this.dw, 0, out * in);
            if (hasBias == 1) {
                System.arraycopy(db, dbOff, this.db, 0, out);
            }
            System.arraycopy(dy, dyOff, this.dy, 0, rows * out);
            System.arraycopy(x, xOff, this.x, 0, rows * in);
            // The grids cover dW and db, whose sizes do not depend on the row count; the kernels'
            // sums over rows read the count from params.
            params[MatmulKernels.ROWS] = rows;
            graph.execute();
            System.arraycopy(this.dw, 0, dw, dwOff, out * in);
            if (hasBias == 1) {
                System.arraycopy(this.db, 0, db, dbOff, out);
            }
        }

        @Override
        DeviceGraph build(int capacity) {
            dy = new float[capacity * out];
            x = new float[capacity * in];
            String name = session.graphName(op, in + "x" + out + (hasBias == 1 ? "b" : ""));
            TaskGraph tg = new TaskGraph(name);
            GridScheduler grids = new GridScheduler();
            if (hasBias == 1) {
                tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, params, dw, db, dy, x);
            } else {
                tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, params, dw, dy, x);
            }
            backwardWeightTasks(tg, name, grids, dw, hasBias == 1 ? db : null, dy, x, params, 0, in, out);
            if (hasBias == 1) {
                tg.transferToHost(DataTransferMode.EVERY_EXECUTION, dw, db);
            } else {
                tg.transferToHost(DataTransferMode.EVERY_EXECUTION, dw);
            }
            return hasBias == 1 ? device(tg, grids, arrays(params, dw, db, dy, x), arrays(dw, db))
                    : device(tg, grids, arrays(params, dw, dy, x), arrays(dw));
        }
    }

    static int roundUp(int n, int multiple) {
        return StagedGraph.roundUp(n, multiple);
    }

    @Override
    public void close() {
        forwards.forEach(StagedGraph::close);
        backwardInputs.forEach(StagedGraph::close);
        backwardWeights.forEach(StagedGraph::close);
    }
}
