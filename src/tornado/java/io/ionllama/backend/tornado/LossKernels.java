package io.ionllama.backend.tornado;

import io.ionllama.kernels.Losses;
import uk.ac.manchester.tornado.api.KernelContext;

/**
 * The losses' device kernels: one thread per row unit of {@link Losses}, and one thread for the
 * batch statistics ({@link Losses#lossStatsCell}, a sequential sum in row order, as on the CPU).
 * The row count comes from {@code params[ROWS]}; V, the CE backward's dloss stride and the argmax
 * flag are compiled in. Offsets into the arrays come from {@code params} too: 0 for the per-op
 * graphs' staging buffers, the caller's offsets when a graph is bound to the caller's own arrays
 * ({@link Residency}).
 *
 * <p>The mean loss's gradient scale 1/valid rows is written by the statistics kernel into
 * {@code stats[STAT_INV_VALID]} and read by the CE backward from there (stride 0): it is never a
 * scalar kernel argument, which would be frozen when the graph is compiled.
 * <pre>
 *   crossEntropyForward / Backward, entropy, argmax   thread n = row n
 *   lossStats                                          thread 0 only
 * </pre>
 */
public final class LossKernels {
    private LossKernels() {}

    /** Indexes into {@code params}: the row count, then the offset of each array in the order of the kernel's arguments. */
    public static final int ROWS = 0, OFF0 = 1, PARAMS = 5;

    public static void crossEntropyForward(KernelContext k, float[] losses, float[] probs, float[] logits, int[] targets,
                                           int[] params, int pb, int V) {
        int n = k.globalIdx;
        if (n < params[pb + ROWS]) {
            Losses.crossEntropyForwardRow(losses, params[pb + OFF0], probs, params[pb + OFF0 + 1], logits, params[pb + OFF0 + 2], targets,
                    params[pb + OFF0 + 3], V, n);
        }
    }

    public static void crossEntropyBackward(KernelContext k, float[] dlogits, float[] probs, int[] targets,
                                            float[] dloss, int[] params, int pb, int V, int dlossStride) {
        int n = k.globalIdx;
        if (n < params[pb + ROWS]) {
            Losses.crossEntropyBackwardRow(dlogits, params[pb + OFF0], probs, params[pb + OFF0 + 1], targets, params[pb + OFF0 + 2], dloss,
                    params[pb + OFF0 + 3], dlossStride, V, n);
        }
    }

    public static void entropy(KernelContext k, float[] entropy, float[] logits, int[] params, int pb, int V) {
        int n = k.globalIdx;
        if (n < params[pb + ROWS]) {
            Losses.entropyRow(entropy, params[pb + OFF0], logits, params[pb + OFF0 + 1], V, n);
        }
    }

    public static void argmax(KernelContext k, int[] argmax, float[] logits, int[] params, int pb, int V) {
        int n = k.globalIdx;
        if (n < params[pb + ROWS]) {
            Losses.argmaxRow(argmax, params[pb + OFF0], logits, params[pb + OFF0 + 1], V, n);
        }
    }

    public static void lossStats(KernelContext k, float[] stats, float[] losses, int[] argmax, int[] targets,
                                 int[] params, int pb, int hasArgmax) {
        if (k.globalIdx == 0) {
            Losses.lossStatsCell(stats, params[pb + OFF0], losses, params[pb + OFF0 + 1], argmax, params[pb + OFF0 + 2], hasArgmax, targets,
                    params[pb + OFF0 + 3], params[pb + ROWS]);
        }
    }
}
