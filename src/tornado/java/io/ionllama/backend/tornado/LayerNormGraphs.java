package io.ionllama.backend.tornado;

import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;

/**
 * LayerNorm's device ops ({@link NormKernels}'s {@code layer*} kernels; only {@code --model rnn}
 * calls LayerNorm), as {@link NormGraphs} does RMSNorm's: C and eps compiled in, the row count per
 * call.
 *
 * <p>The model keeps the norm's weight and bias in its one parameter array, and their gradients
 * in its one gradient array. A site binds each array once (a task given one array twice never
 * compiles, docs/gpu.md's table): the forward then runs {@link NormKernels#layerForwardBiasInWeights},
 * and the backward's weight and bias gradients are two tasks, each binding the gradient array once.
 * A copying graph stages the two in arrays of their own and copies them back in order.
 */
final class LayerNormGraphs {

    /** The ops' names: their counters in {@link TornadoBackend#stats()}, their graphs' names. */
    static final String FORWARD = "layerNormForward";
    static final String BACKWARD = "layerNormBackward";

    /** b null: no bias (a one-float stand-in the kernel does not read); b may be w's own array. */
    static void forward(DeviceOps ops, float[] out, int outOff, float[] mean, int meanOff, float[] rstd, int rstdOff, float[] x, int xOff,
                 float[] w, int wOff, float[] b, int bOff, int rows, int C, float eps) {
        boolean hasBias = b != null;
        ops.run(NormGraphs.rows(FORWARD, rows, C, Float.floatToIntBits(eps), hasBias ? 1 : 0).out(out, outOff, rows * C, C)
                .out(mean, meanOff, rows, 1).out(rstd, rstdOff, rows, 1).in(x, xOff, rows * C, C).inFixed(w, wOff, C)
                .inFixed(b, bOff, C).orStandIn(float[].class).shares().tasks((tg, name, grids, st) -> forwardTasks(tg, name, grids,
                        st.grid1(), st.f(0), st.f(1), st.f(2), st.f(3), st.f(4), st.f(5), st.params, st.pb(), C, eps, hasBias)));
    }

    /** dw, db null: that gradient is not wanted. db may be dw's own array. */
    static void backward(DeviceOps ops, float[] dx, int dxOff, float[] dw, int dwOff, float[] db, int dbOff, float[] dy, int dyOff,
                  float[] x, int xOff, float[] w, int wOff, float[] mean, int meanOff, float[] rstd, int rstdOff, int rows, int C) {
        ops.run(NormGraphs.rows(BACKWARD, rows, C).inout(dx, dxOff, rows * C, C).in(dy, dyOff, rows * C, C).in(x, xOff, rows * C, C)
                .inFixed(w, wOff, C).in(mean, meanOff, rows, 1).in(rstd, rstdOff, rows, 1).inoutFixed(dw, dwOff, C)
                .inoutFixed(db, dbOff, C).shares().tasks((tg, name, grids, st) -> backwardTasks(tg, name, grids, st.grid1(), st.f(0),
                        st.f(6), st.f(7), st.f(1), st.f(2), st.f(3), st.f(4), st.f(5), st.params, st.pb(), C)));
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
            grids.addWorkerGrid(name + ".weight", StagedGraph.grid1(C));
        }
        if (db != null) {
            tg.task("bias", NormKernels::layerBackwardBias, new KernelContext(), db, dy, params, pb, C);
            grids.addWorkerGrid(name + ".bias", StagedGraph.grid1(C));
        }
    }
}
