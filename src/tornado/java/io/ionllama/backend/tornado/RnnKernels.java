package io.ionllama.backend.tornado;

import io.ionllama.kernels.RnnCell;
import uk.ac.manchester.tornado.api.KernelContext;

/**
 * The context-vector RNN's gate kernels ({@code --model rnn}): one thread per cell (n, k) of
 * {@link RnnCell}, which TornadoVM inlines. One time step is only B rows (8 at the default
 * batch), so a thread per row would leave a GPU nearly idle; a cell's outputs depend on that cell
 * alone, so the split changes nothing in the results. The row count comes from
 * {@code params[ROWS]} (generation calls with one row, training with B); C is compiled in.
 * Offsets into the arrays come from {@code params} too, in the order of the kernel's array
 * arguments: 0 for the per-op graphs' staging buffers, the caller's offsets when a graph is bound
 * to the caller's own arrays ({@link Residency}).
 * <pre>
 *   gatesForward    thread u = n * C + k   RnnCell.forwardCell   p[n,k]
 *   gatesBackward   thread u = n * C + k   RnnCell.backwardCell  dz[n, k | C+k | 2C+k] +=, dc[n,k] += (hasDc)
 * </pre>
 */
public final class RnnKernels {
    private RnnKernels() {}

    /** Indexes into {@code params}: the row count, then the offsets (forward p, z, c; backward dz, dc, dp, z, c). */
    public static final int ROWS = 0, OFF0 = 1, PARAMS = 6;

    public static void gatesForward(KernelContext k, float[] p, float[] z, float[] c, int[] params, int pb, int C) {
        int u = k.globalIdx;
        if (u < params[pb + ROWS] * C) {
            RnnCell.forwardCell(p, params[pb + OFF0], z, params[pb + OFF0 + 1], c, params[pb + OFF0 + 2], C, u / C, u % C);
        }
    }

    /** hasDc 0: the first time step, whose c is the zero state; dc is then a stand-in, never written. */
    public static void gatesBackward(KernelContext k, float[] dz, float[] dc, float[] dp, float[] z, float[] c,
                                     int[] params, int pb, int C, int hasDc) {
        int u = k.globalIdx;
        if (u < params[pb + ROWS] * C) {
            RnnCell.backwardCell(dz, params[pb + OFF0], dc, params[pb + OFF0 + 1], hasDc, dp, params[pb + OFF0 + 2],
                    z, params[pb + OFF0 + 3], c, params[pb + OFF0 + 4], C, u / C, u % C);
        }
    }
}
