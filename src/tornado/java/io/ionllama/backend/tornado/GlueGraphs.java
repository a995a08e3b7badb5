package io.ionllama.backend.tornado;

import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;

/**
 * The glue's device ops: copy, accumulate, fill, axpby, scale, dropout, transpose, SwiGLU and GELU
 * forward/backward, each one task ({@link #ELEMENTS}) over n elements. (The IntegralLNN gate and
 * generation's scan step are the scan's: {@link ScanGraphs}.)
 *
 * <p>The elementwise ops see every size in one step (a residual of B*T*C floats, a bias of C), so
 * their copying graphs are kept per capacity class ({@link OpCall#byClass}): a call moves a
 * staging array at most twice its size. Inside a step one site per op and arrays serves every
 * size: the count and the caller's offsets travel in {@code params}, fill's value, scale's alpha
 * and axpby's alpha and beta in a small per-call float array ({@link Site#values}).
 */
final class GlueGraphs {

    /** The ops' names: their counters in {@link TornadoBackend#stats()}, their graphs' names. */
    static final String COPY = "copy", ACCUMULATE = "accumulate", FILL = "fill", AXPBY = "axpby", SCALE = "scale",
            DROPOUT = "dropout", TRANSPOSE = "transpose", SWIGLU_FORWARD = "swigluForward",
            SWIGLU_BACKWARD = "swigluBackward", GELU_FORWARD = "geluForward", GELU_BACKWARD = "geluBackward";

    /** Name of the elementwise ops' task. */
    static final String ELEMENTS = "elements";

    /** An elementwise call over n elements: params = [n, offsets...] in the order of the kernel's array arguments. */
    private static OpCall elementwise(String op, int n) {
        return DeviceOps.call(op, GlueKernels.PARAMS, GlueKernels.OFF0).skipIf(n <= 0).size(GlueKernels.N, n).byClass(n)
                .grids(DeviceOps.grid1(n));
    }

    /** Registers the op's grid for its one task and returns the graph to add the task to. */
    private static TaskGraph elements(TaskGraph tg, String name, GridScheduler grids, Site st) {
        grids.addWorkerGrid(name + "." + ELEMENTS, st.grid1());
        return tg;
    }

    static void copy(DeviceOps ops, float[] dst, int dstOff, float[] src, int srcOff, int n) {
        ops.run(elementwise(COPY, n).out(dst, dstOff, n, 1).in(src, srcOff, n, 1).tasks((tg, name, grids, st) ->
                elements(tg, name, grids, st).task(ELEMENTS, GlueKernels::copy, new KernelContext(), st.f(0), st.f(1), st.params, st.pb())));
    }

    static void accumulate(DeviceOps ops, float[] dst, int dstOff, float[] src, int srcOff, int n) {
        ops.run(elementwise(ACCUMULATE, n).inout(dst, dstOff, n, 1).in(src, srcOff, n, 1).tasks((tg, name, grids, st) ->
                elements(tg, name, grids, st).task(ELEMENTS, GlueKernels::accumulate, new KernelContext(), st.f(0), st.f(1), st.params,
                        st.pb())));
    }

    static void fill(DeviceOps ops, float[] dst, int dstOff, float value, int n) {
        ops.run(elementwise(FILL, n).out(dst, dstOff, n, 1).values(new float[] {value}).tasks((tg, name, grids, st) ->
                elements(tg, name, grids, st).task(ELEMENTS, GlueKernels::fill, new KernelContext(), st.f(0), st.values(), st.vb(),
                        st.params, st.pb())));
    }

    static void axpby(DeviceOps ops, float[] y, int yOff, float alpha, float[] x, int xOff, float beta, int n) {
        ops.run(elementwise(AXPBY, n).inout(y, yOff, n, 1).in(x, xOff, n, 1).values(new float[] {alpha, beta})
                .tasks((tg, name, grids, st) -> elements(tg, name, grids, st).task(ELEMENTS, GlueKernels::axpby, new KernelContext(),
                        st.f(0), st.f(1), st.values(), st.vb(), st.params, st.pb())));
    }

    static void scale(DeviceOps ops, float[] y, int yOff, float alpha, int n) {
        ops.run(elementwise(SCALE, n).inout(y, yOff, n, 1).values(new float[] {alpha}).tasks((tg, name, grids, st) ->
                scaleTasks(tg, name, grids, st.grid1(), st.f(0), st.values(), st.vb(), st.params, st.pb())));
    }

    /** Dropout in place; the seed and threshold travel as the call's integer parameters, the scale as its value. */
    static void dropout(DeviceOps ops, float[] y, int yOff, float p, int seed, int n) {
        ops.run(elementwise(DROPOUT, n).inout(y, yOff, n, 1).size(GlueKernels.OFF0 + 1, seed)
                .size(GlueKernels.OFF0 + 2, io.ionllama.kernels.Elementwise.dropoutThreshold(p)).values(new float[] {1f / (1f - p)})
                .tasks((tg, name, grids, st) -> elements(tg, name, grids, st).task(ELEMENTS, GlueKernels::dropout, new KernelContext(),
                        st.f(0), st.values(), st.vb(), st.params, st.pb())));
    }

    static void transpose(DeviceOps ops, float[] dst, int dstOff, float[] src, int srcOff, int rows, int cols) {
        int n = rows * cols;
        ops.run(elementwise(TRANSPOSE, n).skipIf(rows <= 0 || cols <= 0).out(dst, dstOff, n, 1).in(src, srcOff, n, 1).size(GlueKernels.OFF0 + 2, rows)
                .size(GlueKernels.OFF0 + 3, cols).tasks((tg, name, grids, st) -> elements(tg, name, grids, st).task(ELEMENTS,
                        GlueKernels::transpose, new KernelContext(), st.f(0), st.f(1), st.params, st.pb())));
    }

    static void swigluForward(DeviceOps ops, float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n) {
        ops.run(elementwise(SWIGLU_FORWARD, n).out(out, outOff, n, 1).in(a, aOff, n, 1).in(b, bOff, n, 1)
                .tasks((tg, name, grids, st) -> elements(tg, name, grids, st).task(ELEMENTS, GlueKernels::swigluForward,
                        new KernelContext(), st.f(0), st.f(1), st.f(2), st.params, st.pb())));
    }

    static void swigluBackward(DeviceOps ops, float[] da, int daOff, float[] db, int dbOff, float[] dy, int dyOff,
                        float[] a, int aOff, float[] b, int bOff, int n) {
        ops.run(elementwise(SWIGLU_BACKWARD, n).inout(da, daOff, n, 1).inout(db, dbOff, n, 1).in(dy, dyOff, n, 1).in(a, aOff, n, 1)
                .in(b, bOff, n, 1).tasks((tg, name, grids, st) -> elements(tg, name, grids, st).task(ELEMENTS,
                        GlueKernels::swigluBackward, new KernelContext(), st.f(0), st.f(1), st.f(2), st.f(3), st.f(4), st.params, st.pb())));
    }

    static void geluForward(DeviceOps ops, float[] out, int outOff, float[] x, int xOff, int n) {
        ops.run(elementwise(GELU_FORWARD, n).out(out, outOff, n, 1).in(x, xOff, n, 1).tasks((tg, name, grids, st) ->
                elements(tg, name, grids, st).task(ELEMENTS, GlueKernels::geluForward, new KernelContext(), st.f(0), st.f(1), st.params,
                        st.pb())));
    }

    /** dx += dy * gelu'(x). */
    static void geluBackward(DeviceOps ops, float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff, int n) {
        ops.run(elementwise(GELU_BACKWARD, n).inout(dx, dxOff, n, 1).in(dy, dyOff, n, 1).in(x, xOff, n, 1)
                .tasks((tg, name, grids, st) -> elements(tg, name, grids, st).task(ELEMENTS, GlueKernels::geluBackward,
                        new KernelContext(), st.f(0), st.f(1), st.f(2), st.params, st.pb())));
    }

    /** y *= coef[cb] (also the last task of the optimizer's normalize). */
    static void scaleTasks(TaskGraph tg, String name, GridScheduler grids, WorkerGrid1D grid, float[] y, float[] coef, int cb,
                           int[] params, int pb) {
        tg.task(ELEMENTS, GlueKernels::scale, new KernelContext(), y, coef, cb, params, pb);
        grids.addWorkerGrid(name + "." + ELEMENTS, grid);
    }
}
