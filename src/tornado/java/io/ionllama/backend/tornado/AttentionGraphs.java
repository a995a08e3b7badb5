package io.ionllama.backend.tornado;

import java.util.ArrayList;
import java.util.List;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * The TaskGraphs of attention (dilated, dense and tokun's group attention, forward and backward)
 * and RoPE, with per-op transfers as in {@link MatmulGraphs}. Group attention is dense attention's
 * shape with B = groups and P = S = G, so it shares dense's graphs and sizes, with its own kernels
 * (window code {@link #GROUP}).
 *
 * <p>Cache keys: heads, head size and window (attention), heads, head size, base and direction
 * (RoPE) are compiled in. The model calls attention and RoPE once per sequence with that
 * sequence's patch count P, so B, P, the slot count S (which grows with P) and RoPE's row count
 * and first position travel in {@code params} and the grids are set per execution. A graph's
 * staging arrays hold {@code capacity} rows of q/k/v and {@code capacity x heads x capacity2}
 * floats of att ([B, heads, P, S] with B*P rows and S slots per row; dense: S = P).
 *
 * <p>Inside a training step each op call also names a {@link Site} bound to the caller's
 * own arrays (q, k, v at the sequence's offset, att at its own): one site per op and arrays serves
 * every sequence, its {@code params} carrying that call's sizes and offsets.
 */
final class AttentionGraphs implements AutoCloseable {

    static final String DILATED_FORWARD = "attentionDilatedForward";
    static final String DILATED_BACKWARD = "attentionDilatedBackward";
    static final String DENSE_FORWARD = "attentionDenseForward";
    static final String DENSE_BACKWARD = "attentionDenseBackward";
    static final String ROPE_FORWARD = "ropeForward";
    static final String ROPE_BACKWARD = "ropeBackward";
    static final String QUERY = "attentionQuery";
    static final String GROUP_FORWARD = "attentionGroupForward";
    static final String GROUP_BACKWARD = "attentionGroupBackward";

    /** The window argument that means group attention (0 means dense, positive dilated). */
    static final int GROUP = -1;

    private final TornadoSession session;
    private final Residency residency;
    private final List<Forward> forwards = new ArrayList<>();
    private final List<Backward> backwards = new ArrayList<>();
    private final List<RopeGraph> ropes = new ArrayList<>();
    private final List<QueryGraph> queries = new ArrayList<>();

    AttentionGraphs(TornadoSession session, Residency residency) {
        this.session = session;
        this.residency = residency;
    }

    /** The op's name for a window code: dense (0), group ({@link #GROUP}) or dilated. */
    private static String op(int window, boolean backward) {
        if (window == 0) {
            return backward ? DENSE_BACKWARD : DENSE_FORWARD;
        }
        if (window == GROUP) {
            return backward ? GROUP_BACKWARD : GROUP_FORWARD;
        }
        return backward ? DILATED_BACKWARD : DILATED_FORWARD;
    }

    /** The graph name's shape part. */
    private static String shape(int heads, int hd, int window) {
        return heads + "x" + hd + (window == 0 ? "" : window == GROUP ? "g" : "w" + window);
    }

    /** window = 0: dense (S = P); {@link #GROUP}: group attention, B groups of P = S = G rows. */
    void forward(float[] out, int outOff, float[] att, int attOff, float[] q, int qOff, float[] k, int kOff,
                 float[] v, int vOff, int B, int P, int heads, int hd, int window, int slots) {
        Forward g = null;
        for (Forward f : forwards) {
            if (f.heads == heads && f.hd == hd && f.window == window) {
                g = f;
                break;
            }
        }
        int S = window <= 0 ? P : slots;
        String op = op(window, false);
        Site site = residency.site(new SiteKey(op, new int[] {heads, hd, window}, out, att, q, k, v),
                () -> new Site(op, AttentionKernels.PARAMS, new Object[] {out, att, q, k, v}, new Object[] {out, att},
                        Site.grids1(1), (tg, name, grids, st) -> forwardTasks(tg, name, grids, st.grid1(), out, att, q, k, v, st.params, st.pb(), heads, hd, window)));
        if (site != null) {
            setSizes(site.params, site.grid1(), B, P, S, heads);
            setOffsets(site.params, outOff, attOff, qOff, kOff, vOff);
        }
        if (residency.run(site)) {
            return;
        }
        if (g == null) {
            g = new Forward(heads, hd, window);
            forwards.add(g);
        }
        g.run(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, B, P, S);
        residency.wroteOnHost(out, att);
    }

    void backward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff, float[] dout, int doutOff,
                  float[] q, int qOff, float[] k, int kOff, float[] v, int vOff, float[] out, int outOff,
                  float[] att, int attOff, int B, int P, int heads, int hd, int window, int slots) {
        Backward g = null;
        for (Backward f : backwards) {
            if (f.heads == heads && f.hd == hd && f.window == window) {
                g = f;
                break;
            }
        }
        int S = window <= 0 ? P : slots;
        String op = op(window, true);
        Site site = residency.site(new SiteKey(op, new int[] {heads, hd, window}, dq, dk, dv, dout, q, k, v, out, att),
                () -> new Site(op, AttentionKernels.PARAMS, new Object[] {dq, dk, dv, dout, q, k, v, out, att}, new Object[] {dq, dk, dv},
                        Site.grids1(2), (tg, name, grids, st) -> backwardTasks(tg, name, grids, st.grid1(0), st.grid1(1),
                                dq, dk, dv, dout, q, k, v, out, att, st.params, st.pb(), heads, hd, window)));
        if (site != null) {
            setSizes(site.params, site.grid1(0), B, P, S, heads);
            StagedGraph.size(site.grid1(1), B * P * heads);
            setOffsets(site.params, dqOff, doutOff, kOff, vOff, outOff, attOff, dkOff, dvOff, qOff);
        }
        if (residency.run(site)) {
            return;
        }
        if (g == null) {
            g = new Backward(heads, hd, window);
            backwards.add(g);
        }
        g.run(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff, v, vOff, out, outOff, att, attOff, B, P, S);
        residency.wroteOnHost(dq, dk, dv);
    }

    void rope(boolean backward, float[] y, int yOff, float[] x, int xOff, int rows, int P, int pos0, int heads, int hd,
              float base) {
        RopeGraph g = null;
        for (RopeGraph f : ropes) {
            if (f.backward == backward && f.heads == heads && f.hd == hd
                    && Float.floatToIntBits(f.base) == Float.floatToIntBits(base)) {
                g = f;
                break;
            }
        }
        String op = backward ? ROPE_BACKWARD : ROPE_FORWARD;
        Site site = residency.site(new SiteKey(op, new int[] {heads, hd, Float.floatToIntBits(base)}, y, x),
                () -> new Site(op, AttentionKernels.PARAMS, new Object[] {y, x}, new Object[] {y},
                        Site.grids1(1), (tg, name, grids, st) -> ropeTasks(tg, name, grids, st.grid1(), backward, y, x, st.params, st.pb(), heads, hd, base)));
        if (site != null) {
            setRope(site.params, site.grid1(), rows, P, pos0, heads);
            setOffsets(site.params, yOff, xOff);
        }
        if (residency.run(site)) {
            return;
        }
        if (g == null) {
            g = new RopeGraph(backward, heads, hd, base);
            ropes.add(g);
        }
        g.run(y, yOff, x, xOff, rows, P, pos0);
        residency.wroteOnHost(y);
    }

    /**
     * Slots per att row to stage for a graph holding {@code rows} rows: dense reads up to P <= rows
     * keys; group attention G; dilated at most dilatedSlots(window, rows) (more only when the
     * caller asks for more).
     */
    private static int slotCapacity(int rows, int S, int window) {
        int cap = StagedGraph.capacityFor(rows);
        if (window == GROUP) {
            return S;
        }
        return window == 0 ? cap : Math.max(S, io.ionllama.kernels.Attention.dilatedSlots(window, cap));
    }

    private static void setSizes(int[] params, WorkerGrid1D grid, int B, int P, int S, int heads) {
        params[AttentionKernels.B] = B;
        params[AttentionKernels.P] = P;
        params[AttentionKernels.S] = S;
        StagedGraph.size(grid, B * P * heads);
    }

    private static void setRope(int[] params, WorkerGrid1D grid, int rows, int P, int pos0, int heads) {
        params[AttentionKernels.ROWS] = rows;
        params[AttentionKernels.ROPE_P] = P;
        params[AttentionKernels.POS0] = pos0;
        StagedGraph.size(grid, rows * heads);
    }

    /** The offsets of {@code params}, in the order of {@link AttentionKernels#OFF0}'s list. */
    static void setOffsets(int[] params, int... offsets) {
        System.arraycopy(offsets, 0, params, AttentionKernels.OFF0, offsets.length);
    }

    static void forwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] out, float[] att,
                             float[] q, float[] k, float[] v, int[] params, int pb, int heads, int hd, int window) {
        if (window == GROUP) {
            tg.task("queries", AttentionKernels::groupForward, new KernelContext(), out, att, q, k, v, params, pb, heads, hd);
        } else if (window == 0) {
            tg.task("queries", AttentionKernels::denseForward, new KernelContext(), out, att, q, k, v, params, pb, heads, hd);
        } else {
            tg.task("queries", AttentionKernels::dilatedForward, new KernelContext(), out, att, q, k, v, params, pb,
                    heads, hd, window);
        }
        grids.addWorkerGrid(name + ".queries", grid);
    }

    static void backwardTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D queryGrid, WorkerGrid1D keyGrid,
                              float[] dq, float[] dk, float[] dv, float[] dout, float[] q, float[] k, float[] v,
                              float[] out, float[] att, int[] params, int pb, int heads, int hd, int window) {
        if (window == GROUP) {
            tg.task("queries", AttentionKernels::groupBackwardQuery, new KernelContext(), dq, dout, k, v, out, att,
                    params, pb, heads, hd);
            tg.task("keys", AttentionKernels::groupBackwardKey, new KernelContext(), dk, dv, dout, q, v, out, att,
                    params, pb, heads, hd);
        } else if (window == 0) {
            tg.task("queries", AttentionKernels::denseBackwardQuery, new KernelContext(), dq, dout, k, v, out, att,
                    params, pb, heads, hd);
            tg.task("keys", AttentionKernels::denseBackwardKey, new KernelContext(), dk, dv, dout, q, v, out, att,
                    params, pb, heads, hd);
        } else {
            tg.task("queries", AttentionKernels::dilatedBackwardQuery, new KernelContext(), dq, dout, k, v, out, att,
                    params, pb, heads, hd, window);
            tg.task("keys", AttentionKernels::dilatedBackwardKey, new KernelContext(), dk, dv, dout, q, v, out, att,
                    params, pb, heads, hd, window);
        }
        grids.addWorkerGrid(name + ".queries", queryGrid);
        grids.addWorkerGrid(name + ".keys", keyGrid);
    }

    static void ropeTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, boolean backward, float[] y,
                          float[] x, int[] params, int pb, int heads, int hd, float base) {
        if (backward) {
            tg.task("heads", AttentionKernels::ropeBackward, new KernelContext(), y, x, params, pb, heads, hd, base);
        } else {
            tg.task("heads", AttentionKernels::ropeForward, new KernelContext(), y, x, params, pb, heads, hd, base);
        }
        grids.addWorkerGrid(name + ".heads", grid);
    }

    static void queryTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] out, float[] att,
                           float[] q, float[] k, float[] v, int[] params, int pb, int heads, int hd, int window, boolean dense) {
        tg.task("heads", AttentionKernels::query, new KernelContext(), out, att, q, k, v, params, pb, heads, hd, window,
                dense ? 1 : 0);
        grids.addWorkerGrid(name + ".heads", grid);
    }

    private final class Forward extends StagedGraph {
        final int heads, hd, window, C;
        final int[] params = new int[AttentionKernels.PARAMS];
        float[] out, att, q, k, v;
        WorkerGrid1D grid;

        Forward(int heads, int hd, int window) {
            super(AttentionGraphs.this.session, op(window, false));
            this.heads = heads;
            this.hd = hd;
            this.window = window;
            this.C = heads * hd;
        }

        void run(float[] out, int outOff, float[] att, int attOff, float[] q, int qOff, float[] k, int kOff,
                 float[] v, int vOff, int B, int P, int S) {
            int rows = B * P;
            ensureCapacity(rows, slotCapacity(rows, S, window));
            System.arraycopy(q, qOff, this.q, 0, rows * C);
            System.arraycopy(k, kOff, this.k, 0, rows * C);
            System.arraycopy(v, vOff, this.v, 0, rows * C);
            setSizes(params, grid, B, P, S, heads);
            graph.execute();
            System.arraycopy(this.out, 0, out, outOff, rows * C);
            System.arraycopy(this.att, 0, att, attOff, rows * heads * S);
        }

        @Override
        DeviceGraph build(int capacity) {
            out = new float[capacity * C];
            q = new float[capacity * C];
            k = new float[capacity * C];
            v = new float[capacity * C];
            att = new float[capacity * heads * capacity2];
            String name = session.graphName(op, shape(heads, hd, window));
            GridScheduler grids = new GridScheduler();
            grid = StagedGraph.grid1(capacity * heads);
            TaskGraph tg = new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, params, q, k, v);
            forwardTasks(tg, name, grids, grid, out, att, q, k, v, params, 0, heads, hd, window);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, out, att);
            return device(tg, grids, arrays(params, q, k, v), arrays(out, att));
        }
    }

    private final class Backward extends StagedGraph {
        final int heads, hd, window, C;
        final int[] params = new int[AttentionKernels.PARAMS];
        float[] dq, dk, dv, dout, q, k, v, out, att;
        WorkerGrid1D queryGrid, keyGrid;

        Backward(int heads, int hd, int window) {
            super(AttentionGraphs.this.session, op(window, true));
            this.heads = heads;
            this.hd = hd;
            this.window = window;
            this.C = heads * hd;
        }

        void run(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff, float[] dout, int doutOff,
                 float[] q, int qOff, float[] k, int kOff, float[] v, int vOff, float[] out, int outOff,
                 float[] att, int attOff, int B, int P, int S) {
            int rows = B * P, n = rows * C;
            ensureCapacity(rows, slotCapacity(rows, S, window));
            System.arraycopy(dq, dqOff, this.dq, 0, n);
            System.arraycopy(dk, dkOff, this.dk, 0, n);
            System.arraycopy(dv, dvOff, this.dv, 0, n);
            System.arraycopy(dout, doutOff, this.dout, 0, n);
            System.arraycopy(q, qOff, this.q, 0, n);
            System.arraycopy(k, kOff, this.k, 0, n);
            System.arraycopy(v, vOff, this.v, 0, n);
            System.arraycopy(out, outOff, this.out, 0, n);
            System.arraycopy(att, attOff, this.att, 0, rows * heads * S);
            setSizes(params, queryGrid, B, P, S, heads);
            size(keyGrid, B * P * heads);
            graph.execute();
            System.arraycopy(this.dq, 0, dq, dqOff, n);
            System.arraycopy(this.dk, 0, dk, dkOff, n);
            System.arraycopy(this.dv, 0, dv, dvOff, n);
        }

        @Override
        DeviceGraph build(int capacity) {
            int n = capacity * C;
            dq = new float[n];
            dk = new float[n];
            dv = new float[n];
            dout = new float[n];
            q = new float[n];
            k = new float[n];
            v = new float[n];
            out = new float[n];
            att = new float[capacity * heads * capacity2];
            String name = session.graphName(op, shape(heads, hd, window));
            GridScheduler grids = new GridScheduler();
            queryGrid = StagedGraph.grid1(capacity * heads);
            keyGrid = StagedGraph.grid1(capacity * heads);
            Object[] in = arrays(params, dq, dk, dv, dout, q, k, v, out, att);
            TaskGraph tg = new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
            backwardTasks(tg, name, grids, queryGrid, keyGrid, dq, dk, dv, dout, q, k, v, out, att, params, 0, heads, hd, window);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, dq, dk, dv);
            return device(tg, grids, in, arrays(dq, dk, dv));
        }
    }

    /** Generation: query row i against the cached keys and values 0..i (att: heads rows of i+1 or slots floats). */
    void query(boolean dense, float[] out, int outOff, float[] att, float[] q, int qOff, float[] k, int kOff,
               float[] v, int vOff, int i, int heads, int hd, int window, int slots) {
        QueryGraph g = null;
        for (QueryGraph f : queries) {
            if (f.dense == dense && f.heads == heads && f.hd == hd && f.window == window) {
                g = f;
                break;
            }
        }
        Site site = residency.site(new SiteKey(QUERY, new int[] {dense ? 1 : 0, heads, hd, window}, out, att, q, k, v),
                () -> new Site(QUERY, AttentionKernels.PARAMS, new Object[] {out, att, q, k, v}, new Object[] {out, att},
                        Site.grids1(1), (tg, name, grids, st) -> queryTasks(tg, name, grids, st.grid1(), out, att, q, k, v, st.params, st.pb(), heads, hd, window, dense)));
        if (site != null) {
            site.params[AttentionKernels.QUERY] = i;
            site.params[AttentionKernels.QUERY_SLOTS] = slots;
            setOffsets(site.params, outOff, 0, qOff, kOff, vOff);
            StagedGraph.size(site.grid1(), heads);
        }
        if (residency.run(site)) {
            return;
        }
        if (g == null) {
            g = new QueryGraph(dense, heads, hd, window);
            queries.add(g);
        }
        g.run(out, outOff, att, q, qOff, k, kOff, v, vOff, i, slots);
        residency.wroteOnHost(out, att);
    }

    /** Capacity: key rows (i + 1); second capacity: floats per att row. */
    private final class QueryGraph extends StagedGraph {
        final boolean dense;
        final int heads, hd, window, C;
        final int[] params = new int[AttentionKernels.PARAMS];
        final float[] out, q;
        float[] att, k, v;
        WorkerGrid1D grid;

        QueryGraph(boolean dense, int heads, int hd, int window) {
            super(AttentionGraphs.this.session, QUERY);
            this.dense = dense;
            this.heads = heads;
            this.hd = hd;
            this.window = window;
            this.C = heads * hd;
            this.out = new float[C];
            this.q = new float[C];
        }

        void run(float[] out, int outOff, float[] att, float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                 int i, int slots) {
            int keys = i + 1, row = dense ? keys : slots;
            ensureCapacity(keys, dense ? capacityFor(keys) : Math.max(slots, 16));
            System.arraycopy(q, qOff, this.q, 0, C);
            System.arraycopy(k, kOff, this.k, 0, keys * C);
            System.arraycopy(v, vOff, this.v, 0, keys * C);
            params[AttentionKernels.QUERY] = i;
            params[AttentionKernels.QUERY_SLOTS] = slots;
            graph.execute();
            System.arraycopy(this.out, 0, out, outOff, C);
            System.arraycopy(this.att, 0, att, 0, heads * row);
        }

        @Override
        DeviceGraph build(int capacity) {
            att = new float[heads * capacity2];
            k = new float[capacity * C];
            v = new float[capacity * C];
            String name = session.graphName(op, heads + "x" + hd + (dense ? "" : "w" + window));
            GridScheduler grids = new GridScheduler();
            grid = StagedGraph.grid1(heads);
            Object[] in = arrays(params, q, k, v);
            TaskGraph tg = new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
            queryTasks(tg, name, grids, grid, out, att, q, k, v, params, 0, heads, hd, window, dense);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, out, att);
            return device(tg, grids, in, arrays(out, att));
        }
    }

    private final class RopeGraph extends StagedGraph {
        final boolean backward;
        final int heads, hd, C;
        final float base;
        final int[] params = new int[AttentionKernels.PARAMS];
        float[] y, x;
        WorkerGrid1D grid;

        RopeGraph(boolean backward, int heads, int hd, float base) {
            super(AttentionGraphs.this.session, backward ? ROPE_BACKWARD : ROPE_FORWARD);
            this.backward = backward;
            this.heads = heads;
            this.hd = hd;
            this.base = base;
            this.C = heads * hd;
        }

        /** Forward: y = RoPE(x). Backward: y (dx) += RoPE^T(x (dy)). */
        void run(float[] y, int yOff, float[] x, int xOff, int rows, int P, int pos0) {
            ensureCapacity(rows);
            int n = rows * C;
            System.arraycopy(x, xOff, this.x, 0, n);
            if (backward) {
                System.arraycopy(y, yOff, this.y, 0, n);
            }
            setRope(params, grid, rows, P, pos0, heads);
            graph.execute();
            System.arraycopy(this.y, 0, y, yOff, n);
        }

        @Override
        DeviceGraph build(int capacity) {
            y = new float[capacity * C];
            x = new float[capacity * C];
            String name = session.graphName(op, heads + "x" + hd);
            GridScheduler grids = new GridScheduler();
            grid = StagedGraph.grid1(capacity * heads);
            Object[] in = backward ? arrays(params, y, x) : arrays(params, x);
            TaskGraph tg = new TaskGraph(name).transferToDevice(DataTransferMode.EVERY_EXECUTION, in);
            ropeTasks(tg, name, grids, grid, backward, y, x, params, 0, heads, hd, base);
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, y);
            return device(tg, grids, in, arrays(y));
        }
    }

    @Override
    public void close() {
        forwards.forEach(StagedGraph::close);
        backwards.forEach(StagedGraph::close);
        ropes.forEach(StagedGraph::close);
        queries.forEach(StagedGraph::close);
    }
}
