package io.ionllama.backend.tornado;

import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;

/**
 * The device ops of attention (dilated, dense and tokun's group attention, forward and backward,
 * and generation's one-query attention) and RoPE. Group attention is dense attention's shape with
 * B = groups and P = S = G, with its own kernels (window code {@link #GROUP}).
 *
 * <p>Compiled in: heads, head size and window (attention), heads, head size and base (RoPE). The
 * model calls attention and RoPE once per sequence with that sequence's patch count P, so B, P,
 * the slot count S (which grows with P) and RoPE's row count and first position travel in
 * {@code params}. A copying graph's staging arrays hold {@code capacity} rows of q/k/v and
 * {@code capacity x heads x capacity2} floats of att ([B, heads, P, S] with B*P rows and S slots
 * per row; dense: S = P). Inside a step one site per op and arrays serves every sequence.
 */
final class AttentionGraphs {

    /** The ops' names: their counters in {@link TornadoBackend#stats()}, their graphs' names. */
    static final String DILATED_FORWARD = "attentionDilatedForward", DILATED_BACKWARD = "attentionDilatedBackward",
            DENSE_FORWARD = "attentionDenseForward", DENSE_BACKWARD = "attentionDenseBackward", ROPE_FORWARD = "ropeForward",
            ROPE_BACKWARD = "ropeBackward", QUERY = "attentionQuery", GROUP_FORWARD = "attentionGroupForward",
            GROUP_BACKWARD = "attentionGroupBackward";

    /** The window argument that means group attention (0 means dense, positive dilated). */
    static final int GROUP = -1;

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

    /**
     * An attention call over B sequences of P rows, S slots per row: params = [B, P, S, offsets...]
     * in the order of {@link AttentionKernels#OFF0}'s list, a thread per (row, head).
     */
    private static OpCall call(boolean backward, int B, int P, int S, int heads, int hd, int window) {
        int rows = B * P;
        return DeviceOps.call(op(window, backward), AttentionKernels.PARAMS, AttentionKernels.OFF0, heads, hd, window)
                .skipIf(B <= 0 || P <= 0 || heads <= 0 || hd <= 0)
                .size(AttentionKernels.B, B).size(AttentionKernels.P, P).size(AttentionKernels.S, S)
                .rows(rows, slotCapacity(rows, S, window));
    }

    /** window = 0: dense (S = P); {@link #GROUP}: group attention, B groups of P = S = G rows. */
    static void forward(DeviceOps ops, float[] out, int outOff, float[] att, int attOff, float[] q, int qOff, float[] k, int kOff,
                 float[] v, int vOff, int B, int P, int heads, int hd, int window, int slots) {
        if (window == 0 && (B <= 0 || P <= 0 || heads <= 0 || hd <= 0)) {
            ops.cpu.attentionDenseForward(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, B, P, heads, hd);
            return;
        }
        int S = window <= 0 ? P : slots, rows = B * P, C = heads * hd;
        ops.run(call(false, B, P, S, heads, hd, window).grids(DeviceOps.grid1(rows * heads)).out(out, outOff, rows * C, C)
                .out(att, attOff, rows * heads * S, heads).cells().in(q, qOff, rows * C, C).in(k, kOff, rows * C, C)
                .in(v, vOff, rows * C, C).tasks((tg, name, grids, st) -> forwardTasks(tg, name, grids, st.grid1(), st.f(0), st.f(1),
                        st.f(2), st.f(3), st.f(4), st.params, st.pb(), heads, hd, window)));
    }

    /** A query pass for dq and a key pass for dk, dv; the offsets in the kernels' order (dq, dout, k, v, out, att, dk, dv, q). */
    static void backward(DeviceOps ops, float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff, float[] dout, int doutOff,
                  float[] q, int qOff, float[] k, int kOff, float[] v, int vOff, float[] out, int outOff,
                  float[] att, int attOff, int B, int P, int heads, int hd, int window, int slots) {
        if (window == 0 && (B <= 0 || P <= 0 || heads <= 0 || hd <= 0)) {
            ops.cpu.attentionDenseBackward(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff, v, vOff, out, outOff,
                    att, attOff, B, P, heads, hd);
            return;
        }
        int S = window <= 0 ? P : slots, rows = B * P, C = heads * hd, n = rows * C;
        ops.run(call(true, B, P, S, heads, hd, window).grids(DeviceOps.grid1(rows * heads, rows * heads)).inout(dq, dqOff, n, C)
                .in(dout, doutOff, n, C).in(k, kOff, n, C).in(v, vOff, n, C).in(out, outOff, n, C)
                .in(att, attOff, rows * heads * S, heads).cells().inout(dk, dkOff, n, C).inout(dv, dvOff, n, C).in(q, qOff, n, C)
                .tasks((tg, name, grids, st) -> backwardTasks(tg, name, grids, st.grid1(0), st.grid1(1), st.f(0), st.f(6), st.f(7),
                        st.f(1), st.f(8), st.f(2), st.f(3), st.f(4), st.f(5), st.params, st.pb(), heads, hd, window)));
    }

    /** Forward: y = RoPE(x). Backward: y (dx) += RoPE^T(x (dy)). A thread per (row, head). */
    static void rope(DeviceOps ops, boolean backward, float[] y, int yOff, float[] x, int xOff, int rows, int P, int pos0, int heads, int hd,
              float base) {
        if (rows <= 0 || heads <= 0 || hd <= 0) {
            if (backward) {
                ops.cpu.ropeBackward(y, yOff, x, xOff, rows, P, pos0, heads, hd, base);
            } else {
                ops.cpu.ropeForward(y, yOff, x, xOff, rows, P, pos0, heads, hd, base);
            }
            return;
        }
        int C = heads * hd;
        OpCall c = DeviceOps.call(backward ? ROPE_BACKWARD : ROPE_FORWARD, AttentionKernels.PARAMS, AttentionKernels.OFF0, heads, hd,
                        Float.floatToIntBits(base)).size(AttentionKernels.ROWS, rows).size(AttentionKernels.ROPE_P, P)
                .size(AttentionKernels.POS0, pos0).rows(rows).grids(DeviceOps.grid1(rows * heads));
        if (backward) {
            c.inout(y, yOff, rows * C, C);
        } else {
            c.out(y, yOff, rows * C, C);
        }
        ops.run(c.in(x, xOff, rows * C, C).tasks((tg, name, grids, st) -> ropeTasks(tg, name, grids, st.grid1(), backward, st.f(0),
                st.f(1), st.params, st.pb(), heads, hd, base)));
    }

    /**
     * Generation: query row i against the cached keys and values 0..i (att: heads rows of i+1 or
     * slots floats, at offset 0). A copying graph's capacity: key rows; its second: floats per att row.
     */
    static void query(DeviceOps ops, boolean dense, float[] out, int outOff, float[] att, float[] q, int qOff, float[] k, int kOff,
               float[] v, int vOff, int i, int heads, int hd, int window, int slots) {
        if (i < 0 || heads <= 0 || hd <= 0) {
            ops.cpu.attentionQuery(dense, out, outOff, att, q, qOff, k, kOff, v, vOff, i, heads, hd, window, slots);
            return;
        }
        int keys = i + 1, row = dense ? keys : slots, C = heads * hd, w = dense ? 0 : window;
        ops.run(DeviceOps.call(QUERY, AttentionKernels.PARAMS, AttentionKernels.OFF0, dense ? 1 : 0, heads, hd, w)
                .size(AttentionKernels.QUERY, i).size(AttentionKernels.QUERY_SLOTS, slots)
                .rows(keys, dense ? StagedGraph.capacityFor(keys) : Math.max(slots, 16)).grids(DeviceOps.grid1(heads))
                .outFixed(out, outOff, C).out(att, 0, heads * row, heads).rows2().inFixed(q, qOff, C).in(k, kOff, keys * C, C)
                .in(v, vOff, keys * C, C).tasks((tg, name, grids, st) -> queryTasks(tg, name, grids, st.grid1(), st.f(0), st.f(1),
                        st.f(2), st.f(3), st.f(4), st.params, st.pb(), heads, hd, w, dense)));
    }

    /** The CPU backend's argument check of dilated attention, so both backends reject the same calls. */
    static void checkDilated(int P, int window, int slots) {
        if (window < 1 || slots < io.ionllama.kernels.Attention.dilatedSlots(window, P)) {
            throw new IllegalArgumentException("dilated attention needs window >= 1 and slots >= "
                    + "dilatedSlots(window, P); got window " + window + ", slots " + slots + ", P " + P);
        }
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
}
