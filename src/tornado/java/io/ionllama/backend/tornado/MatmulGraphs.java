package io.ionllama.backend.tornado;

import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.WorkerGrid2D;

/**
 * The matmul's device ops: forward (one thread per output cell, or the tiled local-memory kernel),
 * input gradient, and weight and bias gradients.
 *
 * <p>Per-op transfers: the {@link io.ionllama.backend.Backend} interface hands over
 * {@code float[]} slices (array + offset), while a TaskGraph is bound to the array objects it was
 * built with. So outside a step each op runs through a copying graph ({@link StagedGraph}): a call
 * copies its input slices into its staging arrays, the graph transfers them to the device, runs,
 * and transfers the result back, and the call copies it out into the caller's slice. Accumulated
 * gradients (dx, dW, db) travel both ways. Inside a step the call is a {@link Residency} site bound
 * to the caller's arrays.
 *
 * <p>Compiled in (docs/gpu.md, pitfall 3): {@code in}, {@code out} and the bias flag. The row
 * count changes from call to call: it is written into {@code params} and the worker grid's global
 * size is set for it before each execution; the kernels mask the rest. Only a call with more rows
 * than the graph's capacity builds a bigger graph.
 */
final class MatmulGraphs {

    /** The ops' names: their counters in {@link TornadoBackend#stats()}, their graphs' names. */
    static final String FORWARD = "matmulForward", FORWARD_TILED = "matmulForwardTiled",
            BACKWARD_INPUT = "matmulBackwardInput", BACKWARD_WEIGHT = "matmulBackwardWeight";

    /** params = [rows, offsets in the kernel's order]. */
    private static OpCall call(String op, int rows, int... dims) {
        return DeviceOps.call(op, MatmulKernels.PARAMS, MatmulKernels.OFF0, dims).size(MatmulKernels.ROWS, rows).rows(rows);
    }

    /**
     * y = x W^T + b through the per-cell kernel ({@code tile == 0}) or the tiled one with tile x tile
     * work-groups. No bias: a one-float stand-in (the kernel reads it only with hasBias). A bias in
     * the weights' own array binds that array once ({@link MatmulKernels#forwardBiasInWeights}),
     * the tiled kernel excepted.
     */
    static void forward(DeviceOps ops, float[] y, int yOff, float[] x, int xOff, float[] w, int wOff, float[] b, int bOff,
                 int rows, int in, int out, int tile) {
        if (rows <= 0 || in <= 0 || out <= 0) {
            ops.cpu.matmulForward(y, yOff, x, xOff, w, wOff, b, bOff, rows, in, out); // in = 0: the bias
            return;
        }
        int hasBias = b == null ? 0 : 1;
        boolean tiled = tile != 0;
        OpCall c = call(tiled ? FORWARD_TILED : FORWARD, rows, in, out, hasBias, tile).out(y, yOff, rows * out, out)
                .in(x, xOff, rows * in, in).inFixed(w, wOff, out * in).inFixed(b, bOff, out).orStandIn(float[].class);
        if (!tiled) {
            c.shares();
        }
        WorkerGrid2D grid = new WorkerGrid2D(StagedGraph.LOCAL_X, StagedGraph.LOCAL_Y);
        sizeForward(grid, rows, out, tile);
        ops.run(c.grids(grid).tasks((tg, name, grids, st) -> forwardTasks(tg, name, grids, st.grid2(), st.f(0), st.f(1), st.f(2),
                st.f(3), st.params, st.pb(), hasBias, in, out, tiled)));
    }

    private static void sizeForward(WorkerGrid2D grid, int rows, int out, int tile) {
        int tx = tile != 0 ? tile : StagedGraph.LOCAL_X, ty = tile != 0 ? tile : StagedGraph.LOCAL_Y;
        grid.setGlobalWork(roundUp(out, tx), roundUp(rows, ty), 1);
        grid.setLocalWork(tx, ty, 1);
    }

    static void backwardInput(DeviceOps ops, float[] dx, int dxOff, float[] dy, int dyOff, float[] w, int wOff, int rows, int in, int out) {
        if (rows <= 0 || in <= 0 || out <= 0) {
            ops.cpu.matmulBackwardInput(dx, dxOff, dy, dyOff, w, wOff, rows, in, out);
            return;
        }
        WorkerGrid2D grid = new WorkerGrid2D(StagedGraph.LOCAL_X, StagedGraph.LOCAL_Y);
        grid.setGlobalWork(roundUp(in, StagedGraph.LOCAL_X), roundUp(rows, StagedGraph.LOCAL_Y), 1);
        grid.setLocalWork(StagedGraph.LOCAL_X, StagedGraph.LOCAL_Y, 1);
        ops.run(call(BACKWARD_INPUT, rows, in, out).inout(dx, dxOff, rows * in, in).in(dy, dyOff, rows * out, out)
                .inFixed(w, wOff, out * in).grids(grid).tasks((tg, name, grids, st) -> backwardInputTasks(tg, name, grids, st.grid2(),
                        st.f(0), st.f(1), st.f(2), st.params, st.pb(), in, out)));
    }

    /**
     * dW (and db) += the row sums; db null: weight gradient only. A bias gradient in the weight
     * gradient's own array binds that array once ({@link MatmulKernels#backwardBiasInWeights}).
     * The grids cover dW and db, whose sizes do not depend on the row count: the tasks make them.
     */
    static void backwardWeight(DeviceOps ops, float[] dw, int dwOff, float[] db, int dbOff, float[] dy, int dyOff, float[] x, int xOff,
                        int rows, int in, int out) {
        if (rows <= 0 || in <= 0 || out <= 0) {
            ops.cpu.matmulBackwardWeight(dw, dwOff, db, dbOff, dy, dyOff, x, xOff, rows, in, out);
            return;
        }
        ops.run(call(BACKWARD_WEIGHT, rows, in, out).inoutFixed(dw, dwOff, out * in).in(dy, dyOff, rows * out, out)
                .in(x, xOff, rows * in, in).inoutFixed(db, dbOff, out).shares().tasks((tg, name, grids, st) ->
                        backwardWeightTasks(tg, name, grids, st.f(0), st.f(3), st.f(1), st.f(2), st.params, st.pb(), in, out)));
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

    static int roundUp(int n, int multiple) {
        return StagedGraph.roundUp(n, multiple);
    }
}
