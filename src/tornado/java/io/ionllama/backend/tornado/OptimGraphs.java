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
 * norm.
 * <ul>
 *   <li>{@link #adamwTensors}, what the trainer calls: one execution per step over every tensor,
 *       bound to the optimizer's own arrays, with m and v resident on the device between steps
 *       (transferred once, brought back by {@link #toHost}). Per step: the tensor table, p and g
 *       in, p out; three arrays of the parameters' size, against seven for per-tensor calls.</li>
 *   <li>{@link #adamw} and {@link #sumSquares}: one call per tensor, graphs cached per capacity
 *       class ({@link StagedGraph#byClass}), per-op transfers as in {@link MatmulGraphs}.</li>
 * </ul>
 */
final class OptimGraphs implements AutoCloseable {

    static final String ADAMW = "adamw";
    static final String SUM_SQUARES = "sumSquares";
    static final String ADAMW_RESIDENT = "adamwResident";
    static final String SUM_SQUARES_TENSORS = "sumSquaresTensors";
    static final String NORMALIZE = "normalize";

    private final TornadoSession session;
    private final Residency residency;
    private final List<Adamw> adamws = new ArrayList<>();
    private final List<SumSquares> sums = new ArrayList<>();

    OptimGraphs(TornadoSession session, Residency residency) {
        this.session = session;
        this.residency = residency;
    }

    void adamw(float[] p, float[] g, float[] m, float[] v, int off, int n, float lr, float beta1, float beta2,
               float eps, float weightDecay, float bc1, float bc2, float gradScale) {
        Adamw a = StagedGraph.byClass(adamws, n, Adamw::new);
        System.arraycopy(p, off, a.p, 0, n);
        System.arraycopy(g, off, a.g, 0, n);
        System.arraycopy(m, off, a.m, 0, n);
        System.arraycopy(v, off, a.v, 0, n);
        setHyper(a.hyper, lr, beta1, beta2, eps, bc1, bc2, gradScale);
        a.hyper[OptimKernels.WD] = weightDecay;
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
                    .task("elements", OptimKernels::adamw, new KernelContext(), p, g, m, v, hyper, params, 0)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, p, m, v);
            return device(tg, grids, in, arrays(p, m, v));
        }
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
        // Bound to the optimizer's own arrays: m and v simply stay on the device with the rest.
        // Its params are the tensor table, its second per-call array the hyper-parameters.
        Site site = residency.site(new SiteKey(ADAMW_RESIDENT, new int[] {count}, p, g, m, v),
                () -> new Site(ADAMW_RESIDENT, OptimKernels.PREFIX + 2 * count + 1, new Object[] {p, g, m, v},
                        new Object[] {p, m, v}, Site.grids1(1), (tg, name, grids, st) -> {
                            adamwTensorsTasks(tg, p, g, m, v, (float[]) st.perCall[1], st.base[1], st.params, st.pb());
                            grids.addWorkerGrid(name + ".elements", st.grid1());
                        }, new float[OptimKernels.HYPER + count]));
        if (site != null) {
            int total = fillTable(site.params, (float[]) site.perCall[1], offs, sizes, wds, count, lr, beta1, beta2, eps, bc1, bc2,
                    gradScale);
            StagedGraph.size(site.grid1(), total);
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
        int total = fillTable(resident.table, resident.hyper, offs, sizes, wds, count, lr, beta1, beta2, eps, bc1, bc2, gradScale);
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
            String name = session.graphName(ADAMW_RESIDENT, "n" + p.length + "_t" + count);
            GridScheduler grids = new GridScheduler();
            grid = StagedGraph.grid1(grids, name, "elements", p.length);
            Object[] every = StagedGraph.arrays(table, hyper, p, g);
            Object[] first = StagedGraph.arrays(m, v);
            TaskGraph tg = new TaskGraph(name)
                    .transferToDevice(DataTransferMode.FIRST_EXECUTION, first)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, every);
            adamwTensorsTasks(tg, p, g, m, v, hyper, 0, table, 0);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, p)
                    .transferToHost(DataTransferMode.UNDER_DEMAND, first);
            graph = new DeviceGraph(tg, grids, session, session.stats(ADAMW_RESIDENT), every, StagedGraph.arrays(p), first);
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
        int totalBlocks = 0;
        for (int k = 0; k < count; k++) {
            totalBlocks += (sizes[k] + Optim.BLOCK - 1) / Optim.BLOCK;
        }
        int blocks = totalBlocks;
        Site site = residency.site(new SiteKey(SUM_SQUARES_TENSORS, new int[] {count, blocks}, g),
                () -> {
                    double[] partial = new double[Math.max(1, blocks)];
                    int[] table = new int[OptimKernels.BLOCK_PREFIX + 3 * count + 1];
                    return new Site(SUM_SQUARES_TENSORS, 1, new Object[] {g, partial}, new Object[] {partial},
                            Site.grids1(1), (tg, name, grids, st) -> {
                                tg.task("blocks", OptimKernels::sumSquaresTensors, new KernelContext(), partial, g, (int[]) st.perCall[1], st.base[1]);
                                grids.addWorkerGrid(name + ".blocks", st.grid1());
                            }, table);
                });
        if (site == null) {
            return perRange(g, offs, sizes, count);
        }
        int[] table = (int[]) site.perCall[1];
        table[OptimKernels.RANGES] = count;
        int prefix = 0;
        for (int k = 0; k < count; k++) {
            table[OptimKernels.BLOCK_PREFIX + k] = prefix;
            table[OptimKernels.BLOCK_PREFIX + count + 1 + k] = offs[k];
            table[OptimKernels.BLOCK_PREFIX + 2 * count + 1 + k] = sizes[k];
            prefix += (sizes[k] + Optim.BLOCK - 1) / Optim.BLOCK;
        }
        table[OptimKernels.BLOCK_PREFIX + count] = prefix;
        StagedGraph.size(site.grid1(), blocks);
        if (!residency.run(site)) {
            double[] sum = new double[1];
            residency.perOp(() -> sum[0] = perRange(g, offs, sizes, count));
            return sum[0];
        }
        double[] partial = (double[]) site.bound[1];
        residency.toHost(partial);
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
     * the scaling runs per-op, as the CPU does it.
     */
    void normalize(float[] x, int off, int n, double eps, GlueGraphs glue) {
        int blocks = (n + Optim.BLOCK - 1) / Optim.BLOCK;
        int cap = StagedGraph.capacityFor(blocks);
        Site site = residency.site(new SiteKey(NORMALIZE, new int[] {cap, Double.hashCode(eps)}, x), () -> {
            double[] partial = new double[cap];
            float[] coef = new float[1];
            return new Site(NORMALIZE, OptimKernels.PARAMS, new Object[] {x, partial, coef},
                    new Object[] {x, partial, coef}, Site.grids1(3), (tg, name, grids, st) -> {
                        sumSquaresTasks(tg, partial, x, st.params, st.pb());
                        tg.task("factor", OptimKernels::inverseNorm, new KernelContext(), coef, partial, st.params, st.pb(), eps);
                        GlueGraphs.scaleTasks(tg, name, grids, st.grid1(2), x, coef, 0, st.params, st.pb());
                        grids.addWorkerGrid(name + ".blocks", st.grid1(0));
                        grids.addWorkerGrid(name + ".factor", st.grid1(1));
                    });
        });
        if (site != null) {
            // params = [n, off]: sumSquares's N, G_OFF and scale's N, OFF0 alike.
            site.params[OptimKernels.N] = n;
            site.params[OptimKernels.G_OFF] = off;
            StagedGraph.size(site.grid1(0), blocks);
            StagedGraph.size(site.grid1(1), 1);
            StagedGraph.size(site.grid1(2), n);
            if (residency.run(site)) {
                return;
            }
        }
        residency.perOp(() -> glue.scale(x, off, Optim.inverseNorm(sumSquares(x, off, n), eps), n));
    }

    /** Sum of g^2 over [off, off+n): per-block partials on the device, added on the host in block order. */
    double sumSquares(float[] g, int off, int n) {
        int blocks = (n + Optim.BLOCK - 1) / Optim.BLOCK;
        int cap = StagedGraph.capacityFor(blocks);
        // The partials are the site's own array, read back after each call.
        Site site = residency.site(new SiteKey(SUM_SQUARES, new int[] {cap}, g), () -> {
            double[] partial = new double[cap];
            return new Site(SUM_SQUARES, OptimKernels.PARAMS, new Object[] {g, partial}, new Object[] {partial},
                    Site.grids1(1), (tg, name, grids, st) -> {
                        sumSquaresTasks(tg, partial, g, st.params, st.pb());
                        grids.addWorkerGrid(name + ".blocks", st.grid1());
                    });
        });
        if (site != null) {
            site.params[OptimKernels.N] = n;
            site.params[OptimKernels.G_OFF] = off;
            StagedGraph.size(site.grid1(), blocks);
            if (residency.run(site)) {
                double[] partial = (double[]) site.bound[1];
                residency.toHost(partial);
                double sum = 0;
                for (int b = 0; b < blocks; b++) {
                    sum += partial[b];
                }
                return sum;
            }
        }
        SumSquares s = StagedGraph.byClass(sums, n, SumSquares::new);
        System.arraycopy(g, off, s.g, 0, n);
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
        final int[] params = new int[OptimKernels.PARAMS];
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
            TaskGraph tg = new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
            sumSquaresTasks(tg, partial, g, params, 0);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, partial);
            return device(tg, grids, in, arrays(partial));
        }
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
        adamws.forEach(StagedGraph::close);
        sums.forEach(StagedGraph::close);
        if (resident != null) {
            resident.close(true);
            resident = null;
        }
    }
}
