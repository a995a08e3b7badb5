package io.ionllama.backend.tornado;

import io.ionllama.kernels.Losses;
import uk.ac.manchester.tornado.api.KernelContext;

/**
 * The losses' device kernels: one thread per row unit of {@link Losses}, and one thread for the
 * batch statistics ({@link Losses#lossStatsCell}, a sequential sum in row order, as on the CPU).
 * The row count comes from {@code params[ROWS]}; V, the CE backward's dloss stride and the argmax
 * flag are compiled in.
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

    public static final int ROWS = 0;

    public static void crossEntropyForward(KernelContext k, float[] losses, float[] probs, float[] logits, int[] targets,
                                           int[] params, int V) {
        int n = k.globalIdx;
        if (n < params[ROWS]) {
            Losses.crossEntropyForwardRow(losses, 0, probs, 0, logits, 0, targets, 0, V, n);
        }
    }

    public static void crossEntropyBackward(KernelContext k, float[] dlogits, float[] probs, int[] targets,
                                            float[] dloss, int[] params, int V, int dlossStride) {
        int n = k.globalIdx;
        if (n < params[ROWS]) {
            Losses.crossEntropyBackwardRow(dlogits, 0, probs, 0, targets, 0, dloss, 0, dlossStride, V, n);
        }
    }

    public static void entropy(KernelContext k, float[] entropy, float[] logits, int[] params, int V) {
        int n = k.globalIdx;
        if (n < params[ROWS]) {
            Losses.entropyRow(entropy, 0, logits, 0, V, n);
        }
    }

    public static void argmax(KernelContext k, int[] argmax, float[] logits, int[] params, int V) {
        int n = k.globalIdx;
        if (n < params[ROWS]) {
            Losses.argmaxRow(argmax, 0, logits, 0, V, n);
        }
    }

    public static void lossStats(KernelContext k, float[] stats, float[] losses, int[] argmax, int[] targets,
                                 int[] params, int hasArgmax) {
        if (k.globalIdx == 0) {
            Losses.lossStatsCell(stats, 0, losses, 0, argmax, 0, hasArgmax, targets, 0, params[ROWS]);
        }
    }
}
