package io.ionllama.backend.cpu;

import io.ionllama.kernels.Activations;

/**
 * The CPU schedule of the elementwise activations the models call: SwiGLU (every block's MLP)
 * and GELU (the recurrent baseline's FNN), forward and backward ({@code kernels.Activations}, or
 * {@link SimdElementwise}'s vector form of SwiGLU). On the device SwiGLU is among
 * {@code backend/tornado/GlueGraphs}. SiLU and softplus exist as units only, inside SwiGLU and the
 * IntegralLNN gate, and are tested there.
 *
 * <p>Element ranges split evenly; below {@link #SERIAL_ELEMENTS} elements an op runs on the
 * caller's thread: waking the pool costs more than the work, and elements are independent, so
 * the result is the same either way.
 */
final class CpuActivations {

    private final WorkerPool pool;
    /**
     * Whether the ops below run on {@link SimdElementwise} (the Vector API; tested against the
     * scalar units) or on the units; {@link CpuBackend} decides once, at construction.
     */
    private final boolean simdOps;

    CpuActivations(WorkerPool pool, boolean simdOps) {
        this.pool = pool;
        this.simdOps = simdOps;
    }

    /** Elements below which an activation runs on the caller's thread. */
    static final int SERIAL_ELEMENTS = 4096;

    private void forElements(int n, WorkerPool.RangeTask t) {
        if (n < SERIAL_ELEMENTS) {
            if (n > 0) {
                t.run(0, n);
            }
        } else {
            pool.parallelFor(n, t);
        }
    }

    /** GELU (the recurrent baseline's FNN), forward. */
    private static final class GeluForwardTask implements WorkerPool.RangeTask {
        float[] out, x;
        int outOff, xOff;

        @Override
        public void run(int from, int to) {
            Activations.geluForwardRange(out, outOff, x, xOff, from, to);
        }
    }

    private static final class GeluBackwardTask implements WorkerPool.RangeTask {
        float[] dx, dy, x;
        int dxOff, dyOff, xOff;

        @Override
        public void run(int from, int to) {
            Activations.geluBackwardRange(dx, dxOff, dy, dyOff, x, xOff, from, to);
        }
    }

    private static final class SwigluForwardTask implements WorkerPool.RangeTask {
        float[] out, a, b;
        int outOff, aOff, bOff;
        boolean vec;

        @Override
        public void run(int from, int to) {
            if (vec) {
                SimdElementwise.swigluForward(out, outOff, a, aOff, b, bOff, from, to);
            } else {
                Activations.swigluForwardRange(out, outOff, a, aOff, b, bOff, from, to);
            }
        }
    }

    private static final class SwigluBackwardTask implements WorkerPool.RangeTask {
        float[] da, db, dy, a, b;
        int daOff, dbOff, dyOff, aOff, bOff;
        boolean vec, overwrite;

        @Override
        public void run(int from, int to) {
            if (overwrite) {
                SimdElementwise.swigluBackwardOverwrite(da, daOff, db, dbOff, dy, dyOff, a, aOff, b, bOff, from, to);
            } else if (vec) {
                SimdElementwise.swigluBackward(da, daOff, db, dbOff, dy, dyOff, a, aOff, b, bOff, from, to);
            } else {
                Activations.swigluBackwardRange(da, daOff, db, dbOff, dy, dyOff, a, aOff, b, bOff, from, to);
            }
        }
    }

    private final GeluForwardTask geluForward = new GeluForwardTask();
    private final GeluBackwardTask geluBackward = new GeluBackwardTask();
    private final SwigluForwardTask swigluForward = new SwigluForwardTask();
    private final SwigluBackwardTask swigluBackward = new SwigluBackwardTask();

    void geluForward(float[] out, int outOff, float[] x, int xOff, int n) {
        GeluForwardTask t = geluForward;
        t.out = out; t.outOff = outOff; t.x = x; t.xOff = xOff;
        forElements(n, t);
    }

    void geluBackward(float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff, int n) {
        GeluBackwardTask t = geluBackward;
        t.dx = dx; t.dxOff = dxOff; t.dy = dy; t.dyOff = dyOff; t.x = x; t.xOff = xOff;
        forElements(n, t);
    }

    void swigluForward(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n) {
        SwigluForwardTask t = swigluForward;
        t.out = out; t.outOff = outOff; t.a = a; t.aOff = aOff; t.b = b; t.bOff = bOff; t.vec = simdOps;
        forElements(n, t);
    }

    void swigluBackward(float[] da, int daOff, float[] db, int dbOff, float[] dy, int dyOff,
                        float[] a, int aOff, float[] b, int bOff, int n) {
        SwigluBackwardTask t = swigluBackward;
        t.da = da; t.daOff = daOff; t.db = db; t.dbOff = dbOff; t.dy = dy; t.dyOff = dyOff;
        t.a = a; t.aOff = aOff; t.b = b; t.bOff = bOff; t.vec = simdOps; t.overwrite = false;
        forElements(n, t);
    }

    /** The Vector API's overwriting form (no clearing pass, da and db not read); false without it. */
    boolean swigluBackwardOverwrite(float[] da, int daOff, float[] db, int dbOff, float[] dy, int dyOff,
                                    float[] a, int aOff, float[] b, int bOff, int n) {
        if (!simdOps) {
            return false;
        }
        SwigluBackwardTask t = swigluBackward;
        t.da = da; t.daOff = daOff; t.db = db; t.dbOff = dbOff; t.dy = dy; t.dyOff = dyOff;
        t.a = a; t.aOff = aOff; t.b = b; t.bOff = bOff; t.vec = true; t.overwrite = true;
        forElements(n, t);
        return true;
    }
}
