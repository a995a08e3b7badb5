package io.ionllama.backend.tornado;

import java.util.ArrayList;
import java.util.List;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * RMSNorm's TaskGraphs, cached per (C, eps) for the forward and per (C, trained weight or not)
 * for the backward; the row count is per execution (see {@link StagedGraph}). Per-op transfers,
 * as for {@link MatmulGraphs}. LayerNorm's are in {@link LayerNormGraphs}.
 */
final class NormGraphs implements AutoCloseable {

    static final String RMS_FORWARD = "rmsNormForward";
    static final String RMS_BACKWARD = "rmsNormBackward";

    private final TornadoSession session;
    private final Residency residency;
    private final List<RmsForward> forwards = new ArrayList<>();
    private final List<RmsBackward> backwards = new ArrayList<>();

    NormGraphs(TornadoSession session, Residency residency) {
        this.session = session;
        this.residency = residency;
    }

    void rmsForward(float[] out, int outOff, float[] rstd, int rstdOff, float[] x, int xOff, float[] w, int wOff,
                    int rows, int C, float eps) {
        RmsForward g = null;
        for (RmsForward f : forwards) {
            if (f.C == C && Float.floatToIntBits(f.eps) == Float.floatToIntBits(eps)) {
                g = f;
                break;
            }
        }
        Site site = residency.site(new SiteKey(RMS_FORWARD, new int[] {C, Float.floatToIntBits(eps)}, out, rstd, x, w),
                () -> new Site(RMS_FORWARD, NormKernels.PARAMS, new Object[] {out, rstd, x, w}, new Object[] {out, rstd},
                        Site.grids1(1), (tg, name, grids, st) -> forwardTasks(tg, name, grids, st.grid1(), out, rstd, x, w, st.params, st.pb(), C, eps)));
        if (site != null) {
            setOffsets(site.params, rows, outOff, rstdOff, xOff, wOff);
            StagedGraph.size(site.grid1(), rows);
        }
        if (residency.run(site)) {
            return;
        }
        if (g == null) {
            g = new RmsForward(C, eps);
            forwards.add(g);
        }
        g.run(out, outOff, rstd, rstdOff, x, xOff, w, wOff, rows);
        residency.wroteOnHost(out, rstd);
    }

    /** params = [rows, offsets...] in the order of the kernel's array arguments. */
    static void setOffsets(int[] params, int rows, int... offsets) {
        params[NormKernels.ROWS] = rows;
        System.arraycopy(offsets, 0, params, NormKernels.OFF0, offsets.length);
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
            WorkerGrid1D channelGrid = new WorkerGrid1D(StagedGraph.roundUp(C, StagedGraph.LOCAL_1D));
            channelGrid.setLocalWork(StagedGraph.LOCAL_1D, 1, 1);
            grids.addWorkerGrid(name + ".weight", channelGrid);
        }
    }

    void rmsBackward(float[] dx, int dxOff, float[] dw, int dwOff, float[] dy, int dyOff, float[] x, int xOff,
                     float[] w, int wOff, float[] rstd, int rstdOff, int rows, int C) {
        boolean weight = dw != null;
        RmsBackward g = null;
        for (RmsBackward f : backwards) {
            if (f.C == C && f.weight == weight) {
                g = f;
                break;
            }
        }
        Object[] arrays = weight ? new Object[] {dx, dw, dy, x, w, rstd} : new Object[] {dx, dy, x, w, rstd};
        Site site = residency.site(new SiteKey(RMS_BACKWARD, new int[] {C}, arrays),
                () -> new Site(RMS_BACKWARD, NormKernels.PARAMS, arrays, weight ? new Object[] {dx, dw} : new Object[] {dx},
                        Site.grids1(1), (tg, name, grids, st) -> backwardTasks(tg, name, grids, st.grid1(), dx, dw, dy, x, w, rstd, st.params, st.pb(), C)));
        if (site != null) {
            setOffsets(site.params, rows, dxOff, dyOff, xOff, wOff, rstdOff, weight ? dwOff : 0);
            StagedGraph.size(site.grid1(), rows);
        }
        if (residency.run(site)) {
            return;
        }
        if (g == null) {
            g = new RmsBackward(C, weight);
            backwards.add(g);
        }
        g.run(dx, dxOff, dw, dwOff, dy, dyOff, x, xOff, w, wOff, rstd, rstdOff, rows);
        residency.wroteOnHost(dx, dw);
    }

    private final class RmsForward extends StagedGraph {
        final int C;
        final float eps;
        final int[] params = new int[NormKernels.PARAMS];
        final float[] w;
        float[] out, rstd, x;
        WorkerGrid1D grid;

        RmsForward(int C, float eps) {
            super(NormGraphs.this.session, RMS_FORWARD);
            this.C = C;
            this.eps = eps;
            this.w = new float[C];
        }

        void run(float[] out, int outOff, float[] rstd, int rstdOff, float[] x, int xOff, float[] w, int wOff, int rows) {
            ensureCapacity(rows);
            System.arraycopy(x, xOff, this.x, 0, rows * C);
            System.arraycopy(w, wOff, this.w, 0, C);
            params[NormKernels.ROWS] = rows;
            grid.setGlobalWork(roundUp(rows, LOCAL_1D), 1, 1);
            grid.setLocalWork(LOCAL_1D, 1, 1);
            graph.execute();
            System.arraycopy(this.out, 0, out, outOff, rows * C);
            System.arraycopy(this.rstd, 0, rstd, rstdOff, rows);
        }

        @Override
        DeviceGraph build(int capacity) {
            out = new float[capacity * C];
            rstd = new float[capacity];
            x = new float[capacity * C];
            String name = session.graphName(op, "C" + C);
            TaskGraph tg = new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, params, x, w);
            grid = new WorkerGrid1D(roundUp(capacity, LOCAL_1D));
            GridScheduler grids = new GridScheduler();
            forwardTasks(tg, name, grids, grid, out, rstd, x, w, params, 0, C, eps);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, out, rstd);
            return device(tg, grids, arrays(params, x, w), arrays(out, rstd));
        }
    }

    private final class RmsBackward extends StagedGraph {
        final int C;
        final boolean weight;
        final int[] params = new int[NormKernels.PARAMS];
        final float[] w, dw;
        float[] dx, dy, x, rstd;
        WorkerGrid1D rowGrid;

        RmsBackward(int C, boolean weight) {
            super(NormGraphs.this.session, RMS_BACKWARD);
            this.C = C;
            this.weight = weight;
            this.w = new float[C];
            this.dw = new float[weight ? C : 1];
        }

        void run(float[] dx, int dxOff, float[] dw, int dwOff, float[] dy, int dyOff, float[] x, int xOff,
                 float[] w, int wOff, float[] rstd, int rstdOff, int rows) {
            ensureCapacity(rows);
            System.arraycopy(dx, dxOff, this.dx, 0, rows * C);
            System.arraycopy(dy, dyOff, this.dy, 0, rows * C);
            System.arraycopy(x, xOff, this.x, 0, rows * C);
            System.arraycopy(w, wOff, this.w, 0, C);
            System.arraycopy(rstd, rstdOff, this.rstd, 0, rows);
            if (weight) {
                System.arraycopy(dw, dwOff, this.dw, 0, C);
            }
            params[NormKernels.ROWS] = rows;
            rowGrid.setGlobalWork(roundUp(rows, LOCAL_1D), 1, 1);
            rowGrid.setLocalWork(LOCAL_1D, 1, 1);
            graph.execute();
            System.arraycopy(this.dx, 0, dx, dxOff, rows * C);
            if (weight) {
                System.arraycopy(this.dw, 0, dw, dwOff, C);
            }
        }

        @Override
        DeviceGraph build(int capacity) {
            dx = new float[capacity * C];
            dy = new float[capacity * C];
            x = new float[capacity * C];
            rstd = new float[capacity];
            String name = session.graphName(op, "C" + C + (weight ? "w" : ""));
            TaskGraph tg = new TaskGraph(name);
            rowGrid = new WorkerGrid1D(roundUp(capacity, LOCAL_1D));
            GridScheduler grids = new GridScheduler();
            if (weight) {
                tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, params, dx, dw, dy, x, w, rstd);
            } else {
                tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, params, dx, dy, x, w, rstd);
            }
            backwardTasks(tg, name, grids, rowGrid, dx, weight ? dw : null, dy, x, w, rstd, params, 0, C);
            if (weight) {
                tg.transferToHost(DataTransferMode.EVERY_EXECUTION, dx, dw);
            } else {
                tg.transferToHost(DataTransferMode.EVERY_EXECUTION, dx);
            }
            return weight ? device(tg, grids, arrays(params, dx, dw, dy, x, w, rstd), arrays(dx, dw))
                    : device(tg, grids, arrays(params, dx, dy, x, w, rstd), arrays(dx));
        }
    }

    @Override
    public void close() {
        forwards.forEach(StagedGraph::close);
        backwards.forEach(StagedGraph::close);
    }
}
