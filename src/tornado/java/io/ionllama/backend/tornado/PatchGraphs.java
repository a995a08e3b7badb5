package io.ionllama.backend.tornado;

import io.ionllama.kernels.Patching;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.WorkerGrid1D;

/**
 * The patch boundaries' device op: four tasks ({@link PatchKernels}: calibrate, decide, prefix,
 * rows) in one graph, (mode, fixed length, maxPatch) compiled in, B, T and the per-call switches
 * in {@code params}. A copying graph stages B·T positions and B + 1 sequences, whole arrays from 0.
 *
 * <p>Inside a training step the op is a {@link Site} bound to the model's own arrays, so only
 * {@code params} goes to the device per call and the results stay there: the model reads back the
 * sequence starts and counts (B + 1 ints each, the global stage's sizes) and, after a calibrating
 * call, the one-float state holding θ.
 */
final class PatchGraphs {

    /** The ops' names: their counters in {@link TornadoBackend#stats()}, their graphs' names. */
    static final String PATCH = "patchBoundaries";

    /** The sequence starts come back before the patch rows, whose count (the last start) they give. */
    static void patchBoundaries(DeviceOps ops, int[] ends, int[] endRows, int[] pi, int[] seqStart, int[] seqCount, int[] bytes, float[] hNext,
                         float[] state, int B, int T, int mode, int fixedLength, int maxPatch, int warmupFixed, int calibrate,
                         int rank) {
        if (B <= 0 || T <= 0) {
            ops.cpu.patchBoundaries(ends, endRows, pi, seqStart, seqCount, bytes, hNext, state, B, T, mode, fixedLength, maxPatch,
                    warmupFixed, calibrate, rank);
            return;
        }
        int N = B * T;
        ops.run(DeviceOps.call(PATCH, PatchKernels.PARAMS, -1, mode, fixedLength, maxPatch).size(PatchKernels.B, B)
                .size(PatchKernels.T, T).size(PatchKernels.WARMUP, warmupFixed)
                .size(PatchKernels.CALIBRATE, calibrate != 0 && Patching.scoreCount(mode, B, T) > 0 ? 1 : 0)
                .size(PatchKernels.RANK, rank).rows(N, StagedGraph.capacityFor(B + 1)).grids(grids(B))
                .out(seqStart, 0, B + 1, 1).rows2().out(seqCount, 0, B, 1).rows2().out(ends, 0, N, 1)
                .out(endRows, 0, N, 1).lazy(() -> seqStart[B]).out(pi, 0, N, 1).in(bytes, 0, N, 1).in(hNext, 0, N, 1)
                .inoutFixed(state, 0, Patching.STATE).tasks((tg, name, grids, st) -> tasks(tg, name, grids,
                        new WorkerGrid1D[] {st.grid1(0), st.grid1(1), st.grid1(2), st.grid1(3)}, st.i(2), st.i(3), st.i(4), st.i(0),
                        st.i(1), st.i(5), st.f(6), st.f(7), st.params, st.pb(), mode, fixedLength, maxPatch)));
    }

    /** The four tasks' grids: one work-group, a thread per sequence, one thread, a thread per sequence. */
    private static WorkerGrid[] grids(int B) {
        WorkerGrid1D calibrate = new WorkerGrid1D(PatchKernels.GROUP);
        calibrate.setGlobalWork(PatchKernels.GROUP, 1, 1);
        calibrate.setLocalWork(PatchKernels.GROUP, 1, 1);
        return new WorkerGrid[] {calibrate, StagedGraph.grid1(B), DeviceOps.oneThread(), StagedGraph.grid1(B)};
    }

    /** Adds the four tasks; no task gets one array twice. */
    static void tasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D[] g, int[] ends, int[] endRows, int[] pi,
                      int[] seqStart, int[] seqCount, int[] bytes, float[] hNext, float[] state, int[] params, int pb, int mode,
                      int fixedLength, int maxPatch) {
        tg.task("calibrate", PatchKernels::calibrate, new KernelContext(), hNext, state, params, pb, mode);
        tg.task("decide", PatchKernels::decide, new KernelContext(), ends, seqCount, bytes, hNext, state, params, pb, mode,
                fixedLength, maxPatch);
        tg.task("prefix", PatchKernels::prefix, new KernelContext(), seqStart, seqCount, params, pb);
        tg.task("rows", PatchKernels::rows, new KernelContext(), endRows, pi, ends, seqStart, params, pb);
        grids.addWorkerGrid(name + ".calibrate", g[0]);
        grids.addWorkerGrid(name + ".decide", g[1]);
        grids.addWorkerGrid(name + ".prefix", g[2]);
        grids.addWorkerGrid(name + ".rows", g[3]);
    }
}
