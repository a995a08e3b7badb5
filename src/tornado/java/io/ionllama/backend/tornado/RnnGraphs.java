package io.ionllama.backend.tornado;

import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;

/**
 * The context-vector RNN's gate ops ({@link RnnKernels}), C compiled in, the row count per call.
 * Inside a step the T time steps of a layer share one site and one compiled kernel, each call's
 * offsets in its {@code params}.
 */
final class RnnGraphs {

    /** The ops' names: their counters in {@link TornadoBackend#stats()}, their graphs' names. */
    static final String GATES_FORWARD = "rnnGatesForward";
    static final String GATES_BACKWARD = "rnnGatesBackward";

    /** params = [rows, offsets...] in the order of the kernel's array arguments; a thread per cell. */
    private static OpCall cells(String op, int rows, int... dims) {
        return DeviceOps.call(op, RnnKernels.PARAMS, RnnKernels.OFF0, dims).skipIf(rows <= 0 || dims[0] <= 0)
                .size(RnnKernels.ROWS, rows).rows(rows)
                .grids(DeviceOps.grid1(rows * dims[0]));
    }

    static void gatesForward(DeviceOps ops, float[] p, int pOff, float[] z, int zOff, float[] c, int cOff, int rows, int C) {
        ops.run(cells(GATES_FORWARD, rows, C).out(p, pOff, rows * C, C).in(z, zOff, rows * 3 * C, 3 * C).in(c, cOff, rows * C, C)
                .tasks((tg, name, grids, st) -> forwardTasks(tg, name, grids, st.grid1(), st.f(0), st.f(1), st.f(2), st.params,
                        st.pb(), C)));
    }

    /** dc null: the first time step (c is the zero state), dz only; a one-float stand-in the kernel does not write. */
    static void gatesBackward(DeviceOps ops, float[] dz, int dzOff, float[] dc, int dcOff, float[] dp, int dpOff, float[] z, int zOff,
                       float[] c, int cOff, int rows, int C) {
        boolean hasDc = dc != null;
        ops.run(cells(GATES_BACKWARD, rows, C, hasDc ? 1 : 0).inout(dz, dzOff, rows * 3 * C, 3 * C).inout(dc, dcOff, rows * C, C)
                .orStandIn(float[].class).in(dp, dpOff, rows * C, C).in(z, zOff, rows * 3 * C, 3 * C).in(c, cOff, rows * C, C)
                .tasks((tg, name, grids, st) -> backwardTasks(tg, name, grids, st.grid1(), st.f(0), st.f(1), st.f(2), st.f(3),
                        st.f(4), st.params, st.pb(), C, hasDc)));
    }

    static void forwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] p, float[] z, float[] c,
                             int[] params, int pb, int C) {
        tg.task("cells", RnnKernels::gatesForward, new KernelContext(), p, z, c, params, pb, C);
        grids.addWorkerGrid(name + ".cells", grid);
    }

    static void backwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] dz, float[] dc, float[] dp,
                              float[] z, float[] c, int[] params, int pb, int C, boolean hasDc) {
        tg.task("cells", RnnKernels::gatesBackward, new KernelContext(), dz, dc, dp, z, c, params, pb, C, hasDc ? 1 : 0);
        grids.addWorkerGrid(name + ".cells", grid);
    }
}
