package io.ionllama.backend.tornado;

import io.ionllama.kernels.Scan;
import java.util.ArrayList;
import java.util.List;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The IntegralLNN scan's TaskGraphs (forward and backward), each the three chunked phases of
 * {@link ScanKernels} as three tasks, cached per channel count C. B, T and the chunk length are
 * per execution, the staging capacity counts B*T rows of C floats. The carries live only on the
 * device (transferred once, at the first execution, then overwritten by phase 1 every time).
 * Per-op transfers, as for {@link MatmulGraphs}. Inside a training step each call is also a
 * {@link Residency} site bound to the caller's arrays, with carries of its own sized for the
 * call (see {@link #carryCapacity}).
 *
 * <p>The family's other graphs: generation's scan step ({@link #step}, cached per capacity class
 * of channel counts, as the glue's elementwise ops are) and the IntegralLNN gate that computes the
 * scan's decay ({@link #gateForward}, {@link #gateBackward}, cached per channel count C, rows per
 * execution). Their sites carry the count and the caller's offsets in {@code params}
 * ({@link #setCountOffsets}).
 */
final class ScanGraphs implements AutoCloseable {

    static final String FORWARD = "scanForward";
    static final String BACKWARD = "scanBackward";
    static final String STEP = "scanStep";
    static final String GATE_FORWARD = "integralGateForward";
    static final String GATE_BACKWARD = "integralGateBackward";

    private final TornadoSession session;
    private final Residency residency;
    private final List<Forward> forwards = new ArrayList<>();
    private final List<Backward> backwards = new ArrayList<>();
    private final List<Step> steps = new ArrayList<>();
    private final List<GateForward> gateForwards = new ArrayList<>();
    private final List<GateBackward> gateBackwards = new ArrayList<>();

    ScanGraphs(TornadoSession session, Residency residency) {
        this.session = session;
        this.residency = residency;
    }

    /**
     * The chunk length the device uses when the caller leaves it open: about sqrt(T), which
     * balances the sequential work per thread in the chunk phases (L steps) against the carry
     * phase (T/L chunks).
     */
    static int defaultChunk(int T) {
        int L = (int) Math.ceil(Math.sqrt(T));
        return Math.max(1, L);
    }

    void forward(float[] h, float[] a, float[] u, int off, int B, int T, int C, int chunk) {
        Forward g = null;
        for (Forward f : forwards) {
            if (f.C == C) {
                g = f;
                break;
            }
        }
        int cap = carryCapacity(B, T, chunk);
        // The site's own carries, for cap rows of C floats (offset 0; see carryCapacity).
        Site site = residency.site(new SiteKey(FORWARD, new int[] {C, cap}, h, a, u), () -> {
            float[] carryA = new float[cap * C], carryB = new float[cap * C];
            return new Site(FORWARD, ScanKernels.PARAMS, new Object[] {h, a, u, carryA, carryB}, new Object[] {h, carryA, carryB},
                    Site.grids1(3), (tg, name, grids, st) -> forwardTasks(tg, name, grids, st.grid1(0), st.grid1(1), st.grid1(2),
                            h, a, u, carryA, carryB, st.params, st.pb(), C));
        });
        if (site != null) {
            setSizes(site.params, site.grid1(0), site.grid1(1), site.grid1(2), B, T, C, chunk);
            setOffsets(site.params, off, 0);
        }
        if (residency.run(site)) {
            return;
        }
        if (g == null) {
            g = new Forward(C);
            forwards.add(g);
        }
        g.run(h, a, u, off, B, T, chunk);
        residency.wroteOnHost(h);
    }

    void backward(float[] da, float[] du, float[] dh, float[] h, float[] a, float[] u, int off, int B, int T, int C,
                  int chunk) {
        Backward g = null;
        for (Backward f : backwards) {
            if (f.C == C) {
                g = f;
                break;
            }
        }
        int cap = carryCapacity(B, T, chunk);
        // The site's own carries, as in forward.
        Site site = residency.site(new SiteKey(BACKWARD, new int[] {C, cap}, da, du, dh, h, a, u), () -> {
            float[] carryA = new float[cap * C], carryB = new float[cap * C];
            return new Site(BACKWARD, ScanKernels.PARAMS, new Object[] {da, du, dh, h, a, u, carryA, carryB},
                    new Object[] {da, du, carryA, carryB}, Site.grids1(3),
                    (tg, name, grids, st) -> backwardTasks(tg, name, grids, st.grid1(0), st.grid1(1), st.grid1(2),
                            da, du, dh, h, a, u, carryA, carryB, st.params, st.pb(), C));
        });
        if (site != null) {
            setSizes(site.params, site.grid1(0), site.grid1(1), site.grid1(2), B, T, C, chunk);
            setOffsets(site.params, off, 0);
        }
        if (residency.run(site)) {
            return;
        }
        if (g == null) {
            g = new Backward(C);
            backwards.add(g);
        }
        g.run(da, du, dh, h, a, u, off, B, T, chunk);
        residency.wroteOnHost(da, du);
    }

    /**
     * Carry rows (of C floats) a site's own carries hold for a call: B * chunk count, rounded up
     * to a power of two. It is part of the site's key, so a call that needs more gets a new site
     * with bigger carries instead of running past the end of the old ones.
     */
    static int carryCapacity(int B, int T, int chunk) {
        return StagedGraph.capacityFor(B * Scan.chunkCount(T, chunk));
    }

    /** Writes B, T, the chunk length and count into params and sizes the three phases' grids. */
    static void setSizes(int[] params, WorkerGrid1D summaryGrid, WorkerGrid1D carryGrid, WorkerGrid1D applyGrid,
                         int B, int T, int C, int chunk) {
        int nChunks = Scan.chunkCount(T, chunk);
        params[ScanKernels.B] = B;
        params[ScanKernels.T] = T;
        params[ScanKernels.CHUNK] = chunk;
        params[ScanKernels.CHUNKS] = nChunks;
        StagedGraph.size(summaryGrid, B * nChunks * C);
        StagedGraph.size(carryGrid, B * C);
        StagedGraph.size(applyGrid, B * nChunks * C);
    }

    /** params[OFF0..] = the offset of the sequence arrays, then that of the carries. */
    static void setOffsets(int[] params, int off, int carryOff) {
        params[ScanKernels.OFF0] = off;
        params[ScanKernels.OFF0 + 1] = carryOff;
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

    private final class Forward extends StagedGraph {
        final int C;
        final int[] params = new int[ScanKernels.PARAMS];
        float[] h, a, u, carryA, carryB;
        WorkerGrid1D summaryGrid, carryGrid, applyGrid;

        Forward(int C) {
            super(ScanGraphs.this.session, FORWARD);
            this.C = C;
        }

        void run(float[] h, float[] a, float[] u, int off, int B, int T, int chunk) {
            ensureCapacity(B * T);
            int n = B * T * C;
            System.arraycopy(a, off, this.a, 0, n);
            System.arraycopy(u, off, this.u, 0, n);
            setSizes(params, summaryGrid, carryGrid, applyGrid, B, T, C, chunk);
            graph.execute();
            System.arraycopy(this.h, 0, h, off, n);
        }

        @Override
        DeviceGraph build(int capacity) {
            h = new float[capacity * C];
            a = new float[capacity * C];
            u = new float[capacity * C];
            // At most one chunk per step: the carries never need more than B*T*C floats.
            carryA = new float[capacity * C];
            carryB = new float[capacity * C];
            String name = session.graphName(op, "C" + C);
            TaskGraph tg = new TaskGraph(name)
                    .transferToDevice(DataTransferMode.FIRST_EXECUTION, carryA, carryB)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, params, a, u);
            summaryGrid = new WorkerGrid1D(roundUp(capacity * C, LOCAL_1D));
            carryGrid = new WorkerGrid1D(roundUp(capacity * C, LOCAL_1D));
            applyGrid = new WorkerGrid1D(roundUp(capacity * C, LOCAL_1D));
            GridScheduler grids = new GridScheduler();
            forwardTasks(tg, name, grids, summaryGrid, carryGrid, applyGrid, h, a, u, carryA, carryB, params, 0, C);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, h);
            return device(tg, grids, arrays(params, a, u), arrays(h), arrays(carryA, carryB));
        }
    }

    private final class Backward extends StagedGraph {
        final int C;
        final int[] params = new int[ScanKernels.PARAMS];
        float[] da, du, dh, h, a, u, carryA, carryB;
        WorkerGrid1D summaryGrid, carryGrid, applyGrid;

        Backward(int C) {
            super(ScanGraphs.this.session, BACKWARD);
            this.C = C;
        }

        void run(float[] da, float[] du, float[] dh, float[] h, float[] a, float[] u, int off, int B, int T, int chunk) {
            ensureCapacity(B * T);
            int n = B * T * C;
            System.arraycopy(da, off, this.da, 0, n);
            System.arraycopy(du, off, this.du, 0, n);
            System.arraycopy(dh, off, this.dh, 0, n);
            System.arraycopy(h, off, this.h, 0, n);
            System.arraycopy(a, off, this.a, 0, n);
            System.arraycopy(u, off, this.u, 0, n);
            setSizes(params, summaryGrid, carryGrid, applyGrid, B, T, C, chunk);
            graph.execute();
            System.arraycopy(this.da, 0, da, off, n);
            System.arraycopy(this.du, 0, du, off, n);
        }

        @Override
        DeviceGraph build(int capacity) {
            da = new float[capacity * C];
            du = new float[capacity * C];
            dh = new float[capacity * C];
            h = new float[capacity * C];
            a = new float[capacity * C];
            u = new float[capacity * C];
            carryA = new float[capacity * C];
            carryB = new float[capacity * C];
            String name = session.graphName(op, "C" + C);
            TaskGraph tg = new TaskGraph(name)
                    .transferToDevice(DataTransferMode.FIRST_EXECUTION, carryA, carryB)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, params, da, du, dh, h, a, u);
            summaryGrid = new WorkerGrid1D(roundUp(capacity * C, LOCAL_1D));
            carryGrid = new WorkerGrid1D(roundUp(capacity * C, LOCAL_1D));
            applyGrid = new WorkerGrid1D(roundUp(capacity * C, LOCAL_1D));
            GridScheduler grids = new GridScheduler();
            backwardTasks(tg, name, grids, summaryGrid, carryGrid, applyGrid, da, du, dh, h, a, u, carryA, carryB,
                    params, 0, C);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, da, du);
            return device(tg, grids, arrays(params, da, du, dh, h, a, u), arrays(da, du), arrays(carryA, carryB));
        }
    }

    // ---------------------------------------------------------------- generation's scan step

    /** Generation's scan step in place over n channels: h = a h + (1 - a) u. */
    void step(float[] h, int hOff, float[] a, int aOff, float[] u, int uOff, int n) {
        Object[] bound = {h, a, u};
        Site site = residency.site(new SiteKey(STEP, new int[0], bound),
                () -> new Site(STEP, ScanKernels.COUNT_PARAMS, bound, new Object[] {h}, Site.grids1(1),
                        (tg, name, grids, st) -> stepTasks(tg, name, grids, st.grid1(), h, a, u, st.params, st.pb())));
        if (site != null) {
            setCountOffsets(site.params, n, hOff, aOff, uOff);
            StagedGraph.size(site.grid1(), n);
        }
        if (residency.run(site)) {
            return;
        }
        StagedGraph.byClass(steps, n, Step::new).run(h, hOff, a, aOff, u, uOff, n);
        residency.wroteOnHost(h);
    }

    /** params = [count, offsets...] in the order of the kernel's array arguments (the step's and the gate's layout). */
    static void setCountOffsets(int[] params, int count, int... offsets) {
        params[ScanKernels.COUNT] = count;
        System.arraycopy(offsets, 0, params, ScanKernels.COUNT_OFF0, offsets.length);
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

    /**
     * The scan step for one capacity class of channel counts: h in and out, a and u in (the
     * elementwise ops' way, {@link GlueGraphs}, whose graph it was).
     */
    private final class Step extends StagedGraph {
        final int[] params = new int[ScanKernels.COUNT_PARAMS];
        float[] h, a, u;
        WorkerGrid1D grid;

        Step() {
            super(ScanGraphs.this.session, STEP);
        }

        void run(float[] h, int hOff, float[] a, int aOff, float[] u, int uOff, int n) {
            System.arraycopy(h, hOff, this.h, 0, n);
            System.arraycopy(a, aOff, this.a, 0, n);
            System.arraycopy(u, uOff, this.u, 0, n);
            params[ScanKernels.COUNT] = n;
            size(grid, n);
            graph.execute();
            System.arraycopy(this.h, 0, h, hOff, n);
        }

        @Override
        DeviceGraph build(int capacity) {
            h = new float[capacity];
            a = new float[capacity];
            u = new float[capacity];
            String name = session.graphName(op, "n" + capacity);
            GridScheduler grids = new GridScheduler();
            grid = StagedGraph.grid1(capacity);
            Object[] in = arrays(params, h, a, u);
            TaskGraph tg = new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
            stepTasks(tg, name, grids, grid, h, a, u, params, 0);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, h);
            return device(tg, grids, in, arrays(h));
        }
    }

    // ---------------------------------------------------------------- the IntegralLNN gate (the scan's decay a)

    void gateForward(float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows, int C) {
        GateForward g = null;
        for (GateForward f : gateForwards) {
            if (f.C == C) {
                g = f;
                break;
            }
        }
        Site site = residency.site(new SiteKey(GATE_FORWARD, new int[] {C}, a, z, lambda),
                () -> new Site(GATE_FORWARD, ScanKernels.COUNT_PARAMS, new Object[] {a, z, lambda}, new Object[] {a},
                        Site.grids1(1), (tg, name, grids, st) -> gateForwardTasks(tg, name, grids, st.grid1(), a, z, lambda, st.params, st.pb(), C)));
        if (site != null) {
            setCountOffsets(site.params, rows, aOff, zOff, lambdaOff);
            StagedGraph.size(site.grid1(), rows);
        }
        if (residency.run(site)) {
            return;
        }
        if (g == null) {
            g = new GateForward(C);
            gateForwards.add(g);
        }
        g.run(a, aOff, z, zOff, lambda, lambdaOff, rows);
        residency.wroteOnHost(a);
    }

    void gateBackward(float[] dz, int dzOff, float[] dLambda, int dLambdaOff, float[] da, int daOff,
                      float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows, int C) {
        GateBackward g = null;
        for (GateBackward f : gateBackwards) {
            if (f.C == C) {
                g = f;
                break;
            }
        }
        // One grid, the rows'; gateBackwardTasks sizes the channels' grid from C itself.
        Site site = residency.site(new SiteKey(GATE_BACKWARD, new int[] {C}, dz, dLambda, da, a, z, lambda),
                () -> new Site(GATE_BACKWARD, ScanKernels.COUNT_PARAMS, new Object[] {dz, dLambda, da, a, z, lambda},
                        new Object[] {dz, dLambda}, Site.grids1(1),
                        (tg, name, grids, st) -> gateBackwardTasks(tg, name, grids, st.grid1(), dz, dLambda, da, a, z, lambda, st.params, st.pb(), C)));
        if (site != null) {
            setCountOffsets(site.params, rows, dzOff, daOff, aOff, zOff, lambdaOff, dLambdaOff);
            StagedGraph.size(site.grid1(), rows);
        }
        if (residency.run(site)) {
            return;
        }
        if (g == null) {
            g = new GateBackward(C);
            gateBackwards.add(g);
        }
        g.run(dz, dzOff, dLambda, dLambdaOff, da, daOff, a, aOff, z, zOff, lambda, lambdaOff, rows);
        residency.wroteOnHost(dz, dLambda);
    }

    private final class GateForward extends StagedGraph {
        final int C;
        final int[] params = new int[ScanKernels.COUNT_PARAMS];
        final float[] lambda;
        float[] a, z;
        WorkerGrid1D grid;

        GateForward(int C) {
            super(ScanGraphs.this.session, GATE_FORWARD);
            this.C = C;
            this.lambda = new float[C];
        }

        void run(float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows) {
            ensureCapacity(rows);
            System.arraycopy(z, zOff, this.z, 0, rows * C);
            System.arraycopy(lambda, lambdaOff, this.lambda, 0, C);
            params[ScanKernels.COUNT] = rows;
            size(grid, rows);
            graph.execute();
            System.arraycopy(this.a, 0, a, aOff, rows * C);
        }

        @Override
        DeviceGraph build(int capacity) {
            a = new float[capacity * C];
            z = new float[capacity * C];
            String name = session.graphName(op, "C" + C);
            GridScheduler grids = new GridScheduler();
            grid = StagedGraph.grid1(capacity);
            Object[] in = arrays(params, z, lambda);
            TaskGraph tg = new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
            gateForwardTasks(tg, name, grids, grid, a, z, lambda, params, 0, C);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, a);
            return device(tg, grids, in, arrays(a));
        }
    }

    private final class GateBackward extends StagedGraph {
        final int C;
        final int[] params = new int[ScanKernels.COUNT_PARAMS];
        final float[] lambda, dLambda;
        float[] dz, da, a, z;
        WorkerGrid1D rowGrid;

        GateBackward(int C) {
            super(ScanGraphs.this.session, GATE_BACKWARD);
            this.C = C;
            this.lambda = new float[C];
            this.dLambda = new float[C];
        }

        void run(float[] dz, int dzOff, float[] dLambda, int dLambdaOff, float[] da, int daOff, float[] a, int aOff,
                 float[] z, int zOff, float[] lambda, int lambdaOff, int rows) {
            ensureCapacity(rows);
            int n = rows * C;
            System.arraycopy(dz, dzOff, this.dz, 0, n);
            System.arraycopy(dLambda, dLambdaOff, this.dLambda, 0, C);
            System.arraycopy(da, daOff, this.da, 0, n);
            System.arraycopy(a, aOff, this.a, 0, n);
            System.arraycopy(z, zOff, this.z, 0, n);
            System.arraycopy(lambda, lambdaOff, this.lambda, 0, C);
            params[ScanKernels.COUNT] = rows;
            size(rowGrid, rows);
            graph.execute();
            System.arraycopy(this.dz, 0, dz, dzOff, n);
            System.arraycopy(this.dLambda, 0, dLambda, dLambdaOff, C);
        }

        @Override
        DeviceGraph build(int capacity) {
            dz = new float[capacity * C];
            da = new float[capacity * C];
            a = new float[capacity * C];
            z = new float[capacity * C];
            String name = session.graphName(op, "C" + C);
            GridScheduler grids = new GridScheduler();
            rowGrid = StagedGraph.grid1(capacity);
            Object[] in = arrays(params, dz, dLambda, da, a, z, lambda);
            TaskGraph tg = new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
            gateBackwardTasks(tg, name, grids, rowGrid, dz, dLambda, da, a, z, lambda, params, 0, C);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, dz, dLambda);
            return device(tg, grids, in, arrays(dz, dLambda));
        }
    }

    @Override
    public void close() {
        forwards.forEach(StagedGraph::close);
        backwards.forEach(StagedGraph::close);
    }
}
