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

    /** Name of the elementwise ops' task. */
    static final String ELEMENTS = "elements";

    private final DeviceOps ops;

    GlueGraphs(DeviceOps ops) {
        this.ops = ops;
    }

    /** An elementwise call over n elements: params = [n, offsets...] in the order of the kernel's array arguments. */
    private static OpCall elementwise(String op, int n) {
        return DeviceOps.call(op, GlueKernels.PARAMS, GlueKernels.OFF0).size(GlueKernels.N, n).byClass(n)
                .grids(DeviceOps.grid1(n));
    }

    /** Registers the op's grid for its one task and returns the graph to add the task to. */
    private static TaskGraph elements(TaskGraph tg, String name, GridScheduler grids, Site st) {
        grids.addWorkerGrid(name + "." + ELEMENTS, st.grid1());
        return tg;
    }

    void copy(float[] dst, int dstOff, float[] src, int srcOff, int n) {
        ops.run(elementwise(COPY, n).out(dst, dstOff, n, 1).in(src, srcOff, n, 1).tasks((tg, name, grids, st) ->
                elements(tg, name, grids, st).task(ELEMENTS, GlueKernels::copy, new KernelContext(), st.f(0), st.f(1), st.params, st.pb())));
    }

    void accumulate(float[] dst, int dstOff, float[] src, int srcOff, int n) {
        ops.run(elementwise(ACCUMULATE, n).inout(dst, dstOff, n, 1).in(src, srcOff, n, 1).tasks((tg, name, grids, st) ->
                elements(tg, name, grids, st).task(ELEMENTS, GlueKernels::accumulate, new KernelContext(), st.f(0), st.f(1), st.params,
                        st.pb())));
    }

    void fill(float[] dst, int dstOff, float value, int n) {
        ops.run(elementwise(FILL, n).out(dst, dstOff, n, 1).values(new float[] {value}).tasks((tg, name, grids, st) ->
                elements(tg, name, grids, st).task(ELEMENTS, GlueKernels::fill, new KernelContext(), st.f(0), st.values(), st.vb(),
                        st.params, st.pb())));
    }

    void axpby(float[] y, int yOff, float alpha, float[] x, int xOff, float beta, int n) {
        ops.run(elementwise(AXPBY, n).inout(y, yOff, n, 1).in(x, xOff, n, 1).values(new float[] {alpha, beta})
                .tasks((tg, name, grids, st) -> elements(tg, name, grids, st).task(ELEMENTS, GlueKernels::axpby, new KernelContext(),
                        st.f(0), st.f(1), st.values(), st.vb(), st.params, st.pb())));
    }

    void scale(float[] y, int yOff, float alpha, int n) {
        ops.run(elementwise(SCALE, n).inout(y, yOff, n, 1).values(new float[] {alpha}).tasks((tg, name, grids, st) ->
                scaleTasks(tg, name, grids, st.grid1(), st.f(0), st.values(), st.vb(), st.params, st.pb())));
    }

    /** Dropout in place; the seed and threshold travel as the call's integer parameters, the scale as its value. */
    void dropout(float[] y, int yOff, float p, int seed, int n) {
        ops.run(elementwise(DROPOUT, n).inout(y, yOff, n, 1).size(GlueKernels.OFF0 + 1, seed)
                .size(GlueKernels.OFF0 + 2, io.ionllama.kernels.Elementwise.dropoutThreshold(p)).values(new float[] {1f / (1f - p)})
                .tasks((tg, name, grids, st) -> elements(tg, name, grids, st).task(ELEMENTS, GlueKernels::dropout, new KernelContext(),
                        st.f(0), st.values(), st.vb(), st.params, st.pb())));
    }

    void transpose(float[] dst, int dstOff, float[] src, int srcOff, int rows, int cols) {
        int n = rows * cols;
        ops.run(elementwise(TRANSPOSE, n).out(dst, dstOff, n, 1).in(src, srcOff, n, 1).size(GlueKernels.OFF0 + 2, rows)
                .size(GlueKernels.OFF0 + 3, cols).tasks((tg, name, grids, st) -> elements(tg, name, grids, st).task(ELEMENTS,
                        GlueKernels::transpose, new KernelContext(), st.f(0), st.f(1), st.params, st.pb())));
    }

    void swigluForward(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n) {
        ops.run(elementwise(SWIGLU_FORWARD, n).out(out, outOff, n, 1).in(a, aOff, n, 1).in(b, bOff, n, 1)
                .tasks((tg, name, grids, st) -> elements(tg, name, grids, st).task(ELEMENTS, GlueKernels::swigluForward,
                        new KernelContext(), st.f(0), st.f(1), st.f(2), st.params, st.pb())));
    }

    void swigluBackward(float[] da, int daOff, float[] db, int dbOff, float[] dy, int dyOff,
                        float[] a, int aOff, float[] b, int bOff, int n) {
        ops.run(elementwise(SWIGLU_BACKWARD, n).inout(da, daOff, n, 1).inout(db, dbOff, n, 1).in(dy, dyOff, n, 1).in(a, aOff, n, 1)
                .in(b, bOff, n, 1).tasks((tg, name, grids, st) -> elements(tg, name, grids, st).task(ELEMENTS,
                        GlueKernels::swigluBackward, new KernelContext(), st.f(0), st.f(1), st.f(2), st.f(3), st.f(4), st.params, st.pb())));
    }

    void geluForward(float[] out, int outOff, float[] x, int xOff, int n) {
        ops.run(elementwise(GELU_FORWARD, n).out(out, outOff, n, 1).in(x, xOff, n, 1).tasks((tg, name, grids, st) ->
                elements(tg, name, grids, st).task(ELEMENTS, GlueKernels::geluForward, new KernelContext(), st.f(0), st.f(1), st.params,
                        st.pb())));
    }

    /** dx += dy * gelu'(x). */
    void geluBackward(float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff, int n) {
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
