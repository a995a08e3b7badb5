package io.ionllama.backend.tornado;

import io.ionllama.kernels.Losses;
import java.util.ArrayList;
import java.util.List;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The losses' TaskGraphs: cross-entropy forward and backward, entropy, argmax and the batch
 * statistics, cached per V (and the backward's dloss stride, the statistics' argmax flag), rows
 * per execution; per-op transfers as in {@link MatmulGraphs}.
 *
 * <p>The CE backward reads its scale from an array, never a scalar: stride 0 stages one float
 * (the model passes {@code stats[STAT_INV_VALID]}), stride 1 one per row; other strides are
 * gathered into stride 1 on the host.
 *
 * <p>Inside a training step every op also names a {@link Site} bound to the caller's own
 * arrays, with the offsets in its {@code params}; its CE backward binds the caller's dloss array
 * itself (stride 0: the statistics array, read where the statistics kernel left it on the device)
 * with the caller's stride compiled in, and its statistics without argmax bind a one-int array of
 * the site's own.
 */
final class LossGraphs implements AutoCloseable {

    static final String CE_FORWARD = "crossEntropyForward";
    static final String CE_BACKWARD = "crossEntropyBackward";
    static final String ENTROPY = "entropy";
    static final String ARGMAX = "argmax";
    static final String LOSS_STATS = "lossStats";

    enum Kind { CE_FORWARD, ENTROPY, ARGMAX }

    private final TornadoSession session;
    private final Residency residency;
    private final List<RowGraph> rows = new ArrayList<>();
    private final List<CeBackward> backwards = new ArrayList<>();
    private final List<Stats> stats = new ArrayList<>();

    LossGraphs(TornadoSession session, Residency residency) {
        this.session = session;
        this.residency = residency;
    }

    private RowGraph rowGraph(Kind kind, int V) {
        for (RowGraph g : rows) {
            if (g.kind == kind && g.V == V) {
                return g;
            }
        }
        RowGraph g = new RowGraph(kind, V);
        rows.add(g);
        return g;
    }

    void crossEntropyForward(float[] losses, int lossesOff, float[] probs, int probsOff, float[] logits, int logitsOff,
                             int[] targets, int targetsOff, int n, int V) {
        Site site = residency.site(new SiteKey(CE_FORWARD, new int[] {V}, losses, probs, logits, targets),
                () -> new Site(CE_FORWARD, LossKernels.PARAMS, new Object[] {losses, probs, logits, targets}, new Object[] {losses, probs},
                        Site.grids1(1),
                        (tg, name, grids, st) -> ceForwardTasks(tg, name, grids, st.grid1(), losses, probs, logits, targets, st.params, st.pb(), V)));
        if (site != null) {
            setOffsets(site.params, n, lossesOff, probsOff, logitsOff, targetsOff);
            StagedGraph.size(site.grid1(), n);
        }
        if (residency.run(site)) {
            return;
        }
        RowGraph g = rowGraph(Kind.CE_FORWARD, V);
        g.ensureCapacity(n);
        System.arraycopy(logits, logitsOff, g.logits, 0, n * V);
        System.arraycopy(targets, targetsOff, g.targets, 0, n);
        g.execute(n);
        System.arraycopy(g.outF, 0, losses, lossesOff, n);
        System.arraycopy(g.probs, 0, probs, probsOff, n * V);
        residency.wroteOnHost(losses, probs);
    }

    void entropy(float[] entropy, int entropyOff, float[] logits, int logitsOff, int n, int V) {
        Site site = residency.site(new SiteKey(ENTROPY, new int[] {V}, entropy, logits),
                () -> new Site(ENTROPY, LossKernels.PARAMS, new Object[] {entropy, logits}, new Object[] {entropy},
                        Site.grids1(1), (tg, name, grids, st) -> entropyTasks(tg, name, grids, st.grid1(), entropy, logits, st.params, st.pb(), V)));
        if (site != null) {
            setOffsets(site.params, n, entropyOff, logitsOff);
            StagedGraph.size(site.grid1(), n);
        }
        if (residency.run(site)) {
            return;
        }
        RowGraph g = rowGraph(Kind.ENTROPY, V);
        g.ensureCapacity(n);
        System.arraycopy(logits, logitsOff, g.logits, 0, n * V);
        g.execute(n);
        System.arraycopy(g.outF, 0, entropy, entropyOff, n);
        residency.wroteOnHost(entropy);
    }

    void argmax(int[] argmax, int argmaxOff, float[] logits, int logitsOff, int n, int V) {
        Site site = residency.site(new SiteKey(ARGMAX, new int[] {V}, argmax, logits),
                () -> new Site(ARGMAX, LossKernels.PARAMS, new Object[] {argmax, logits}, new Object[] {argmax},
                        Site.grids1(1), (tg, name, grids, st) -> argmaxTasks(tg, name, grids, st.grid1(), argmax, logits, st.params, st.pb(), V)));
        if (site != null) {
            setOffsets(site.params, n, argmaxOff, logitsOff);
            StagedGraph.size(site.grid1(), n);
        }
        if (residency.run(site)) {
            return;
        }
        RowGraph g = rowGraph(Kind.ARGMAX, V);
        g.ensureCapacity(n);
        System.arraycopy(logits, logitsOff, g.logits, 0, n * V);
        g.execute(n);
        System.arraycopy(g.outI, 0, argmax, argmaxOff, n);
        residency.wroteOnHost(argmax);
    }

    /** params = [rows, offsets...] in the order of the kernel's array arguments. */
    static void setOffsets(int[] params, int rows, int... offsets) {
        params[LossKernels.ROWS] = rows;
        System.arraycopy(offsets, 0, params, LossKernels.OFF0, offsets.length);
    }

    /** The statistics' grid: one thread. */
    static WorkerGrid1D oneThread() {
        WorkerGrid1D g = new WorkerGrid1D(1);
        g.setGlobalWork(1, 1, 1);
        g.setLocalWork(1, 1, 1);
        return g;
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

    /** Per-row ops over logits [rows, V]: outF = losses or entropies, outI = argmax, probs = CE's softmax. */
    private final class RowGraph extends StagedGraph {
        final Kind kind;
        final int V;
        final int[] params = new int[LossKernels.PARAMS];
        float[] logits, outF, probs;
        int[] targets, outI;
        WorkerGrid1D grid;

        RowGraph(Kind kind, int V) {
            super(LossGraphs.this.session, switch (kind) {
                case CE_FORWARD -> CE_FORWARD;
                case ENTROPY -> ENTROPY;
                case ARGMAX -> ARGMAX;
            });
            this.kind = kind;
            this.V = V;
        }

        void execute(int n) {
            params[LossKernels.ROWS] = n;
            size(grid, n);
            graph.execute();
        }

        @Override
        DeviceGraph build(int capacity) {
            logits = new float[capacity * V];
            String name = session.graphName(op, "V" + V);
            GridScheduler grids = new GridScheduler();
            grid = StagedGraph.grid1(capacity);
            TaskGraph tg = new TaskGraph(name);
            Object[] in, out;
            switch (kind) {
                case CE_FORWARD -> {
                    targets = new int[capacity];
                    outF = new float[capacity];
                    probs = new float[capacity * V];
                    in = arrays(params, logits, targets);
                    out = arrays(outF, probs);
                    tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
                    ceForwardTasks(tg, name, grids, grid, outF, probs, logits, targets, params, 0, V);
                }
                case ENTROPY -> {
                    outF = new float[capacity];
                    in = arrays(params, logits);
                    out = arrays(outF);
                    tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
                    entropyTasks(tg, name, grids, grid, outF, logits, params, 0, V);
                }
                default -> {
                    outI = new int[capacity];
                    in = arrays(params, logits);
                    out = arrays(outI);
                    tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
                    argmaxTasks(tg, name, grids, grid, outI, logits, params, 0, V);
                }
            }
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, out);
            return device(tg, grids, in, out);
        }
    }

    // ---------------------------------------------------------------- CE backward

    void crossEntropyBackward(float[] dlogits, int dlogitsOff, float[] probs, int probsOff, int[] targets, int targetsOff,
                              float[] dloss, int dlossOff, int dlossStride, int n, int V) {
        // The site binds dloss as it is, at the caller's offset, with the caller's stride compiled in
        // (stride 0: the statistics array the model passes, read where the statistics kernel left it on the device).
        Site site = residency.site(new SiteKey(CE_BACKWARD, new int[] {V, dlossStride}, dlogits, probs, targets, dloss),
                () -> new Site(CE_BACKWARD, LossKernels.PARAMS, new Object[] {dlogits, probs, targets, dloss}, new Object[] {dlogits},
                        Site.grids1(1),
                        (tg, name, grids, st) -> ceBackwardTasks(tg, name, grids, st.grid1(), dlogits, probs, targets, dloss, st.params, st.pb(), V, dlossStride)));
        if (site != null) {
            setOffsets(site.params, n, dlogitsOff, probsOff, targetsOff, dlossOff);
            StagedGraph.size(site.grid1(), n);
        }
        if (residency.run(site)) {
            return;
        }
        int stride = dlossStride == 0 ? 0 : 1;
        CeBackward g = null;
        for (CeBackward f : backwards) {
            if (f.V == V && f.stride == stride) {
                g = f;
                break;
            }
        }
        if (g == null) {
            g = new CeBackward(V, stride);
            backwards.add(g);
        }
        g.ensureCapacity(n);
        System.arraycopy(dlogits, dlogitsOff, g.dlogits, 0, n * V);
        System.arraycopy(probs, probsOff, g.probs, 0, n * V);
        System.arraycopy(targets, targetsOff, g.targets, 0, n);
        if (stride == 0) {
            g.dloss[0] = dloss[dlossOff];
        } else if (dlossStride == 1) {
            System.arraycopy(dloss, dlossOff, g.dloss, 0, n);
        } else {
            for (int i = 0; i < n; i++) {
                g.dloss[i] = dloss[dlossOff + i * dlossStride];
            }
        }
        g.params[LossKernels.ROWS] = n;
        StagedGraph.size(g.grid, n);
        g.graph.execute();
        System.arraycopy(g.dlogits, 0, dlogits, dlogitsOff, n * V);
        residency.wroteOnHost(dlogits);
    }

    private final class CeBackward extends StagedGraph {
        final int V, stride;
        final int[] params = new int[LossKernels.PARAMS];
        float[] dlogits, probs, dloss;
        int[] targets;
        WorkerGrid1D grid;

        CeBackward(int V, int stride) {
            super(LossGraphs.this.session, CE_BACKWARD);
            this.V = V;
            this.stride = stride;
        }

        @Override
        DeviceGraph build(int capacity) {
            dlogits = new float[capacity * V];
            probs = new float[capacity * V];
            targets = new int[capacity];
            dloss = new float[stride == 0 ? 1 : capacity];
            String name = session.graphName(op, "V" + V + "s" + stride);
            GridScheduler grids = new GridScheduler();
            grid = StagedGraph.grid1(capacity);
            Object[] in = arrays(params, dlogits, probs, targets, dloss);
            TaskGraph tg = new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
            ceBackwardTasks(tg, name, grids, grid, dlogits, probs, targets, dloss, params, 0, V, stride);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, dlogits);
            return device(tg, grids, in, arrays(dlogits));
        }
    }

    // ---------------------------------------------------------------- statistics

    void lossStats(float[] out, int outOff, float[] losses, int lossesOff, int[] argmax, int argmaxOff,
                   int[] targets, int targetsOff, int n) {
        int hasArgmax = argmax == null ? 0 : 1;
        Object[] arrays = hasArgmax == 1 ? new Object[] {out, losses, argmax, targets} : new Object[] {out, losses, targets};
        Site site = residency.site(new SiteKey(LOSS_STATS, new int[] {hasArgmax}, arrays), () -> {
            // No argmax: the site binds a one-int array of its own (the kernel reads it only with hasArgmax).
            int[] am = argmax == null ? new int[1] : argmax;
            return new Site(LOSS_STATS, LossKernels.PARAMS, new Object[] {out, losses, am, targets}, new Object[] {out},
                    new WorkerGrid[] {oneThread()},
                    (tg, name, grids, st) -> statsTasks(tg, name, grids, st.grid1(), out, losses, am, targets, st.params, st.pb(), hasArgmax));
        });
        if (site != null) {
            setOffsets(site.params, n, outOff, lossesOff, hasArgmax == 1 ? argmaxOff : 0, targetsOff);
        }
        if (residency.run(site)) {
            return;
        }
        Stats g = null;
        for (Stats f : stats) {
            if (f.hasArgmax == hasArgmax) {
                g = f;
                break;
            }
        }
        if (g == null) {
            g = new Stats(hasArgmax);
            stats.add(g);
        }
        g.ensureCapacity(n);
        System.arraycopy(losses, lossesOff, g.losses, 0, n);
        System.arraycopy(targets, targetsOff, g.targets, 0, n);
        if (hasArgmax == 1) {
            System.arraycopy(argmax, argmaxOff, g.argmax, 0, n);
        }
        g.params[LossKernels.ROWS] = n;
        g.graph.execute();
        System.arraycopy(g.stats, 0, out, outOff, Losses.STATS);
        residency.wroteOnHost(out);
    }

    private final class Stats extends StagedGraph {
        final int hasArgmax;
        final int[] params = new int[LossKernels.PARAMS];
        final float[] stats = new float[Losses.STATS];
        float[] losses;
        int[] argmax, targets;

        Stats(int hasArgmax) {
            super(LossGraphs.this.session, LOSS_STATS);
            this.hasArgmax = hasArgmax;
        }

        @Override
        DeviceGraph build(int capacity) {
            losses = new float[capacity];
            targets = new int[capacity];
            argmax = new int[hasArgmax == 1 ? capacity : 1];
            String name = session.graphName(op, hasArgmax == 1 ? "argmax" : "plain");
            GridScheduler grids = new GridScheduler();
            Object[] in = arrays(params, losses, argmax, targets);
            TaskGraph tg = new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
            statsTasks(tg, name, grids, oneThread(), stats, losses, argmax, targets, params, 0, hasArgmax);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, stats);
            return device(tg, grids, in, arrays(stats));
        }
    }

    @Override
    public void close() {
        rows.forEach(StagedGraph::close);
        backwards.forEach(StagedGraph::close);
        stats.forEach(StagedGraph::close);
    }
}
