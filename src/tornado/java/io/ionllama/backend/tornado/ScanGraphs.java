package io.ionllama.backend.tornado;

import io.ionllama.kernels.Scan;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;

/**
 * The IntegralLNN scan's device ops (forward and backward), each the three chunked phases of
 * {@link ScanKernels} as three tasks, C compiled in. Always the chunked scan: on a device the
 * sequential form would leave a thread walking T steps per channel. The backend's
 * {@code scanForward}/{@code scanBackward} take the chunk length {@link #defaultChunk} (about
 * sqrt(T)) and agree with the CPU's sequential scan to rounding. B, T and the chunk length are per call; a
 * copying graph's capacity counts B*T rows of C floats. The carries live only on the device: a
 * copying graph's are sent once and overwritten by phase 1 every time; a step's site has carries
 * of its own sized for the call (see {@link #carryCapacity}).
 *
 * <p>The family's other ops: generation's scan step ({@link #step}, copying graphs per capacity
 * class of channel counts, as the glue's elementwise ops) and the IntegralLNN gate that computes
 * the scan's decay ({@link #gateForward}, {@link #gateBackward}, C compiled in, rows per call).
 * Their params carry the count and the caller's offsets ({@link ScanKernels#COUNT_OFF0}).
 */
final class ScanGraphs {

    /** The ops' names: their counters in {@link TornadoBackend#stats()}, their graphs' names. */
    static final String FORWARD = "scanForward", BACKWARD = "scanBackward", STEP = "scanStep",
            GATE_FORWARD = "integralGateForward", GATE_BACKWARD = "integralGateBackward";

    /**
     * The chunk length the device uses when the caller leaves it open: about sqrt(T), which
     * balances the sequential work per thread in the chunk phases (L steps) against the carry
     * phase (T/L chunks).
     */
    static int defaultChunk(int T) {
        int L = (int) Math.ceil(Math.sqrt(T));
        return Math.max(1, L);
    }

    /**
     * A scan call: params = [B, T, chunk, chunks, offset of the sequences, of the carries (0)], the
     * three phases' grids; the sequence arrays' slices (all at {@code off}) follow, then the carries.
     */
    private static OpCall scan(String op, int B, int T, int C, int chunk) {
        if (chunk < 1) {
            throw new IllegalArgumentException("scan chunk length must be >= 1, got " + chunk);
        }
        int chunks = Scan.chunkCount(T, chunk);
        return DeviceOps.call(op, ScanKernels.PARAMS, -1, C).skipIf(B <= 0 || T <= 0 || C <= 0).size(ScanKernels.B, B).size(ScanKernels.T, T)
                .size(ScanKernels.CHUNK, chunk).size(ScanKernels.CHUNKS, chunks).rows(B * T)
                .grids(DeviceOps.grid1(B * chunks * C, B * C, B * chunks * C));
    }

    /** The carries: the site's own for {@code carryCapacity} rows of C floats, a copying graph's for its capacity. */
    private static OpCall carries(OpCall c, int B, int T, int C, int chunk) {
        int cap = carryCapacity(B, T, chunk);
        return c.scratch(float[].class, cap * C, C).at(ScanKernels.OFF0 + 1).scratch(float[].class, cap * C, C)
                .at(ScanKernels.OFF0 + 1);
    }

    static void forward(DeviceOps ops, float[] h, float[] a, float[] u, int off, int B, int T, int C, int chunk) {
        int n = B * T * C, o = ScanKernels.OFF0;
        OpCall c = scan(FORWARD, B, T, C, chunk).out(h, off, n, C).at(o).in(a, off, n, C).at(o).in(u, off, n, C).at(o);
        ops.run(carries(c, B, T, C, chunk).tasks((tg, name, grids, st) -> forwardTasks(tg, name, grids, st.grid1(0), st.grid1(1),
                st.grid1(2), st.f(0), st.f(1), st.f(2), st.f(3), st.f(4), st.params, st.pb(), C)));
    }

    static void backward(DeviceOps ops, float[] da, float[] du, float[] dh, float[] h, float[] a, float[] u, int off, int B, int T, int C,
                  int chunk) {
        int n = B * T * C, o = ScanKernels.OFF0;
        OpCall c = scan(BACKWARD, B, T, C, chunk).inout(da, off, n, C).at(o).inout(du, off, n, C).at(o).in(dh, off, n, C).at(o)
                .in(h, off, n, C).at(o).in(a, off, n, C).at(o).in(u, off, n, C).at(o);
        ops.run(carries(c, B, T, C, chunk).tasks((tg, name, grids, st) -> backwardTasks(tg, name, grids, st.grid1(0), st.grid1(1),
                st.grid1(2), st.f(0), st.f(1), st.f(2), st.f(3), st.f(4), st.f(5), st.f(6), st.f(7), st.params, st.pb(), C)));
    }

    /**
     * Carry rows (of C floats) a site's own carries hold for a call: B * chunk count, rounded up
     * to a power of two. It is part of the site's key, so a call that needs more gets a new site
     * with bigger carries instead of running past the end of the old ones.
     */
    static int carryCapacity(int B, int T, int chunk) {
        return StagedGraph.capacityFor(B * Scan.chunkCount(T, chunk));
    }

    static void forwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D summaryGrid,
                             WorkerGrid1D carryGrid, WorkerGrid1D applyGrid, float[] h, float[] a, float[] u,
                             float[] carryA, float[] carryB, int[] params, int pb, int C) {
        tg.task("summary", ScanKernels::summary, new KernelContext(), carryA, carryB, a, u, params, pb, C)
                .task("carry", ScanKernels::carry, new KernelContext(), carryA, carryB, params, pb, C)
                .task("apply", ScanKernels::apply, new KernelContext(), h, a, u, carryB, params, pb, C);
        grids.addWorkerGrid(name + ".summary", summaryGrid);
        grids.addWorkerGrid(name + ".carry", carryGrid);
        grids.addWorkerGrid(name + ".apply", applyGrid);
    }

    static void backwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D summaryGrid,
                              WorkerGrid1D carryGrid, WorkerGrid1D applyGrid, float[] da, float[] du, float[] dh,
                              float[] h, float[] a, float[] u, float[] carryA, float[] carryB, int[] params, int pb, int C) {
        tg.task("summary", ScanKernels::backwardSummary, new KernelContext(), carryA, carryB, dh, a, params, pb, C)
                .task("carry", ScanKernels::backwardCarry, new KernelContext(), carryA, carryB, params, pb, C)
                .task("apply", ScanKernels::backwardApply, new KernelContext(), da, du, dh, h, a, u, carryB, params, pb, C);
        grids.addWorkerGrid(name + ".summary", summaryGrid);
        grids.addWorkerGrid(name + ".carry", carryGrid);
        grids.addWorkerGrid(name + ".apply", applyGrid);
    }

    // ---------------------------------------------------------------- generation's scan step and the IntegralLNN gate

    /** params = [count, offsets...] in the order of the kernel's array arguments (the step's and the gate's layout). */
    private static OpCall count(String op, int count, int... dims) {
        return DeviceOps.call(op, ScanKernels.COUNT_PARAMS, ScanKernels.COUNT_OFF0, dims)
                .skipIf(count <= 0 || dims.length > 0 && dims[0] <= 0).size(ScanKernels.COUNT, count)
                .grids(DeviceOps.grid1(count));
    }

    /** Generation's scan step in place over n channels: h = a h + (1 - a) u. */
    static void step(DeviceOps ops, float[] h, int hOff, float[] a, int aOff, float[] u, int uOff, int n) {
        ops.run(count(STEP, n).byClass(n).inout(h, hOff, n, 1).in(a, aOff, n, 1).in(u, uOff, n, 1).tasks((tg, name, grids, st) ->
                stepTasks(tg, name, grids, st.grid1(), st.f(0), st.f(1), st.f(2), st.params, st.pb())));
    }

    static void gateForward(DeviceOps ops, float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows, int C) {
        ops.run(count(GATE_FORWARD, rows, C).rows(rows).out(a, aOff, rows * C, C).in(z, zOff, rows * C, C)
                .inFixed(lambda, lambdaOff, C).tasks((tg, name, grids, st) -> gateForwardTasks(tg, name, grids, st.grid1(), st.f(0),
                        st.f(1), st.f(2), st.params, st.pb(), C)));
    }

    /** One grid, the rows'; gateBackwardTasks sizes the channels' grid from C itself. */
    static void gateBackward(DeviceOps ops, float[] dz, int dzOff, float[] dLambda, int dLambdaOff, float[] da, int daOff,
                      float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows, int C) {
        int n = rows * C;
        ops.run(count(GATE_BACKWARD, rows, C).rows(rows).inout(dz, dzOff, n, C).in(da, daOff, n, C).in(a, aOff, n, C)
                .in(z, zOff, n, C).inFixed(lambda, lambdaOff, C).inoutFixed(dLambda, dLambdaOff, C).tasks((tg, name, grids, st) ->
                        gateBackwardTasks(tg, name, grids, st.grid1(), st.f(0), st.f(5), st.f(1), st.f(2), st.f(3), st.f(4), st.params,
                                st.pb(), C)));
    }

    /** Name of the scan step's one task. */
    static final String STEP_TASK = "elements";

    static void stepTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] h, float[] a,
                          float[] u, int[] params, int pb) {
        tg.task(STEP_TASK, ScanKernels::scanStep, new KernelContext(), h, a, u, params, pb);
        grids.addWorkerGrid(name + "." + STEP_TASK, grid);
    }

    static void gateForwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] a, float[] z,
                                 float[] lambda, int[] params, int pb, int C) {
        tg.task("rows", ScanKernels::gateForward, new KernelContext(), a, z, lambda, params, pb, C);
        grids.addWorkerGrid(name + ".rows", grid);
    }

    static void gateBackwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D rowGrid, float[] dz,
                                  float[] dLambda, float[] da, float[] a, float[] z, float[] lambda, int[] params, int pb, int C) {
        tg.task("rows", ScanKernels::gateBackwardInput, new KernelContext(), dz, da, a, z, lambda, params, pb, C);
        grids.addWorkerGrid(name + ".rows", rowGrid);
        tg.task("channels", ScanKernels::gateBackwardLambda, new KernelContext(), dLambda, da, a, z, lambda, params, pb, C);
        grids.addWorkerGrid(name + ".channels", StagedGraph.grid1(C));
    }
}
