package io.ionllama.backend.cpu;

import io.ionllama.kernels.RnnCell;

/**
 * The CPU schedule of the context-vector RNN's fused gate unit ({@code kernels.RnnCell}: f, i
 * sigmoid, g tanh, p = f c + i g, and its backward), forward and backward.
 *
 * <p>Both ops split rows (one time step's B sequences): a row's outputs (p, dz, dc) depend on that
 * row only, with no reduction across rows, so every value is computed by one unit in one order and
 * the results equal the interface default ({@code Backend.rnnGatesForward/Backward}, the units on
 * the caller's thread) bit for bit at any thread count. A one-row call (generation's step) runs on
 * the caller's thread ({@link WorkerPool#parallelFor} does not wake the workers for one unit). The
 * task objects are built once, so a call allocates nothing. The TornadoVM backend runs the same
 * units one cell per device thread ({@code backend.tornado.RnnKernels}).
 */
final class CpuRnn {

    private final WorkerPool pool;

    CpuRnn(WorkerPool pool) {
        this.pool = pool;
    }

    private static final class GatesForwardTask implements WorkerPool.RangeTask {
        float[] p, z, c;
        int pOff, zOff, cOff, C;

        @Override
        public void run(int from, int to) {
            for (int n = from; n < to; n++) {
                RnnCell.forwardRow(p, pOff, z, zOff, c, cOff, C, n);
            }
        }
    }

    private static final class GatesBackwardTask implements WorkerPool.RangeTask {
        float[] dz, dc, dp, z, c;
        int dzOff, dcOff, dpOff, zOff, cOff, C;

        @Override
        public void run(int from, int to) {
            for (int n = from; n < to; n++) {
                RnnCell.backwardRow(dz, dzOff, dc, dcOff, dp, dpOff, z, zOff, c, cOff, C, n);
            }
        }
    }

    private final GatesForwardTask gatesForward = new GatesForwardTask();
    private final GatesBackwardTask gatesBackward = new GatesBackwardTask();

    void rnnGatesForward(float[] p, int pOff, float[] z, int zOff, float[] c, int cOff, int rows, int C) {
        GatesForwardTask t = gatesForward;
        t.p = p; t.pOff = pOff; t.z = z; t.zOff = zOff; t.c = c; t.cOff = cOff; t.C = C;
        pool.parallelFor(rows, t);
        t.p = t.z = t.c = null; // hold no caller arrays between calls
    }

    void rnnGatesBackward(float[] dz, int dzOff, float[] dc, int dcOff, float[] dp, int dpOff,
                          float[] z, int zOff, float[] c, int cOff, int rows, int C) {
        GatesBackwardTask t = gatesBackward;
        t.dz = dz; t.dzOff = dzOff; t.dc = dc; t.dcOff = dcOff; t.dp = dp; t.dpOff = dpOff;
        t.z = z; t.zOff = zOff; t.c = c; t.cOff = cOff; t.C = C;
        pool.parallelFor(rows, t);
        t.dz = t.dc = t.dp = t.z = t.c = null;
    }
}
