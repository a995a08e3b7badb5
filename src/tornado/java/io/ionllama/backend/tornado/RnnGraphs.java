package io.ionllama.backend.tornado;

import java.util.ArrayList;
import java.util.List;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The context-vector RNN's gate TaskGraphs ({@link RnnKernels}), cached per C for the forward and
 * per (C, whether dc is written) for the backward; the row count is per execution (see
 * {@link StagedGraph}). Per-op transfers as for {@link MatmulGraphs}; inside a step each call
 * names a {@link Site} bound to the model's own arrays, so the T time steps of a layer
 * share one site and one compiled kernel, each call's offsets in its {@code params}.
 */
final class RnnGraphs implements AutoCloseable {

    static final String GATES_FORWARD = "rnnGatesForward";
    static final String GATES_BACKWARD = "rnnGatesBackward";

    private final TornadoSession session;
    private final Residency residency;
    private final List<GatesForward> forwards = new ArrayList<>();
    private final List<GatesBackward> backwards = new ArrayList<>();

    RnnGraphs(TornadoSession session, Residency residency) {
        this.session = session;
        this.residency = residency;
    }

    /** params = [rows, offsets...] in the order of the kernel's array arguments. */
    static void setOffsets(int[] params, int rows, int... offsets) {
        params[RnnKernels.ROWS] = rows;
        System.arraycopy(offsets, 0, params, RnnKernels.OFF0, offsets.length);
    }

    void gatesForward(float[] p, int pOff, float[] z, int zOff, float[] c, int cOff, int rows, int C) {
        Site site = residency.site(new SiteKey(GATES_FORWARD, new int[] {C}, p, z, c),
                () -> new Site(GATES_FORWARD, RnnKernels.PARAMS, new Object[] {p, z, c}, new Object[] {p},
                        Site.grids1(1), (tg, name, grids, st) -> forwardTasks(tg, name, grids, st.grid1(), p, z, c, st.params, st.pb(), C)));
        if (site != null) {
            setOffsets(site.params, rows, pOff, zOff, cOff);
            StagedGraph.size(site.grid1(), rows * C);
        }
        if (residency.run(site)) {
            return;
        }
        GatesForward g = null;
        for (GatesForward f : forwards) {
            if (f.C == C) {
                g = f;
                break;
            }
        }
        if (g == null) {
            g = new GatesForward(C);
            forwards.add(g);
        }
        g.run(p, pOff, z, zOff, c, cOff, rows);
        residency.wroteOnHost(p);
    }

    /** dc null: the first time step (c is the zero state), dz only. */
    void gatesBackward(float[] dz, int dzOff, float[] dc, int dcOff, float[] dp, int dpOff, float[] z, int zOff,
                       float[] c, int cOff, int rows, int C) {
        boolean hasDc = dc != null;
        Object[] arrays = hasDc ? new Object[] {dz, dc, dp, z, c} : new Object[] {dz, dp, z, c};
        Site site = residency.site(new SiteKey(GATES_BACKWARD, new int[] {C}, arrays),
                () -> {
                    // No dc: the site's own one-float stand-in (the kernel writes it only with hasDc).
                    float[] dcBound = hasDc ? dc : new float[1];
                    return new Site(GATES_BACKWARD, RnnKernels.PARAMS, hasDc ? arrays : new Object[] {dz, dcBound, dp, z, c},
                            hasDc ? new Object[] {dz, dc} : new Object[] {dz}, Site.grids1(1),
                            (tg, name, grids, st) -> backwardTasks(tg, name, grids, st.grid1(), dz, dcBound, dp, z, c, st.params, st.pb(), C, hasDc));
                });
        if (site != null) {
            setOffsets(site.params, rows, dzOff, hasDc ? dcOff : 0, dpOff, zOff, cOff);
            StagedGraph.size(site.grid1(), rows * C);
        }
        if (residency.run(site)) {
            return;
        }
        GatesBackward g = null;
        for (GatesBackward f : backwards) {
            if (f.C == C && f.hasDc == hasDc) {
                g = f;
                break;
            }
        }
        if (g == null) {
            g = new GatesBackward(C, hasDc);
            backwards.add(g);
        }
        g.run(dz, dzOff, dc, dcOff, dp, dpOff, z, zOff, c, cOff, rows);
        residency.wroteOnHost(dz, dc);
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

    private final class GatesForward extends StagedGraph {
        final int C;
        final int[] params = new int[RnnKernels.PARAMS];
        float[] p, z, c;
        WorkerGrid1D grid;

        GatesForward(int C) {
            super(RnnGraphs.this.session, GATES_FORWARD);
            this.C = C;
        }

        void run(float[] p, int pOff, float[] z, int zOff, float[] c, int cOff, int rows) {
            ensureCapacity(rows);
            System.arraycopy(z, zOff, this.z, 0, rows * 3 * C);
            System.arraycopy(c, cOff, this.c, 0, rows * C);
            params[RnnKernels.ROWS] = rows;
            size(grid, rows * C);
            graph.execute();
            System.arraycopy(this.p, 0, p, pOff, rows * C);
        }

        @Override
        DeviceGraph build(int capacity) {
            p = new float[capacity * C];
            z = new float[capacity * 3 * C];
            c = new float[capacity * C];
            String name = session.graphName(op, "C" + C);
            GridScheduler grids = new GridScheduler();
            grid = StagedGraph.grid1(capacity * C);
            TaskGraph tg = new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, params, z, c);
            forwardTasks(tg, name, grids, grid, p, z, c, params, 0, C);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, p);
            return device(tg, grids, arrays(params, z, c), arrays(p));
        }
    }

    private final class GatesBackward extends StagedGraph {
        final int C;
        final boolean hasDc;
        final int[] params = new int[RnnKernels.PARAMS];
        float[] dz, dc, dp, z, c;
        WorkerGrid1D grid;

        GatesBackward(int C, boolean hasDc) {
            super(RnnGraphs.this.session, GATES_BACKWARD);
            this.C = C;
            this.hasDc = hasDc;
        }

        void run(float[] dz, int dzOff, float[] dc, int dcOff, float[] dp, int dpOff, float[] z, int zOff,
                 float[] c, int cOff, int rows) {
            ensureCapacity(rows);
            int n = rows * C;
            System.arraycopy(dz, dzOff, this.dz, 0, 3 * n);
            if (hasDc) {
                System.arraycopy(dc, dcOff, this.dc, 0, n);
            }
            System.arraycopy(dp, dpOff, this.dp, 0, n);
            System.arraycopy(z, zOff, this.z, 0, 3 * n);
            System.arraycopy(c, cOff, this.c, 0, n);
            params[RnnKernels.ROWS] = rows;
            size(grid, n);
            graph.execute();
            System.arraycopy(this.dz, 0, dz, dzOff, 3 * n);
            if (hasDc) {
                System.arraycopy(this.dc, 0, dc, dcOff, n);
            }
        }

        @Override
        DeviceGraph build(int capacity) {
            int n = capacity * C;
            dz = new float[3 * n];
            dc = new float[hasDc ? n : 1];
            dp = new float[n];
            z = new float[3 * n];
            c = new float[n];
            String name = session.graphName(op, "C" + C + (hasDc ? "dc" : ""));
            GridScheduler grids = new GridScheduler();
            grid = StagedGraph.grid1(n);
            // Without dc its one-float stand-in still goes in: a task's every array must be transferred.
            Object[] in = arrays(params, dz, dc, dp, z, c);
            Object[] out = hasDc ? arrays(dz, dc) : arrays(dz);
            TaskGraph tg = new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
            backwardTasks(tg, name, grids, grid, dz, dc, dp, z, c, params, 0, C, hasDc);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, out);
            return device(tg, grids, in, out);
        }
    }

    @Override
    public void close() {
        forwards.forEach(StagedGraph::close);
        backwards.forEach(StagedGraph::close);
    }
}
