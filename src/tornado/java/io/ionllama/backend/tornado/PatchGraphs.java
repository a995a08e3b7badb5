package io.ionllama.backend.tornado;

import io.ionllama.kernels.Patching;
import java.util.ArrayList;
import java.util.List;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The patch boundaries' TaskGraph: four tasks ({@link PatchKernels}: calibrate, decide, prefix,
 * rows) in one graph, cached per compiled (mode, fixed length, maxPatch), with B, T and the
 * per-call switches in {@code params}. Per-op: staging arrays for B·T positions and B + 1
 * sequences, everything copied in and out per call, as in {@link MatmulGraphs}.
 *
 * <p>Inside a training step the op names a {@link Site} bound to the model's own arrays,
 * so only {@code params} goes to the device per call and the results stay there: the model reads
 * back the sequence starts and counts (B + 1 ints each, the global stage's sizes) and, after a
 * calibrating call, the one-float state holding θ.
 */
final class PatchGraphs implements AutoCloseable {

    static final String PATCH = "patchBoundaries";

    private final TornadoSession session;
    private final Residency residency;
    private final List<Staged> graphs = new ArrayList<>();

    PatchGraphs(TornadoSession session, Residency residency) {
        this.session = session;
        this.residency = residency;
    }

    void patchBoundaries(int[] ends, int[] endRows, int[] pi, int[] seqStart, int[] seqCount, int[] bytes, float[] hNext,
                         float[] state, int B, int T, int mode, int fixedLength, int maxPatch, int warmupFixed, int calibrate,
                         int rank) {
        int doCalibrate = calibrate != 0 && Patching.scoreCount(mode, B, T) > 0 ? 1 : 0;
        Site site = residency.site(
                new SiteKey(PATCH, new int[] {mode, fixedLength, maxPatch}, ends, endRows, pi, seqStart, seqCount, bytes,
                        hNext, state),
                () -> new Site(PATCH, PatchKernels.PARAMS,
                        new Object[] {ends, endRows, pi, seqStart, seqCount, bytes, hNext, state},
                        new Object[] {ends, endRows, pi, seqStart, seqCount, state}, grids(),
                        (tg, name, grids, st) -> tasks(tg, name, grids, st, ends, endRows, pi, seqStart, seqCount, bytes, hNext,
                                state, st.params, st.pb(), mode, fixedLength, maxPatch)));
        if (site != null) {
            setParams(site.params, B, T, warmupFixed, doCalibrate, rank);
            size(site, B);
        }
        if (residency.run(site)) {
            return;
        }
        Staged g = null;
        for (Staged f : graphs) {
            if (f.mode == mode && f.fixedLength == fixedLength && f.maxPatch == maxPatch) {
                g = f;
                break;
            }
        }
        if (g == null) {
            g = new Staged(mode, fixedLength, maxPatch);
            graphs.add(g);
        }
        int N = B * T;
        g.ensureCapacity(N, StagedGraph.capacityFor(B + 1));
        System.arraycopy(bytes, 0, g.bytes, 0, N);
        System.arraycopy(hNext, 0, g.hNext, 0, N);
        g.state[Patching.STATE_THETA] = state[Patching.STATE_THETA];
        setParams(g.params, B, T, warmupFixed, doCalibrate, rank);
        for (int i = 0; i < 4; i++) {
            sizeGrid(g.grids[i], i, B);
        }
        g.graph.execute();
        int R = g.seqStart[B];
        System.arraycopy(g.ends, 0, ends, 0, N);
        System.arraycopy(g.endRows, 0, endRows, 0, R);
        System.arraycopy(g.pi, 0, pi, 0, N);
        System.arraycopy(g.seqStart, 0, seqStart, 0, B + 1);
        System.arraycopy(g.seqCount, 0, seqCount, 0, B);
        state[Patching.STATE_THETA] = g.state[Patching.STATE_THETA];
        residency.wroteOnHost(ends, endRows, pi, seqStart, seqCount, state);
    }

    static void setParams(int[] params, int B, int T, int warmupFixed, int calibrate, int rank) {
        params[PatchKernels.B] = B;
        params[PatchKernels.T] = T;
        params[PatchKernels.WARMUP] = warmupFixed;
        params[PatchKernels.CALIBRATE] = calibrate;
        params[PatchKernels.RANK] = rank;
    }

    /** The four tasks' grids: one work-group, a thread per sequence, one thread, a thread per sequence. */
    static WorkerGrid[] grids() {
        WorkerGrid[] g = new WorkerGrid[4];
        g[0] = new WorkerGrid1D(PatchKernels.GROUP);
        g[1] = new WorkerGrid1D(StagedGraph.LOCAL_1D);
        g[2] = LossGraphs.oneThread();
        g[3] = new WorkerGrid1D(StagedGraph.LOCAL_1D);
        for (int i = 0; i < 4; i++) {
            sizeGrid((WorkerGrid1D) g[i], i, 1);
        }
        return g;
    }

    private static void size(Site site, int B) {
        for (int i = 0; i < 4; i++) {
            sizeGrid(site.grid1(i), i, B);
        }
    }

    private static void sizeGrid(WorkerGrid1D g, int task, int B) {
        switch (task) {
            case 0 -> {
                g.setGlobalWork(PatchKernels.GROUP, 1, 1);
                g.setLocalWork(PatchKernels.GROUP, 1, 1);
            }
            case 2 -> {
                g.setGlobalWork(1, 1, 1);
                g.setLocalWork(1, 1, 1);
            }
            default -> StagedGraph.size(g, B);
        }
    }

    static void tasks(TaskGraph tg, String name, GridScheduler grids, Site site, int[] ends, int[] endRows, int[] pi,
                      int[] seqStart, int[] seqCount, int[] bytes, float[] hNext, float[] state, int[] params, int pb, int mode,
                      int fixedLength, int maxPatch) {
        tasks(tg, name, grids, new WorkerGrid1D[] {site.grid1(0), site.grid1(1), site.grid1(2), site.grid1(3)}, ends, endRows,
                pi, seqStart, seqCount, bytes, hNext, state, params, pb, mode, fixedLength, maxPatch);
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

    /** The per-op graph: staging arrays for {@code capacity} positions and {@code capacity2} sequence entries. */
    private final class Staged extends StagedGraph {
        final int mode, fixedLength, maxPatch;
        final int[] params = new int[PatchKernels.PARAMS];
        final float[] state = new float[Patching.STATE];
        final WorkerGrid1D[] grids = new WorkerGrid1D[4];
        int[] ends, endRows, pi, seqStart, seqCount, bytes;
        float[] hNext;

        Staged(int mode, int fixedLength, int maxPatch) {
            super(PatchGraphs.this.session, PATCH);
            this.mode = mode;
            this.fixedLength = fixedLength;
            this.maxPatch = maxPatch;
        }

        @Override
        DeviceGraph build(int capacity) {
            ends = new int[capacity];
            endRows = new int[capacity];
            pi = new int[capacity];
            bytes = new int[capacity];
            hNext = new float[capacity];
            seqStart = new int[capacity2];
            seqCount = new int[capacity2];
            String name = session.graphName(op, "m" + mode + "f" + fixedLength + "p" + maxPatch);
            GridScheduler gs = new GridScheduler();
            WorkerGrid[] g = grids();
            for (int i = 0; i < 4; i++) {
                grids[i] = (WorkerGrid1D) g[i];
            }
            Object[] in = arrays(params, bytes, hNext, state);
            Object[] out = arrays(ends, endRows, pi, seqStart, seqCount, state);
            TaskGraph tg = new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
            tasks(tg, name, gs, grids, ends, endRows, pi, seqStart, seqCount, bytes, hNext, state, params, 0, mode, fixedLength,
                    maxPatch);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, out);
            return device(tg, gs, in, out);
        }
    }

    @Override
    public void close() {
        graphs.forEach(StagedGraph::close);
    }
}
