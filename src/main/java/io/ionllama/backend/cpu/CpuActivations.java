package io.ionllama.backend.cpu;

import io.ionllama.kernels.Activations;

/**
 * The CPU schedule of the elementwise activations: SiLU, GELU, softplus and SwiGLU, forward and
 * backward ({@code kernels.Activations}, or {@link SimdElementwise}'s vector forms of all but
 * GELU). On the device SwiGLU is among {@code backend/tornado/GlueGraphs}.
 *
 * <p>Element ranges split evenly; below {@link #SERIAL_ELEMENTS} elements an op runs on the
 * caller's thread: waking the pool costs more than the work, and elements are independent, so
 * the result is the same either way. The vector activations have one task class per op, so C2
 * compiles each {@code run} on its own (see {@link VecUnaryTask}).
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

    /** The four unary activations share one task shape; {@code op} picks the unit. */
    private static final int ACT_SILU = 0, ACT_GELU = 1, ACT_SOFTPLUS = 2;

    private static final class UnaryForwardTask implements WorkerPool.RangeTask {
        float[] out, x;
        int outOff, xOff, op;

        @Override
        public void run(int from, int to) {
            switch (op) {
                case ACT_SILU -> Activations.siluForwardRange(out, outOff, x, xOff, from, to);
                case ACT_GELU -> Activations.geluForwardRange(out, outOff, x, xOff, from, to);
                default -> Activations.softplusForwardRange(out, outOff, x, xOff, from, to);
            }
        }
    }

    private static final class UnaryBackwardTask implements WorkerPool.RangeTask {
        float[] dx, dy, x;
        int dxOff, dyOff, xOff, op;

        @Override
        public void run(int from, int to) {
            switch (op) {
                case ACT_SILU -> Activations.siluBackwardRange(dx, dxOff, dy, dyOff, x, xOff, from, to);
                case ACT_GELU -> Activations.geluBackwardRange(dx, dxOff, dy, dyOff, x, xOff, from, to);
                default -> Activations.softplusBackwardRange(dx, dxOff, dy, dyOff, x, xOff, from, to);
            }
        }
    }

    /**
     * The vector activations, one task class per op: C2 compiles each task's {@code run} on its
     * own, and two vector exp chains in one compilation exceed its inlining budget (see
     * {@link SimdElementwise}).
     */
    private abstract static class VecUnaryTask implements WorkerPool.RangeTask {
        float[] out, x, dy;
        int outOff, xOff, dyOff;
    }

    private static final class VecSiluForwardTask extends VecUnaryTask {
        @Override
        public void run(int from, int to) {
            SimdElementwise.siluForward(out, outOff, x, xOff, from, to);
        }
    }

    private static final class VecSiluBackwardTask extends VecUnaryTask {
        @Override
        public void run(int from, int to) {
            SimdElementwise.siluBackward(out, outOff, dy, dyOff, x, xOff, from, to);
        }
    }

    private static final class VecSoftplusForwardTask extends VecUnaryTask {
        @Override
        public void run(int from, int to) {
            SimdElementwise.softplusForward(out, outOff, x, xOff, from, to);
        }
    }

    private static final class VecSoftplusBackwardTask extends VecUnaryTask {
        @Override
        public void run(int from, int to) {
            SimdElementwise.softplusBackward(out, outOff, dy, dyOff, x, xOff, from, to);
        }
    }

    private final VecUnaryTask vecSiluForward = new VecSiluForwardTask(), vecSiluBackward = new VecSiluBackwardTask();
    private final VecUnaryTask vecSoftplusForward = new VecSoftplusForwardTask();
    private final VecUnaryTask vecSoftplusBackward = new VecSoftplusBackwardTask();

    /** The vector form of an activation, or null where it runs on the scalar units (GELU; no Vector API). */
    private VecUnaryTask vecUnary(int op, boolean backward) {
        if (!simdOps || op == ACT_GELU) {
            return null;
        }
        if (op == ACT_SILU) {
            return backward ? vecSiluBackward : vecSiluForward;
        }
        return backward ? vecSoftplusBackward : vecSoftplusForward;
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
        boolean vec;

        @Override
        public void run(int from, int to) {
            if (vec) {
                SimdElementwise.swigluBackward(da, daOff, db, dbOff, dy, dyOff, a, aOff, b, bOff, from, to);
            } else {
                Activations.swigluBackwardRange(da, daOff, db, dbOff, dy, dyOff, a, aOff, b, bOff, from, to);
            }
        }
    }

    private final UnaryForwardTask unaryForward = new UnaryForwardTask();
    private final UnaryBackwardTask unaryBackward = new UnaryBackwardTask();
    private final SwigluForwardTask swigluForward = new SwigluForwardTask();
    private final SwigluBackwardTask swigluBackward = new SwigluBackwardTask();

    private void unaryForward(int op, float[] out, int outOff, float[] x, int xOff, int n) {
        VecUnaryTask v = vecUnary(op, false);
        if (v != null) {
            v.out = out; v.outOff = outOff; v.x = x; v.xOff = xOff;
            forElements(n, v);
            return;
        }
        UnaryForwardTask t = unaryForward;
        t.op = op; t.out = out; t.outOff = outOff; t.x = x; t.xOff = xOff;
        forElements(n, t);
    }

    private void unaryBackward(int op, float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff, int n) {
        VecUnaryTask v = vecUnary(op, true);
        if (v != null) {
            v.out = dx; v.outOff = dxOff; v.dy = dy; v.dyOff = dyOff; v.x = x; v.xOff = xOff;
            forElements(n, v);
            return;
        }
        UnaryBackwardTask t = unaryBackward;
        t.op = op; t.dx = dx; t.dxOff = dxOff; t.dy = dy; t.dyOff = dyOff; t.x = x; t.xOff = xOff;
        forElements(n, t);
    }

    void siluForward(float[] out, int outOff, float[] x, int xOff, int n) {
        unaryForward(ACT_SILU, out, outOff, x, xOff, n);
    }

    void siluBackward(float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff, int n) {
        unaryBackward(ACT_SILU, dx, dxOff, dy, dyOff, x, xOff, n);
    }

    void geluForward(float[] out, int outOff, float[] x, int xOff, int n) {
        unaryForward(ACT_GELU, out, outOff, x, xOff, n);
    }

    void geluBackward(float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff, int n) {
        unaryBackward(ACT_GELU, dx, dxOff, dy, dyOff, x, xOff, n);
    }

    void softplusForward(float[] out, int outOff, float[] x, int xOff, int n) {
        unaryForward(ACT_SOFTPLUS, out, outOff, x, xOff, n);
    }

    void softplusBackward(float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff, int n) {
        unaryBackward(ACT_SOFTPLUS, dx, dxOff, dy, dyOff, x, xOff, n);
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
        t.a = a; t.aOff = aOff; t.b = b; t.bOff = bOff; t.vec = simdOps;
        forElements(n, t);
    }
}
