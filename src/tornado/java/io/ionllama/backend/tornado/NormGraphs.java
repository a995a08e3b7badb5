package io.ionllama.backend.tornado;

import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;

/**
 * RMSNorm's device ops, C and eps compiled in, the row count per call ({@link OpCall}). LayerNorm's
 * are in {@link LayerNormGraphs}.
 */
final class NormGraphs {

    /** The ops' names: their counters in {@link TornadoBackend#stats()}, their graphs' names. */
    static final String RMS_FORWARD = "rmsNormForward";
    static final String RMS_BACKWARD = "rmsNormBackward";

    /** A norm's call over {@code rows} rows: params = [rows, offsets...] in the order of the kernel's array arguments. */
    static OpCall rows(String op, int rows, int... dims) {
        return DeviceOps.call(op, NormKernels.PARAMS, NormKernels.OFF0, dims).skipIf(rows <= 0 || dims[0] <= 0)
                .size(NormKernels.ROWS, rows).rows(rows)
                .grids(DeviceOps.grid1(rows));
    }

    static void rmsForward(DeviceOps ops, float[] out, int outOff, float[] rstd, int rstdOff, float[] x, int xOff, float[] w, int wOff,
                    int rows, int C, float eps) {
        if (rows <= 0 || C <= 0) {
            ops.cpu.rmsNormForward(out, outOff, rstd, rstdOff, x, xOff, w, wOff, rows, C, eps);
            return;
        }
        ops.run(rows(RMS_FORWARD, rows, C, Float.floatToIntBits(eps)).out(out, outOff, rows * C, C).out(rstd, rstdOff, rows, 1)
                .in(x, xOff, rows * C, C).inFixed(w, wOff, C).tasks((tg, name, grids, st) -> forwardTasks(tg, name, grids, st.grid1(),
                        st.f(0), st.f(1), st.f(2), st.f(3), st.params, st.pb(), C, eps)));
    }

    /** dw null: no weight gradient. */
    static void rmsBackward(DeviceOps ops, float[] dx, int dxOff, float[] dw, int dwOff, float[] dy, int dyOff, float[] x, int xOff,
                     float[] w, int wOff, float[] rstd, int rstdOff, int rows, int C) {
        if (rows <= 0 || C <= 0) {
            ops.cpu.rmsNormBackward(dx, dxOff, dw, dwOff, dy, dyOff, x, xOff, w, wOff, rstd, rstdOff, rows, C);
            return;
        }
        ops.run(rows(RMS_BACKWARD, rows, C).inout(dx, dxOff, rows * C, C).in(dy, dyOff, rows * C, C).in(x, xOff, rows * C, C)
                .inFixed(w, wOff, C).in(rstd, rstdOff, rows, 1).inoutFixed(dw, dwOff, C).tasks((tg, name, grids, st) ->
                        backwardTasks(tg, name, grids, st.grid1(), st.f(0), st.f(5), st.f(1), st.f(2), st.f(3), st.f(4), st.params,
                                st.pb(), C)));
    }

    static void forwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] out, float[] rstd,
                             float[] x, float[] w, int[] params, int pb, int C, float eps) {
        tg.task("rows", NormKernels::rmsForward, new KernelContext(), out, rstd, x, w, params, pb, C, eps);
        grids.addWorkerGrid(name + ".rows", grid);
    }

    static void backwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D rowGrid, float[] dx, float[] dw,
                              float[] dy, float[] x, float[] w, float[] rstd, int[] params, int pb, int C) {
        tg.task("input", NormKernels::rmsBackwardInput, new KernelContext(), dx, dy, x, w, rstd, params, pb, C);
        grids.addWorkerGrid(name + ".input", rowGrid);
        if (dw != null) {
            tg.task("weight", NormKernels::rmsBackwardWeight, new KernelContext(), dw, dy, x, rstd, params, pb, C);
            grids.addWorkerGrid(name + ".weight", StagedGraph.grid1(C));
        }
    }
}
