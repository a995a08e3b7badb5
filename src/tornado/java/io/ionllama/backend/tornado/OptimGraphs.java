package io.ionllama.backend.tornado;

import io.ionllama.kernels.Optim;
import java.util.ArrayList;
import java.util.List;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The optimizer's TaskGraphs: the AdamW update and the per-block sums of squares of the gradient
 * norm. Both are called once per parameter tensor, so their graphs are cached per capacity class
 * ({@link StagedGraph#byClass}); per-op transfers as in {@link MatmulGraphs} (p, g, m, v in; p, m,
 * v back).
 */
final class OptimGraphs implements AutoCloseable {

    static final String ADAMW = "adamw";
    static final String SUM_SQUARES = "sumSquares";

    private final TornadoSession session;
    private final List<Adamw> adamws = new ArrayList<>();
    private final List<SumSquares> sums = new ArrayList<>();

    OptimGraphs(TornadoSession session) {
        this.session = session;
    }

    void adamw(float[] p, float[] g, float[] m, float[] v, int off, int n, float lr, float beta1, float beta2,
               float eps, float weightDecay, float bc1, float bc2, float gradScale) {
        Adamw a = StagedGraph.byClass(adamws, n, Adamw::new);
        System.arraycopy(p, off, a.p, 0, n);
        System.arraycopy(g, off, a.g, 0, n);
        System.arraycopy(m, off, a.m, 0, n);
        System.arraycopy(v, off, a.v, 0, n);
        float[] h = a.hyper;
        h[OptimKernels.LR] = lr;
        h[OptimKernels.BETA1] = beta1;
        h[OptimKernels.BETA2] = beta2;
        h[OptimKernels.EPS] = eps;
        h[OptimKernels.WD] = weightDecay;
        h[OptimKernels.BC1] = bc1;
        h[OptimKernels.BC2] = bc2;
        h[OptimKernels.SCALE] = gradScale;
        a.params[OptimKernels.N] = n;
        StagedGraph.size(a.grid, n);
        a.graph.execute();
        System.arraycopy(a.p, 0, p, off, n);
        System.arraycopy(a.m, 0, m, off, n);
        System.arraycopy(a.v, 0, v, off, n);
    }

    private final class Adamw extends StagedGraph {
        final int[] params = new int[1];
        final float[] hyper = new float[OptimKernels.HYPER];
        float[] p, g, m, v;
        WorkerGrid1D grid;

        Adamw() {
            super(OptimGraphs.this.session, ADAMW);
        }

        @Override
        DeviceGraph build(int capacity) {
            p = new float[capacity];
            g = new float[capacity];
            m = new float[capacity];
            v = new float[capacity];
            String name = session.graphName(op, "n" + capacity);
            GridScheduler grids = new GridScheduler();
            grid = grid1(grids, name, "elements", capacity);
            Object[] in = arrays(params, hyper, p, g, m, v);
            TaskGraph tg = new TaskGraph(name)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, in)
                    .task("elements", OptimKernels::adamw, new KernelContext(), p, g, m, v, hyper, params)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, p, m, v);
            return device(tg, grids, in, arrays(p, m, v));
        }
    }

    /** Sum of g^2 over [off, off+n): per-block partials on the device, added on the host in block order. */
    double sumSquares(float[] g, int off, int n) {
        SumSquares s = StagedGraph.byClass(sums, n, SumSquares::new);
        System.arraycopy(g, off, s.g, 0, n);
        int blocks = (n + Optim.BLOCK - 1) / Optim.BLOCK;
        s.params[OptimKernels.N] = n;
        StagedGraph.size(s.grid, blocks);
        s.graph.execute();
        double sum = 0;
        for (int b = 0; b < blocks; b++) {
            sum += s.partial[b];
        }
        return sum;
    }

    private final class SumSquares extends StagedGraph {
        final int[] params = new int[1];
        float[] g;
        double[] partial;
        WorkerGrid1D grid;

        SumSquares() {
            super(OptimGraphs.this.session, SUM_SQUARES);
        }

        @Override
        DeviceGraph build(int capacity) {
            g = new float[capacity];
            partial = new double[(capacity + Optim.BLOCK - 1) / Optim.BLOCK];
            String name = session.graphName(op, "n" + capacity);
            GridScheduler grids = new GridScheduler();
            grid = grid1(grids, name, "blocks", partial.length);
            Object[] in = arrays(params, g);
            TaskGraph tg = new TaskGraph(name)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, in)
                    .task("blocks", OptimKernels::sumSquares, new KernelContext(), partial, g, params)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, partial);
            return device(tg, grids, in, arrays(partial));
        }
    }

    @Override
    public void close() {
        adamws.forEach(StagedGraph::close);
        sums.forEach(StagedGraph::close);
    }
}
