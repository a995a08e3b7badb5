package io.ionllama.backend.tornado;

import java.util.ArrayList;
import java.util.List;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The glue's TaskGraphs: copy, accumulate, fill, axpby, scale, dropout, transpose, SwiGLU and
 * GELU forward/backward, with per-op transfers as in {@link MatmulGraphs}. (The IntegralLNN gate and
 * generation's scan step are the scan's: {@link ScanGraphs}.)
 *
 * <p>The elementwise ops see every size in one step (a residual of B*T*C floats, a bias of C), so
 * their graphs are cached per capacity class ({@link StagedGraph#byClass}): a call moves a staging
 * array at most twice its size.
 *
 * <p>Inside a training step every call also names a site bound to the caller's own arrays
 * ({@link Residency}); the sizes and the caller's offsets travel in the site's {@code params}
 * (fill's value, scale's alpha and axpby's alpha and beta in a small per-call float array), so one site serves every size and the elementwise
 * sites need no capacity.
 */
final class GlueGraphs implements AutoCloseable {

    static final String COPY = "copy";
    static final String ACCUMULATE = "accumulate";
    static final String FILL = "fill";
    static final String AXPBY = "axpby";
    static final String SCALE = "scale";
    static final String DROPOUT = "dropout";
    static final String TRANSPOSE = "transpose";
    static final String SWIGLU_FORWARD = "swigluForward";
    static final String SWIGLU_BACKWARD = "swigluBackward";
    static final String GELU_FORWARD = "geluForward";
    static final String GELU_BACKWARD = "geluBackward";

    /** What an {@link Elementwise} graph runs. */
    enum Kind { COPY, ACCUMULATE, FILL, SWIGLU_FORWARD, SWIGLU_BACKWARD, AXPBY, SCALE, DROPOUT, TRANSPOSE, GELU_FORWARD, GELU_BACKWARD }

    private final TornadoSession session;
    private final Residency residency;
    private final List<List<Elementwise>> elementwise = new ArrayList<>();

    GlueGraphs(TornadoSession session, Residency residency) {
        this.session = session;
        this.residency = residency;
        for (int i = 0; i < Kind.values().length; i++) {
            elementwise.add(new ArrayList<>());
        }
    }

    private Elementwise elementwise(Kind kind, int n) {
        return StagedGraph.byClass(elementwise.get(kind.ordinal()), n, () -> new Elementwise(kind));
    }

    /** params = [n, offsets...] in the order of the kernel's array arguments. */
    static void setOffsets(int[] params, int n, int... offsets) {
        params[GlueKernels.N] = n;
        System.arraycopy(offsets, 0, params, GlueKernels.OFF0, offsets.length);
    }

    /**
     * An elementwise call inside a step: the site for its arrays ({@code bound}, the first
     * {@code written} of them written), with this call's size and offsets in its {@code params}
     * and its per-call {@code values} (fill's value, scale's alpha, axpby's alpha and beta) in its
     * own float array ({@code perCall[1]}, which {@code tasks} reads from the site). Returns true
     * when the call was taken by the resident plan; false when the per-op graph must run it.
     */
    private boolean resident(String op, Object[] bound, int written, Site.Tasks tasks, int n, int[] offsets,
                             float... values) {
        Site site = residency.site(new SiteKey(op, new int[0], bound),
                () -> new Site(op, GlueKernels.PARAMS, bound, java.util.Arrays.copyOf(bound, written),
                        Site.grids1(1), tasks, values.length == 0 ? new Object[0] : new Object[] {new float[values.length]}));
        if (site != null) {
            setOffsets(site.params, n, offsets);
            if (values.length > 0) {
                System.arraycopy(values, 0, (float[]) site.perCall[1], 0, values.length);
            }
            StagedGraph.size(site.grid1(), n);
        }
        return residency.run(site);
    }

    /** The per-call values an elementwise site's tasks read ({@link #resident}). */
    private static float[] values(Site site) {
        return (float[]) site.perCall[1];
    }

    /**
     * An elementwise call through its per-op graph: {@code a} and {@code b} in (null: unused),
     * {@code dst} out, and in as well when the op reads it ({@code dstIn}: accumulate, axpby,
     * scale, dropout).
     */
    private void perOp(Kind kind, int n, float[] dst, int dstOff, boolean dstIn, float[] a, int aOff, float[] b, int bOff,
                       float... values) {
        Elementwise g = elementwise(kind, n);
        System.arraycopy(values, 0, g.value, 0, values.length);
        if (dstIn) {
            System.arraycopy(dst, dstOff, g.out, 0, n);
        }
        if (a != null) {
            System.arraycopy(a, aOff, g.a, 0, n);
        }
        if (b != null) {
            System.arraycopy(b, bOff, g.b, 0, n);
        }
        g.execute(n);
        System.arraycopy(g.out, 0, dst, dstOff, n);
        residency.wroteOnHost(dst);
    }

    private static int[] offsets(int... offsets) {
        return offsets;
    }

    void copy(float[] dst, int dstOff, float[] src, int srcOff, int n) {
        if (!resident(COPY, new Object[] {dst, src}, 1, (tg, name, grids, st) -> copyTasks(tg, name, grids, st.grid1(), dst, src,
                st.params, st.pb()), n, offsets(dstOff, srcOff))) {
            perOp(Kind.COPY, n, dst, dstOff, false, src, srcOff, null, 0);
        }
    }

    void accumulate(float[] dst, int dstOff, float[] src, int srcOff, int n) {
        if (!resident(ACCUMULATE, new Object[] {dst, src}, 1, (tg, name, grids, st) -> accumulateTasks(tg, name, grids, st.grid1(),
                dst, src, st.params, st.pb()), n, offsets(dstOff, srcOff))) {
            perOp(Kind.ACCUMULATE, n, dst, dstOff, true, src, srcOff, null, 0);
        }
    }

    void fill(float[] dst, int dstOff, float value, int n) {
        if (!resident(FILL, new Object[] {dst}, 1, (tg, name, grids, st) -> fillTasks(tg, name, grids, st.grid1(), dst, values(st), st.base[1],
                st.params, st.pb()), n, offsets(dstOff, 0), value)) {
            perOp(Kind.FILL, n, dst, dstOff, false, null, 0, null, 0, value);
        }
    }

    void axpby(float[] y, int yOff, float alpha, float[] x, int xOff, float beta, int n) {
        if (!resident(AXPBY, new Object[] {y, x}, 1, (tg, name, grids, st) -> axpbyTasks(tg, name, grids, st.grid1(), y, x, values(st), st.base[1],
                st.params, st.pb()), n, offsets(yOff, xOff), alpha, beta)) {
            perOp(Kind.AXPBY, n, y, yOff, true, x, xOff, null, 0, alpha, beta);
        }
    }

    void scale(float[] y, int yOff, float alpha, int n) {
        if (!resident(SCALE, new Object[] {y}, 1, (tg, name, grids, st) -> scaleTasks(tg, name, grids, st.grid1(), y, values(st), st.base[1],
                st.params, st.pb()), n, offsets(yOff), alpha)) {
            perOp(Kind.SCALE, n, y, yOff, true, null, 0, null, 0, alpha);
        }
    }

    /** Dropout in place; the seed and threshold travel as the call's integer parameters, the scale as its value. */
    void dropout(float[] y, int yOff, float p, int seed, int n) {
        int threshold = io.ionllama.kernels.Elementwise.dropoutThreshold(p);
        float scale = 1f / (1f - p);
        if (!resident(DROPOUT, new Object[] {y}, 1, (tg, name, grids, st) -> dropoutTasks(tg, name, grids, st.grid1(), y, values(st),
                st.base[1], st.params, st.pb()), n, offsets(yOff, seed, threshold), scale)) {
            Elementwise g = elementwise(Kind.DROPOUT, n);
            g.params[GlueKernels.OFF0 + 1] = seed;
            g.params[GlueKernels.OFF0 + 2] = threshold;
            perOp(Kind.DROPOUT, n, y, yOff, true, null, 0, null, 0, scale);
        }
    }

    void transpose(float[] dst, int dstOff, float[] src, int srcOff, int rows, int cols) {
        int n = rows * cols;
        if (!resident(TRANSPOSE, new Object[] {dst, src}, 1, (tg, name, grids, st) -> transposeTasks(tg, name, grids, st.grid1(), dst,
                src, st.params, st.pb()), n, offsets(dstOff, srcOff, rows, cols))) {
            Elementwise g = elementwise(Kind.TRANSPOSE, n);
            g.params[GlueKernels.OFF0 + 2] = rows;
            g.params[GlueKernels.OFF0 + 3] = cols;
            perOp(Kind.TRANSPOSE, n, dst, dstOff, false, src, srcOff, null, 0);
        }
    }

    void swigluForward(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n) {
        if (!resident(SWIGLU_FORWARD, new Object[] {out, a, b}, 1, (tg, name, grids, st) -> swigluForwardTasks(tg, name, grids,
                st.grid1(), out, a, b, st.params, st.pb()), n, offsets(outOff, aOff, bOff))) {
            perOp(Kind.SWIGLU_FORWARD, n, out, outOff, false, a, aOff, b, bOff);
        }
    }

    void swigluBackward(float[] da, int daOff, float[] db, int dbOff, float[] dy, int dyOff,
                        float[] a, int aOff, float[] b, int bOff, int n) {
        if (resident(SWIGLU_BACKWARD, new Object[] {da, db, dy, a, b}, 2, (tg, name, grids, st) -> swigluBackwardTasks(tg, name,
                grids, st.grid1(), da, db, dy, a, b, st.params, st.pb()), n, offsets(daOff, dbOff, dyOff, aOff, bOff))) {
            return;
        }
        Elementwise g = elementwise(Kind.SWIGLU_BACKWARD, n);
        System.arraycopy(da, daOff, g.out, 0, n);
        System.arraycopy(db, dbOff, g.out2, 0, n);
        System.arraycopy(dy, dyOff, g.dy, 0, n);
        System.arraycopy(a, aOff, g.a, 0, n);
        System.arraycopy(b, bOff, g.b, 0, n);
        g.execute(n);
        System.arraycopy(g.out, 0, da, daOff, n);
        System.arraycopy(g.out2, 0, db, dbOff, n);
        residency.wroteOnHost(da, db);
    }

    void geluForward(float[] out, int outOff, float[] x, int xOff, int n) {
        if (!resident(GELU_FORWARD, new Object[] {out, x}, 1, (tg, name, grids, st) -> geluForwardTasks(tg, name, grids,
                st.grid1(), out, x, st.params, st.pb()), n, offsets(outOff, xOff))) {
            perOp(Kind.GELU_FORWARD, n, out, outOff, false, x, xOff, null, 0);
        }
    }

    /** dx += dy * gelu'(x): staged as dst (in and out), a = dy, b = x. */
    void geluBackward(float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff, int n) {
        if (!resident(GELU_BACKWARD, new Object[] {dx, dy, x}, 1, (tg, name, grids, st) -> geluBackwardTasks(tg, name, grids,
                st.grid1(), dx, dy, x, st.params, st.pb()), n, offsets(dxOff, dyOff, xOff))) {
            perOp(Kind.GELU_BACKWARD, n, dx, dxOff, true, dy, dyOff, x, xOff);
        }
    }

    // ---------------------------------------------------------------- tasks, shared by the per-op graphs and the sites

    /** Name of the elementwise ops' task. */
    static final String ELEMENTS = "elements";

    static void copyTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] dst, float[] src,
                          int[] params, int pb) {
        tg.task(ELEMENTS, GlueKernels::copy, new KernelContext(), dst, src, params, pb);
        grids.addWorkerGrid(name + "." + ELEMENTS, grid);
    }

    static void accumulateTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] dst, float[] src,
                                int[] params, int pb) {
        tg.task(ELEMENTS, GlueKernels::accumulate, new KernelContext(), dst, src, params, pb);
        grids.addWorkerGrid(name + "." + ELEMENTS, grid);
    }

    static void fillTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] dst, float[] value, int vb,
                          int[] params, int pb) {
        tg.task(ELEMENTS, GlueKernels::fill, new KernelContext(), dst, value, vb, params, pb);
        grids.addWorkerGrid(name + "." + ELEMENTS, grid);
    }

    static void axpbyTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] y, float[] x, float[] coef, int cb,
                           int[] params, int pb) {
        tg.task(ELEMENTS, GlueKernels::axpby, new KernelContext(), y, x, coef, cb, params, pb);
        grids.addWorkerGrid(name + "." + ELEMENTS, grid);
    }

    static void scaleTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] y, float[] coef, int cb,
                           int[] params, int pb) {
        tg.task(ELEMENTS, GlueKernels::scale, new KernelContext(), y, coef, cb, params, pb);
        grids.addWorkerGrid(name + "." + ELEMENTS, grid);
    }

    static void dropoutTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] y, float[] coef, int cb,
                             int[] params, int pb) {
        tg.task(ELEMENTS, GlueKernels::dropout, new KernelContext(), y, coef, cb, params, pb);
        grids.addWorkerGrid(name + "." + ELEMENTS, grid);
    }

    static void transposeTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] dst, float[] src,
                               int[] params, int pb) {
        tg.task(ELEMENTS, GlueKernels::transpose, new KernelContext(), dst, src, params, pb);
        grids.addWorkerGrid(name + "." + ELEMENTS, grid);
    }

    static void swigluForwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] out, float[] a,
                                   float[] b, int[] params, int pb) {
        tg.task(ELEMENTS, GlueKernels::swigluForward, new KernelContext(), out, a, b, params, pb);
        grids.addWorkerGrid(name + "." + ELEMENTS, grid);
    }

    static void swigluBackwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] da, float[] db,
                                    float[] dy, float[] a, float[] b, int[] params, int pb) {
        tg.task(ELEMENTS, GlueKernels::swigluBackward, new KernelContext(), da, db, dy, a, b, params, pb);
        grids.addWorkerGrid(name + "." + ELEMENTS, grid);
    }

    static void geluForwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] out, float[] x,
                                 int[] params, int pb) {
        tg.task(ELEMENTS, GlueKernels::geluForward, new KernelContext(), out, x, params, pb);
        grids.addWorkerGrid(name + "." + ELEMENTS, grid);
    }

    static void geluBackwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] dx, float[] dy,
                                  float[] x, int[] params, int pb) {
        tg.task(ELEMENTS, GlueKernels::geluBackward, new KernelContext(), dx, dy, x, params, pb);
        grids.addWorkerGrid(name + "." + ELEMENTS, grid);
    }

    /**
     * One elementwise op for one capacity class. Staging: {@code out} is the written array (dst,
     * out, or da), {@code out2} the second written one (db), {@code a}, {@code b}, {@code dy} the
     * inputs; accumulating ops transfer their outputs in as well.
     */
    private final class Elementwise extends StagedGraph {
        final Kind kind;
        final int[] params = new int[GlueKernels.PARAMS];
        /** fill's value, axpby's alpha and beta, scale's alpha. */
        final float[] value = new float[2];
        float[] out, out2, a, b, dy;
        WorkerGrid1D grid;

        Elementwise(Kind kind) {
            super(GlueGraphs.this.session, switch (kind) {
                case COPY -> COPY;
                case ACCUMULATE -> ACCUMULATE;
                case FILL -> FILL;
                case SWIGLU_FORWARD -> SWIGLU_FORWARD;
                case SWIGLU_BACKWARD -> SWIGLU_BACKWARD;
                case AXPBY -> AXPBY;
                case SCALE -> SCALE;
                case DROPOUT -> DROPOUT;
                case TRANSPOSE -> TRANSPOSE;
                case GELU_FORWARD -> GELU_FORWARD;
                case GELU_BACKWARD -> GELU_BACKWARD;
            });
            this.kind = kind;
        }

        void execute(int n) {
            params[GlueKernels.N] = n;
            size(grid, n);
            graph.execute();
        }

        @Override
        DeviceGraph build(int capacity) {
            out = new float[capacity];
            boolean two = kind == Kind.SWIGLU_FORWARD || kind == Kind.SWIGLU_BACKWARD || kind == Kind.GELU_BACKWARD;
            a = kind == Kind.FILL || kind == Kind.SCALE || kind == Kind.DROPOUT ? new float[1] : new float[capacity];
            b = two ? new float[capacity] : new float[1];
            out2 = kind == Kind.SWIGLU_BACKWARD ? new float[capacity] : new float[1];
            dy = kind == Kind.SWIGLU_BACKWARD ? new float[capacity] : new float[1];
            String name = session.graphName(op, "n" + capacity);
            GridScheduler grids = new GridScheduler();
            grid = StagedGraph.grid1(capacity);
            TaskGraph tg = new TaskGraph(name);
            Object[] in, result;
            switch (kind) {
                case COPY -> {
                    in = arrays(params, a);
                    result = arrays(out);
                    tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
                    copyTasks(tg, name, grids, grid, out, a, params, 0);
                }
                case ACCUMULATE -> {
                    in = arrays(params, out, a);
                    result = arrays(out);
                    tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
                    accumulateTasks(tg, name, grids, grid, out, a, params, 0);
                }
                case FILL -> {
                    in = arrays(params, value);
                    result = arrays(out);
                    tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
                    fillTasks(tg, name, grids, grid, out, value, 0, params, 0);
                }
                case AXPBY -> {
                    in = arrays(params, value, out, a);
                    result = arrays(out);
                    tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
                    axpbyTasks(tg, name, grids, grid, out, a, value, 0, params, 0);
                }
                case SCALE -> {
                    in = arrays(params, value, out);
                    result = arrays(out);
                    tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
                    scaleTasks(tg, name, grids, grid, out, value, 0, params, 0);
                }
                case DROPOUT -> {
                    in = arrays(params, value, out);
                    result = arrays(out);
                    tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
                    dropoutTasks(tg, name, grids, grid, out, value, 0, params, 0);
                }
                case TRANSPOSE -> {
                    in = arrays(params, a);
                    result = arrays(out);
                    tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
                    transposeTasks(tg, name, grids, grid, out, a, params, 0);
                }
                case SWIGLU_FORWARD -> {
                    in = arrays(params, a, b);
                    result = arrays(out);
                    tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
                    swigluForwardTasks(tg, name, grids, grid, out, a, b, params, 0);
                }
                case GELU_FORWARD -> {
                    in = arrays(params, a);
                    result = arrays(out);
                    tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
                    geluForwardTasks(tg, name, grids, grid, out, a, params, 0);
                }
                case GELU_BACKWARD -> {
                    in = arrays(params, out, a, b);
                    result = arrays(out);
                    tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
                    geluBackwardTasks(tg, name, grids, grid, out, a, b, params, 0);
                }
                default -> {
                    in = arrays(params, out, out2, dy, a, b);
                    result = arrays(out, out2);
                    tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
                    swigluBackwardTasks(tg, name, grids, grid, out, out2, dy, a, b, params, 0);
                }
            }
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, result);
            return device(tg, grids, in, result);
        }
    }

    @Override
    public void close() {
        elementwise.forEach(l -> l.forEach(StagedGraph::close));
    }
}
