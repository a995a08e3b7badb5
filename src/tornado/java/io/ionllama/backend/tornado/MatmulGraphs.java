package io.ionllama.backend.tornado;

import java.util.ArrayList;
import java.util.List;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.WorkerGrid2D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The matmul's TaskGraphs, one per op and shape, built on first use and cached.
 *
 * <p>Per-op transfers: the {@link io.ionllama.backend.Backend} interface hands over
 * {@code float[]} slices (array + offset), while a TaskGraph is bound to the array objects it was
 * built with. So each graph owns staging arrays: a call copies its input slices into them
 * ({@code System.arraycopy}), the graph transfers them to the device, runs, and transfers the
 * result back, and the call copies it out into the caller's slice. Accumulated gradients
 * (dx, dW, db) travel both ways. The whole-step graphs that keep weights and activations
 * resident on the device come in a later issue; this class is the first, simple shape of it.
 *
 * <p>Cache key and sizes (TORNADOVM.md, pitfall 3): {@code in}, {@code out} and the bias flag are
 * compiled into the kernels, so they select the graph. The row count changes from call to call:
 * a graph is built for a row capacity (a power of two, at least {@link #MIN_ROWS}); a call with
 * up to that many rows writes its count into the graph's {@code params} array (transferred on
 * every execution) and sets the worker grid's global size for that count; the kernels mask rows
 * past it. Only a call with more rows than the capacity builds (and compiles) a bigger graph.
 */
final class MatmulGraphs implements AutoCloseable {

    /** Smallest row capacity a graph is built for. */
    static final int MIN_ROWS = 64;
    /** Work-group shape of the cell kernels: 16 threads along the fast dimension, 4 along the other. */
    static final int LOCAL_X = 16;
    static final int LOCAL_Y = 4;
    static final int LOCAL_1D = 64;

    static final String FORWARD = "matmulForward";
    static final String FORWARD_TILED = "matmulForwardTiled";
    static final String BACKWARD_INPUT = "matmulBackwardInput";
    static final String BACKWARD_WEIGHT = "matmulBackwardWeight";

    private final TornadoSession session;
    private final List<Forward> forwards = new ArrayList<>();
    private final List<Forward> tiled = new ArrayList<>();
    private final List<BackwardInput> backwardInputs = new ArrayList<>();
    private final List<BackwardWeight> backwardWeights = new ArrayList<>();

    MatmulGraphs(TornadoSession session) {
        this.session = session;
    }

    // ---------------------------------------------------------------- forward (cell kernel or tiled)

    /** y = x W^T + b through the per-cell kernel ({@code tile == 0}) or the tiled one. */
    void forward(float[] y, int yOff, float[] x, int xOff, float[] w, int wOff, float[] b, int bOff,
                 int rows, int in, int out, int tile) {
        int hasBias = b == null ? 0 : 1;
        List<Forward> cache = tile == 0 ? forwards : tiled;
        Forward g = null;
        for (Forward f : cache) {
            if (f.in == in && f.out == out && f.hasBias == hasBias) {
                g = f;
                break;
            }
        }
        if (g == null) {
            g = new Forward(in, out, hasBias, tile != 0);
            cache.add(g);
        }
        g.run(y, yOff, x, xOff, w, wOff, b, bOff, rows, tile);
    }

    private final class Forward {
        final int in, out, hasBias;
        final boolean tiledKernel;
        final int[] params = new int[1];
        final float[] w, b;
        int capacity;
        float[] x, y;
        WorkerGrid2D grid;
        DeviceGraph graph;

        Forward(int in, int out, int hasBias, boolean tiledKernel) {
            this.in = in;
            this.out = out;
            this.hasBias = hasBias;
            this.tiledKernel = tiledKernel;
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
            if (tiledKernel) {
                grid.setGlobalWork(roundUp(out, tile), roundUp(rows, tile), 1);
                grid.setLocalWork(tile, tile, 1);
            } else {
                grid.setGlobalWork(roundUp(out, LOCAL_X), roundUp(rows, LOCAL_Y), 1);
                grid.setLocalWork(LOCAL_X, LOCAL_Y, 1);
            }
            graph.execute();
            System.arraycopy(this.y, 0, y, yOff, rows * out);
        }

        private void ensureCapacity(int rows) {
            if (graph != null && rows <= capacity) {
                return;
            }
            if (graph != null) {
                graph.close();
            }
            capacity = capacityFor(rows);
            x = new float[capacity * in];
            y = new float[capacity * out];
            String op = tiledKernel ? FORWARD_TILED : FORWARD;
            String task = tiledKernel ? "tiled" : "cells";
            String name = session.graphName(op, in + "x" + out + (hasBias == 1 ? "b" : ""));
            TaskGraph tg = new TaskGraph(name)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, params, x, w, b);
            if (tiledKernel) {
                tg.task(task, MatmulKernels::forwardTiled, new KernelContext(), y, x, w, b, params, hasBias, in, out);
            } else {
                tg.task(task, MatmulKernels::forward, new KernelContext(), y, x, w, b, params, hasBias, in, out);
            }
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, y);
            grid = new WorkerGrid2D(roundUp(out, LOCAL_X), roundUp(capacity, LOCAL_Y));
            graph = new DeviceGraph(tg, new GridScheduler(name + "." + task, grid), session, session.stats(op));
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
        if (g == null) {
            g = new BackwardInput(in, out);
            backwardInputs.add(g);
        }
        g.run(dx, dxOff, dy, dyOff, w, wOff, rows);
    }

    private final class BackwardInput {
        final int in, out;
        final int[] params = new int[1];
        final float[] w;
        int capacity;
        float[] dx, dy;
        WorkerGrid2D grid;
        DeviceGraph graph;

        BackwardInput(int in, int out) {
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

        private void ensureCapacity(int rows) {
            if (graph != null && rows <= capacity) {
                return;
            }
            if (graph != null) {
                graph.close();
            }
            capacity = capacityFor(rows);
            dx = new float[capacity * in];
            dy = new float[capacity * out];
            String name = session.graphName(BACKWARD_INPUT, in + "x" + out);
            TaskGraph tg = new TaskGraph(name)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, params, dx, dy, w)
                    .task("cells", MatmulKernels::backwardInput, new KernelContext(), dx, dy, w, params, in, out)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, dx);
            grid = new WorkerGrid2D(roundUp(in, LOCAL_X), roundUp(capacity, LOCAL_Y));
            graph = new DeviceGraph(tg, new GridScheduler(name + ".cells", grid), session, session.stats(BACKWARD_INPUT));
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
        if (g == null) {
            g = new BackwardWeight(in, out, hasBias);
            backwardWeights.add(g);
        }
        g.run(dw, dwOff, db, dbOff, dy, dyOff, x, xOff, rows);
    }

    private final class BackwardWeight {
        final int in, out, hasBias;
        final int[] params = new int[1];
        final float[] dw, db;
        int capacity;
        float[] dy, x;
        DeviceGraph graph;

        BackwardWeight(int in, int out, int hasBias) {
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

        private void ensureCapacity(int rows) {
            if (graph != null && rows <= capacity) {
                return;
            }
            if (graph != null) {
                graph.close();
            }
            capacity = capacityFor(rows);
            dy = new float[capacity * out];
            x = new float[capacity * in];
            String name = session.graphName(BACKWARD_WEIGHT, in + "x" + out + (hasBias == 1 ? "b" : ""));
            TaskGraph tg = new TaskGraph(name);
            WorkerGrid2D weightGrid = new WorkerGrid2D(roundUp(in, LOCAL_X), roundUp(out, LOCAL_Y));
            weightGrid.setLocalWork(LOCAL_X, LOCAL_Y, 1);
            GridScheduler grids = new GridScheduler(name + ".weight", weightGrid);
            if (hasBias == 1) {
                tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, params, dw, db, dy, x);
                tg.task("weight", MatmulKernels::backwardWeight, new KernelContext(), dw, dy, x, params, in, out);
                tg.task("bias", MatmulKernels::backwardBias, new KernelContext(), db, dy, params, out);
                tg.transferToHost(DataTransferMode.EVERY_EXECUTION, dw, db);
                WorkerGrid1D biasGrid = new WorkerGrid1D(roundUp(out, LOCAL_1D));
                biasGrid.setLocalWork(LOCAL_1D, 1, 1);
                grids.addWorkerGrid(name + ".bias", biasGrid);
            } else {
                tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, params, dw, dy, x);
                tg.task("weight", MatmulKernels::backwardWeight, new KernelContext(), dw, dy, x, params, in, out);
                tg.transferToHost(DataTransferMode.EVERY_EXECUTION, dw);
            }
            graph = new DeviceGraph(tg, grids, session, session.stats(BACKWARD_WEIGHT));
        }
    }

    // ---------------------------------------------------------------- shared

    static int roundUp(int n, int multiple) {
        return (n + multiple - 1) / multiple * multiple;
    }

    static int capacityFor(int rows) {
        int c = MIN_ROWS;
        while (c < rows) {
            c <<= 1;
        }
        return c;
    }

    @Override
    public void close() {
        for (Forward f : forwards) {
            if (f.graph != null) {
                f.graph.close();
            }
        }
        for (Forward f : tiled) {
            if (f.graph != null) {
                f.graph.close();
            }
        }
        for (BackwardInput f : backwardInputs) {
            if (f.graph != null) {
                f.graph.close();
            }
        }
        for (BackwardWeight f : backwardWeights) {
            if (f.graph != null) {
                f.graph.close();
            }
        }
    }
}
