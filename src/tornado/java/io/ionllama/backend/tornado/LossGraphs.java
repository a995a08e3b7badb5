package io.ionllama.backend.tornado;

import io.ionllama.kernels.Losses;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;

/**
 * The losses' device ops: cross-entropy forward and backward, entropy, argmax and the batch
 * statistics, V compiled in (and the backward's dloss stride, the statistics' argmax flag), the
 * row count per call.
 *
 * <p>The CE backward reads its scale from an array, never a scalar, at the caller's offset with
 * the caller's stride compiled in: stride 0 is one float (the model passes
 * {@code stats[STAT_INV_VALID]}, which a step's site reads where the statistics kernel left it on
 * the device), stride s one per row, s apart. The statistics without argmax take a one-int
 * stand-in.
 */
final class LossGraphs {

    /** The ops' names: their counters in {@link TornadoBackend#stats()}, their graphs' names. */
    static final String CE_FORWARD = "crossEntropyForward", CE_BACKWARD = "crossEntropyBackward", ENTROPY = "entropy",
            ARGMAX = "argmax", LOSS_STATS = "lossStats";

    /** params = [rows, offsets...] in the order of the kernel's array arguments; a thread per row. */
    private static OpCall rows(String op, int rows, int... dims) {
        return DeviceOps.call(op, LossKernels.PARAMS, LossKernels.OFF0, dims).skipIf(rows <= 0).size(LossKernels.ROWS, rows).rows(rows)
                .grids(DeviceOps.grid1(rows));
    }

    static void crossEntropyForward(DeviceOps ops, float[] losses, int lossesOff, float[] probs, int probsOff, float[] logits, int logitsOff,
                             int[] targets, int targetsOff, int n, int V) {
        ops.run(rows(CE_FORWARD, n, V).skipIf(V <= 0).out(losses, lossesOff, n, 1).out(probs, probsOff, n * V, V).in(logits, logitsOff, n * V, V)
                .in(targets, targetsOff, n, 1).tasks((tg, name, grids, st) -> ceForwardTasks(tg, name, grids, st.grid1(), st.f(0),
                        st.f(1), st.f(2), st.i(3), st.params, st.pb(), V)));
    }

    static void entropy(DeviceOps ops, float[] entropy, int entropyOff, float[] logits, int logitsOff, int n, int V) {
        ops.run(rows(ENTROPY, n, V).skipIf(V <= 0).out(entropy, entropyOff, n, 1).in(logits, logitsOff, n * V, V).tasks((tg, name, grids, st) ->
                entropyTasks(tg, name, grids, st.grid1(), st.f(0), st.f(1), st.params, st.pb(), V)));
    }

    static void argmax(DeviceOps ops, int[] argmax, int argmaxOff, float[] logits, int logitsOff, int n, int V) {
        ops.run(rows(ARGMAX, n, V).skipIf(V <= 0).out(argmax, argmaxOff, n, 1).in(logits, logitsOff, n * V, V).tasks((tg, name, grids, st) ->
                argmaxTasks(tg, name, grids, st.grid1(), st.i(0), st.f(1), st.params, st.pb(), V)));
    }

    static void crossEntropyBackward(DeviceOps ops, float[] dlogits, int dlogitsOff, float[] probs, int probsOff, int[] targets, int targetsOff,
                              float[] dloss, int dlossOff, int dlossStride, int n, int V) {
        OpCall c = rows(CE_BACKWARD, n, V, dlossStride).skipIf(V <= 0).inout(dlogits, dlogitsOff, n * V, V).in(probs, probsOff, n * V, V)
                .in(targets, targetsOff, n, 1);
        if (dlossStride == 0) {
            c.inFixed(dloss, dlossOff, 1);
        } else {
            c.in(dloss, dlossOff, (n - 1) * dlossStride + 1, dlossStride);
        }
        ops.run(c.tasks((tg, name, grids, st) -> ceBackwardTasks(tg, name, grids, st.grid1(), st.f(0), st.f(1), st.i(2), st.f(3),
                st.params, st.pb(), V, dlossStride)));
    }

    /** The batch statistics in one thread; argmax null: a one-int stand-in (the kernel reads it only with hasArgmax). */
    static void lossStats(DeviceOps ops, float[] out, int outOff, float[] losses, int lossesOff, int[] argmax, int argmaxOff,
                   int[] targets, int targetsOff, int n) {
        if (n <= 0) {
            ops.cpu.lossStats(out, outOff, losses, lossesOff, argmax, argmaxOff, targets, targetsOff, n); // the statistics of nothing
            return;
        }
        int hasArgmax = argmax == null ? 0 : 1;
        ops.run(rows(LOSS_STATS, n, hasArgmax).grids(DeviceOps.oneThread()).outFixed(out, outOff, Losses.STATS)
                .in(losses, lossesOff, n, 1).in(argmax, argmaxOff, n, 1).orStandIn(int[].class).in(targets, targetsOff, n, 1)
                .tasks((tg, name, grids, st) -> statsTasks(tg, name, grids, st.grid1(), st.f(0), st.f(1), st.i(2), st.i(3),
                        st.params, st.pb(), hasArgmax)));
    }

    static void ceForwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] losses, float[] probs,
                               float[] logits, int[] targets, int[] params, int pb, int V) {
        tg.task("rows", LossKernels::crossEntropyForward, new KernelContext(), losses, probs, logits, targets, params, pb, V);
        grids.addWorkerGrid(name + ".rows", grid);
    }

    static void entropyTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] entropy, float[] logits,
                             int[] params, int pb, int V) {
        tg.task("rows", LossKernels::entropy, new KernelContext(), entropy, logits, params, pb, V);
        grids.addWorkerGrid(name + ".rows", grid);
    }

    static void argmaxTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, int[] argmax, float[] logits,
                            int[] params, int pb, int V) {
        tg.task("rows", LossKernels::argmax, new KernelContext(), argmax, logits, params, pb, V);
        grids.addWorkerGrid(name + ".rows", grid);
    }

    static void ceBackwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] dlogits, float[] probs,
                                int[] targets, float[] dloss, int[] params, int pb, int V, int dlossStride) {
        tg.task("rows", LossKernels::crossEntropyBackward, new KernelContext(), dlogits, probs, targets, dloss, params, pb, V,
                dlossStride);
        grids.addWorkerGrid(name + ".rows", grid);
    }

    static void statsTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] stats, float[] losses,
                           int[] argmax, int[] targets, int[] params, int pb, int hasArgmax) {
        tg.task("batch", LossKernels::lossStats, new KernelContext(), stats, losses, argmax, targets, params, pb, hasArgmax);
        grids.addWorkerGrid(name + ".batch", grid);
    }
}
