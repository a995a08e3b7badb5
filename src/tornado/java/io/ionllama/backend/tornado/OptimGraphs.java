package io.ionllama.backend.tornado;

import io.ionllama.kernels.Optim;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The optimizer's device ops: the AdamW update and the per-block sums of squares of the gradient
 * norm.
 * <ul>
 *   <li>{@link #adamwTensors}, what the trainer calls: one execution per step over every tensor,
 *       bound to the optimizer's own arrays: inside a step a site of the step's plan; outside, a
 *       graph of its own ({@link Resident}) with m and v resident on the device between steps
 *       (transferred once, brought back by {@link #toHost}). Per step: the tensor table, p and g
 *       in, p out; three arrays of the parameters' size, against seven for per-tensor calls.</li>
 *   <li>{@link #adamw} and {@link #sumSquares}: one call per tensor, copying graphs per capacity
 *       class ({@link OpCall#byClass}).</li>
 * </ul>
 */
final class OptimGraphs implements AutoCloseable {

    /** The ops' names: their counters in {@link TornadoBackend#stats()}, their graphs' names. */
    static final String ADAMW = "adamw", SUM_SQUARES = "sumSquares", ADAMW_RESIDENT = "adamwResident",
            SUM_SQUARES_TENSORS = "sumSquaresTensors", NORMALIZE = "normalize";

    private final DeviceOps ops;
    private final Residency residency;

    OptimGraphs(DeviceOps ops) {
        this.ops = ops;
        this.residency = ops.residency;
    }

    /** One tensor's update through its copying graph, always (the kernel takes no offsets: the slices are staged from 0). */
    void adamw(float[] p, float[] g, float[] m, float[] v, int off, int n, float lr, float beta1, float beta2,
               float eps, float weightDecay, float bc1, float bc2, float gradScale) {
        if (n <= 0) {
            return;
        }
        // This path reads m and v from the host: take them back from the resident graph first.
        release(m, v);
        float[] hyper = new float[OptimKernels.HYPER];
        setHyper(hyper, lr, beta1, beta2, eps, bc1, bc2, gradScale);
        hyper[OptimKernels.WD] = weightDecay;
        ops.copying(DeviceOps.call(ADAMW, 1, -1).size(OptimKernels.N, n).byClass(n).grids(DeviceOps.grid1(n)).values(hyper)
                .inout(p, off, n, 1).in(g, off, n, 1).inout(m, off, n, 1).inout(v, off, n, 1).tasks((tg, name, grids, st) -> {
                    tg.task("elements", OptimKernels::adamw, new KernelContext(), st.f(0), st.f(1), st.f(2), st.f(3), st.values(),
                            st.params, st.pb());
                    grids.addWorkerGrid(name + ".elements", st.grid1());
                }));
    }

    // ---------------------------------------------------------------- AdamW with resident moments

    /** The graph of {@link #adamwTensors}; null until the first call. One at a time: the last optimizer's. */
    private Resident resident;

    /**
     * AdamW over a list of tensors in one execution, with the moments m and v on the device from
     * one step to the next: they are transferred once, when the graph first runs, and come back
     * only through {@link #toHost}. p and g travel every step: g is new, and p may have been
     * changed on the host by another optimizer (Muon updates the matrices it owns there).
     */
    void adamwTensors(float[] p, float[] g, float[] m, float[] v, int[] offs, int[] sizes, float[] wds, int count,
                      float lr, float beta1, float beta2, float eps, float bc1, float bc2, float gradScale) {
        if (count <= 0) {
            return;
        }
        // Bound to the optimizer's own arrays: m and v simply stay on the device with the rest.
        // Its params are the tensor table, its values the hyper-parameters.
        OpCall c = DeviceOps.call(ADAMW_RESIDENT, OptimKernels.PREFIX + 2 * count + 1, -1, count);
        float[] hyper = new float[OptimKernels.HYPER + count];
        int total = fillTable(c.params, hyper, offs, sizes, wds, count, lr, beta1, beta2, eps, bc1, bc2, gradScale);
        Site site = ops.site(c.values(hyper).grids(DeviceOps.grid1(total)).inout(p, 0, 0, 0).in(g, 0, 0, 0).inout(m, 0, 0, 0)
                .inout(v, 0, 0, 0).tasks((tg, name, grids, st) -> {
                    adamwTensorsTasks(tg, st.f(0), st.f(1), st.f(2), st.f(3), st.values(), st.vb(), st.params, st.pb());
                    grids.addWorkerGrid(name + ".elements", st.grid1());
                }));
        if (site != null) {
            release(m, v);
            if (residency.run(site)) {
                return;
            }
            // Not in the plan yet: per tensor, from the host's arrays, which the plan then starts from.
            residency.perOp(() -> {
                for (int k = 0; k < count; k++) {
                    if (sizes[k] > 0) {
                        adamw(p, g, m, v, offs[k], sizes[k], lr, beta1, beta2, eps, wds[k], bc1, bc2, gradScale);
                    }
                }
            });
            residency.wroteOnHost(p, m, v);
            return;
        }
        if (resident != null && !resident.boundTo(p, g, m, v, count)) {
            resident.close(true);
            resident = null;
        }
        if (resident == null) {
            resident = new Resident(p, g, m, v, count);
        }
        System.arraycopy(c.params, 0, resident.table, 0, c.params.length);
        System.arraycopy(hyper, 0, resident.hyper, 0, hyper.length);
        StagedGraph.size(resident.grid, total);
        resident.graph.execute();
        resident.deviceNewer = true;
    }

    /** Copies the resident moments back if {@code arrays} names one of them and the device's are newer (p and g are always current). */
    void toHost(float[]... arrays) {
        if (resident != null && resident.holdsAny(arrays) && resident.deviceNewer) {
            resident.graph.pull(resident.m, resident.v);
            resident.deviceNewer = false;
        }
    }

    /**
     * The host overwrote {@code arrays}: if they name one of the resident moments, the moments it
     * keeps and the host did not overwrite are copied back, and the graph is dropped so the next
     * step uploads the host's contents. A new p or g needs nothing: both go with every execution.
     */
    void hostChanged(float[]... arrays) {
        if (resident == null || !resident.holdsAny(arrays)) {
            return;
        }
        if (resident.deviceNewer) {
            boolean mNew = false, vNew = false;
            for (float[] a : arrays) {
                mNew |= a == resident.m;
                vNew |= a == resident.v;
            }
            if (!mNew || !vNew) {
                // A pull copies whole arrays: save the host's new one around it.
                float[] keep = mNew ? resident.m.clone() : vNew ? resident.v.clone() : null;
                resident.graph.pull(resident.m, resident.v);
                if (keep != null) {
                    System.arraycopy(keep, 0, mNew ? resident.m : resident.v, 0, keep.length);
                }
            }
        }
        resident.close(false);
        resident = null;
    }

    /** Drops the resident graph if it holds one of {@code arrays}, copying newer moments back first. */
    void release(float[]... arrays) {
        if (resident != null && resident.holdsAny(arrays)) {
            resident.close(true);
            resident = null;
        }
    }

    private final class Resident {
        final float[] p, g, m, v;
        final int count;
        final int[] table;
        final float[] hyper;
        final WorkerGrid1D grid;
        final DeviceGraph graph;
        /** Whether the device's m and v are newer than the host's. */
        boolean deviceNewer;

        Resident(float[] p, float[] g, float[] m, float[] v, int count) {
            this.p = p;
            this.g = g;
            this.m = m;
            this.v = v;
            this.count = count;
            this.table = new int[OptimKernels.PREFIX + 2 * count + 1];
            this.hyper = new float[OptimKernels.HYPER + count];
            String name = ops.session.graphName(ADAMW_RESIDENT, "n" + p.length + "_t" + count);
            GridScheduler grids = new GridScheduler();
            grid = StagedGraph.grid1(p.length);
            grids.addWorkerGrid(name + ".elements", grid);
            Object[] every = {table, hyper, p, g};
            Object[] first = {m, v};
            TaskGraph tg = new TaskGraph(name)
                    .transferToDevice(DataTransferMode.FIRST_EXECUTION, first)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, every);
            adamwTensorsTasks(tg, p, g, m, v, hyper, 0, table, 0);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, p)
                    .transferToHost(DataTransferMode.UNDER_DEMAND, first);
            graph = new DeviceGraph(tg, grids, ops.session, ops.session.stats(ADAMW_RESIDENT), every, new Object[] {p}, first);
        }

        boolean boundTo(float[] p, float[] g, float[] m, float[] v, int count) {
            return this.p == p && this.g == g && this.m == m && this.v == v && this.count == count;
        }

        /**
         * Whether {@code arrays} names a moment. p and g do not count: they travel with every
         * execution (p both ways), so the host's copies are always current and a host write is
         * simply sent next time. Counting them dropped the graph (and pulled m and v back, then
         * uploaded and compiled it all again) at every data-parallel step, whose gradient exchange
         * says toHost(g), hostChanged(g) (TornadoDataParallelTest).
         */
        boolean holdsAny(float[]... arrays) {
            for (float[] a : arrays) {
                if (a == m || a == v) {
                    return true;
                }
            }
            return false;
        }

        /** Frees the device memory; with {@code save}, newer moments are copied back first. */
        void close(boolean save) {
            if (save && deviceNewer) {
                graph.pull(m, v);
                deviceNewer = false;
            }
            graph.close();
        }
    }

    // ---------------------------------------------------------------- sums of squares

    /**
     * The gradient norm's sum of squares over {@code count} ranges of g. Inside a training step one
     * resident launch computes every block and only the partials come back, added on the host
     * range by range in block order, as the CPU adds them; otherwise range by range per-op.
     */
    double sumSquaresTensors(float[] g, int[] offs, int[] sizes, int count) {
        int[] table = new int[OptimKernels.BLOCK_PREFIX + 3 * count + 1];
        table[OptimKernels.RANGES] = count;
        int blocks = 0;
        for (int k = 0; k < count; k++) {
            table[OptimKernels.BLOCK_PREFIX + k] = blocks;
            table[OptimKernels.BLOCK_PREFIX + count + 1 + k] = offs[k];
            table[OptimKernels.BLOCK_PREFIX + 2 * count + 1 + k] = sizes[k];
            blocks += (sizes[k] + Optim.BLOCK - 1) / Optim.BLOCK;
        }
        table[OptimKernels.BLOCK_PREFIX + count] = blocks;
        // The partials are the site's own; its only per-call values the range table.
        OpCall c = DeviceOps.call(SUM_SQUARES_TENSORS, 1, -1, count).values(table).grids(DeviceOps.grid1(blocks)).in(g, 0, 0, 0)
                .scratchOut(double[].class, Math.max(1, blocks), 1).tasks((tg, name, grids, st) -> {
                    tg.task("blocks", OptimKernels::sumSquaresTensors, new KernelContext(), st.d(1), st.f(0), (int[]) st.perCall[1],
                            st.base[1]);
                    grids.addWorkerGrid(name + ".blocks", st.grid1());
                });
        if (!ops.resident(c)) {
            double[] sum = new double[1];
            residency.perOp(() -> sum[0] = perRange(g, offs, sizes, count));
            // The host reads here, as a resident step reads the partials: the step recorded op by
            // op ends a stage here too, which declares them (no calls run alone, no store graph).
            ops.hostReads(c, 1);
            return sum[0];
        }
        double[] partial = (double[]) ops.result(c, 1);
        double s = 0;
        for (int k = 0; k < count; k++) {
            double t = 0;
            for (int j = table[OptimKernels.BLOCK_PREFIX + k]; j < table[OptimKernels.BLOCK_PREFIX + k + 1]; j++) {
                t += partial[j];
            }
            s += t;
        }
        return s;
    }

    private double perRange(float[] g, int[] offs, int[] sizes, int count) {
        double s = 0;
        for (int k = 0; k < count; k++) {
            s += sizes[k] > 0 ? sumSquares(g, offs[k], sizes[k]) : 0;
        }
        return s;
    }

    /**
     * x[off, off+n) scaled to unit norm ({@code Backend.normalize}). Inside a step one site runs
     * the sums of squares, the factor (one thread, {@link OptimKernels#inverseNorm}) and the
     * scaling on the device, and nothing comes back; otherwise the sum of squares comes back and
     * the scaling runs per-op, as the CPU does it. params = [n, off]: sumSquares's N, G_OFF and
     * scale's N, OFF0 alike.
     */
    void normalize(float[] x, int off, int n, double eps) {
        if (n <= 0) {
            return;
        }
        int blocks = (n + Optim.BLOCK - 1) / Optim.BLOCK;
        OpCall c = DeviceOps.call(NORMALIZE, OptimKernels.PARAMS, OptimKernels.G_OFF, Double.hashCode(eps)).size(OptimKernels.N, n)
                .grids(DeviceOps.grid1(blocks, 1, n)).inout(x, off, n, 1).scratch(double[].class, StagedGraph.capacityFor(blocks), 1)
                .scratch(float[].class, 1, 1).tasks((tg, name, grids, st) -> {
                    sumSquaresTasks(tg, st.d(1), st.f(0), st.params, st.pb());
                    tg.task("factor", OptimKernels::inverseNorm, new KernelContext(), st.f(2), st.d(1), st.params, st.pb(), eps);
                    GlueGraphs.scaleTasks(tg, name, grids, st.grid1(2), st.f(0), st.f(2), 0, st.params, st.pb());
                    grids.addWorkerGrid(name + ".blocks", st.grid1(0));
                    grids.addWorkerGrid(name + ".factor", st.grid1(1));
                });
        if (!ops.resident(c)) {
            residency.perOp(() -> GlueGraphs.scale(ops, x, off, Optim.inverseNorm(sumSquares(x, off, n), eps), n));
        }
    }

    /** Sum of g^2 over [off, off+n): per-block partials on the device (a site's own, or staged), added on the host in block order. */
    double sumSquares(float[] g, int off, int n) {
        if (n <= 0) {
            return 0;
        }
        int blocks = (n + Optim.BLOCK - 1) / Optim.BLOCK;
        int cls = StagedGraph.capacityFor(n);
        OpCall c = DeviceOps.call(SUM_SQUARES, OptimKernels.PARAMS, OptimKernels.G_OFF).size(OptimKernels.N, n).byClass(n)
                .rows(n, (cls + Optim.BLOCK - 1) / Optim.BLOCK).grids(DeviceOps.grid1(blocks)).in(g, off, n, 1)
                .scratchOut(double[].class, StagedGraph.capacityFor(blocks), 1).rows2().tasks((tg, name, grids, st) -> {
                    sumSquaresTasks(tg, st.d(1), st.f(0), st.params, st.pb());
                    grids.addWorkerGrid(name + ".blocks", st.grid1());
                });
        if (!ops.resident(c)) {
            ops.copying(c);
        }
        double[] partial = (double[]) ops.result(c, 1);
        double sum = 0;
        for (int b = 0; b < blocks; b++) {
            sum += partial[b];
        }
        return sum;
    }

    static void sumSquaresTasks(TaskGraph tg, double[] partial, float[] g, int[] params, int pb) {
        tg.task("blocks", OptimKernels::sumSquares, new KernelContext(), partial, g, params, pb);
    }

    static void adamwTensorsTasks(TaskGraph tg, float[] p, float[] g, float[] m, float[] v, float[] hyper, int hb, int[] table, int tb) {
        tg.task("elements", OptimKernels::adamwTensors, new KernelContext(), p, g, m, v, hyper, hb, table, tb);
    }

    /** Fills an AdamW tensor table and hyper-parameters; returns the number of elements. */
    private static int fillTable(int[] table, float[] h, int[] offs, int[] sizes, float[] wds, int count, float lr, float beta1,
                                 float beta2, float eps, float bc1, float bc2, float gradScale) {
        table[OptimKernels.COUNT] = count;
        int total = 0;
        for (int k = 0; k < count; k++) {
            table[OptimKernels.PREFIX + k] = total;
            table[OptimKernels.PREFIX + count + 1 + k] = offs[k];
            h[OptimKernels.HYPER + k] = wds[k];
            total += sizes[k];
        }
        table[OptimKernels.PREFIX + count] = total;
        setHyper(h, lr, beta1, beta2, eps, bc1, bc2, gradScale);
        return total;
    }

    /** The hyper-parameters every AdamW kernel reads from {@code hyper} (they change every step, so never scalars). */
    private static void setHyper(float[] h, float lr, float beta1, float beta2, float eps, float bc1, float bc2, float gradScale) {
        h[OptimKernels.LR] = lr;
        h[OptimKernels.BETA1] = beta1;
        h[OptimKernels.BETA2] = beta2;
        h[OptimKernels.EPS] = eps;
        h[OptimKernels.BC1] = bc1;
        h[OptimKernels.BC2] = bc2;
        h[OptimKernels.SCALE] = gradScale;
    }

    @Override
    public void close() {
        if (resident != null) {
            resident.close(true);
            resident = null;
        }
    }
}
