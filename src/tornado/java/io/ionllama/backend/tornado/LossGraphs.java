package io.ionllama.backend.tornado;

import io.ionllama.kernels.Losses;
import java.util.ArrayList;
import java.util.List;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
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
        RowGraph g = rowGraph(Kind.CE_FORWARD, V);
        g.ensureCapacity(n);
        System.arraycopy(logits, logitsOff, g.logits, 0, n * V);
        System.arraycopy(targets, targetsOff, g.targets, 0, n);
        g.execute(n);
        System.arraycopy(g.outF, 0, losses, lossesOff, n);
        System.arraycopy(g.probs, 0, probs, probsOff, n * V);
    }

    void entropy(float[] entropy, int entropyOff, float[] logits, int logitsOff, int n, int V) {
        RowGraph g = rowGraph(Kind.ENTROPY, V);
        g.ensureCapacity(n);
        System.arraycopy(logits, logitsOff, g.logits, 0, n * V);
        g.execute(n);
        System.arraycopy(g.outF, 0, entropy, entropyOff, n);
    }

    void argmax(int[] argmax, int argmaxOff, float[] logits, int logitsOff, int n, int V) {
        RowGraph g = rowGraph(Kind.ARGMAX, V);
        g.ensureCapacity(n);
        System.arraycopy(logits, logitsOff, g.logits, 0, n * V);
        g.execute(n);
        System.arraycopy(g.outI, 0, argmax, argmaxOff, n);
    }

    /** Per-row ops over logits [rows, V]: outF = losses or entropies, outI = argmax, probs = CE's softmax. */
    private final class RowGraph extends StagedGraph {
        final Kind kind;
        final int V;
        final int[] params = new int[1];
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
            grid = grid1(grids, name, "rows", capacity);
            TaskGraph tg = new TaskGraph(name);
            Object[] in, out;
            switch (kind) {
                case CE_FORWARD -> {
                    targets = new int[capacity];
                    outF = new float[capacity];
                    probs = new float[capacity * V];
                    in = arrays(params, logits, targets);
                    out = arrays(outF, probs);
                    tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in)
                            .task("rows", LossKernels::crossEntropyForward, new KernelContext(), outF, probs, logits, targets,
                                    params, V);
                }
                case ENTROPY -> {
                    outF = new float[capacity];
                    in = arrays(params, logits);
                    out = arrays(outF);
                    tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in)
                            .task("rows", LossKernels::entropy, new KernelContext(), outF, logits, params, V);
                }
                default -> {
                    outI = new int[capacity];
                    in = arrays(params, logits);
                    out = arrays(outI);
                    tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in)
                            .task("rows", LossKernels::argmax, new KernelContext(), outI, logits, params, V);
                }
            }
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, out);
            return device(tg, grids, in, out);
        }
    }

    // ---------------------------------------------------------------- CE backward

    void crossEntropyBackward(float[] dlogits, int dlogitsOff, float[] probs, int probsOff, int[] targets, int targetsOff,
                              float[] dloss, int dlossOff, int dlossStride, int n, int V) {
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
    }

    private final class CeBackward extends StagedGraph {
        final int V, stride;
        final int[] params = new int[1];
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
            grid = grid1(grids, name, "rows", capacity);
            Object[] in = arrays(params, dlogits, probs, targets, dloss);
            TaskGraph tg = new TaskGraph(name)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, in)
                    .task("rows", LossKernels::crossEntropyBackward, new KernelContext(), dlogits, probs, targets, dloss,
                            params, V, stride)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, dlogits);
            return device(tg, grids, in, arrays(dlogits));
        }
    }

    // ---------------------------------------------------------------- statistics

    void lossStats(float[] out, int outOff, float[] losses, int lossesOff, int[] argmax, int argmaxOff,
                   int[] targets, int targetsOff, int n) {
        int hasArgmax = argmax == null ? 0 : 1;
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
    }

    private final class Stats extends StagedGraph {
        final int hasArgmax;
        final int[] params = new int[1];
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
            WorkerGrid1D one = grid1(grids, name, "batch", 1);
            one.setGlobalWork(1, 1, 1);
            one.setLocalWork(1, 1, 1);
            Object[] in = arrays(params, losses, argmax, targets);
            TaskGraph tg = new TaskGraph(name)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, in)
                    .task("batch", LossKernels::lossStats, new KernelContext(), stats, losses, argmax, targets, params,
                            hasArgmax)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, stats);
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
