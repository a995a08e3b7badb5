package io.ionllama.backend.tornado;

import io.ionllama.kernels.IntegralGate;
import io.ionllama.kernels.Scan;
import uk.ac.manchester.tornado.api.KernelContext;

/**
 * The IntegralLNN scan's device kernels: the three phases of {@link Scan}'s chunked (associative)
 * scan, one thread per unit, so a sequence of T steps runs in parallel over its chunks instead of
 * one thread walking all T steps per channel.
 * <pre>
 *   phase       threads                   unit
 *   summary     B * nChunks * C           Scan.chunkSummary / chunkBackwardSummary   (b, chunk, c)
 *   carry       B * C                     Scan.chunkCarry / chunkBackwardCarry       (b, c), sequential over chunks
 *   apply       B * nChunks * C           Scan.chunkApply / chunkBackwardApply       (b, chunk, c)
 * </pre>
 * Thread index → unit: {@code c = i % C} (fastest, so neighbouring threads read neighbouring
 * floats), {@code chunk = (i / C) % nChunks}, {@code b = i / (C * nChunks)}. B, T, the chunk
 * length and the chunk count change between executions and come from {@code params}; only C is
 * compiled in. The three phases are three tasks of one TaskGraph, which TornadoVM runs in order
 * on the device, so the carries never leave it.
 *
 * <p>Offsets into the arrays come from {@code params} too: 0 for the per-op graphs' staging
 * buffers, the caller's offsets when a graph is bound to the caller's own arrays
 * ({@link Residency}). The scan takes one offset for all its sequence arrays (the op has one
 * {@code off}, and {@link Scan}'s units one offset for the arrays they walk together), and one for
 * the two carry arrays:
 * <pre>
 *   params[OFF0]       offset of the sequence arrays: h, a, u (forward); da, du, dh, h, a, u (backward)
 *   params[OFF0 + 1]   offset of the carries: carryA, carryB
 * </pre>
 *
 * <p>The scan's family also holds the ops that run one thread per channel or row beside it:
 * generation's scan step and the IntegralLNN gate that computes the scan's decay a
 * ({@link IntegralGate}'s row and channel units). Their {@code params} hold the count (the step's
 * channels, the gate's rows) at COUNT, then the offset of each array from COUNT_OFF0 in the order
 * of the kernel's array arguments:
 * <pre>
 *   scanStep                          thread c = channel c (generation: h = a h + (1 - a) u)
 *   gateForward, gateBackwardInput    thread n = row n (C channels each)
 *   gateBackwardLambda                thread c = channel c, sums its rows in order
 * </pre>
 * The gate's two backward tasks share one {@code params}: gateBackwardInput's arrays (dz, da, a,
 * z, lambda) at COUNT_OFF0..COUNT_OFF0+4, gateBackwardLambda's dLambda at COUNT_OFF0+5 and its
 * other arrays at the same indexes as gateBackwardInput's.
 */
public final class ScanKernels {
    private ScanKernels() {}

    /**
     * Indexes into {@code params}: sequences, steps, chunk length, chunk count, then the offset of
     * the sequence arrays and that of the carries; PARAMS is the array's length.
     */
    public static final int B = 0, T = 1, CHUNK = 2, CHUNKS = 3, OFF0 = 4, PARAMS = 6;

    /** Indexes into the step's and the gate's {@code params}: the count, then the offsets; COUNT_PARAMS is the array's length. */
    public static final int COUNT = 0, COUNT_OFF0 = 1, COUNT_PARAMS = 7;

    /** Offset of the sequence of work-item i (one per chunk and channel) in the sequence arrays. */
    static int sequenceOffset(int[] params, int pb, int i, int C) {
        return params[pb + OFF0] + i / (C * params[pb + CHUNKS]) * params[pb + T] * C;
    }

    /** Offset of sequence b's carries. */
    static int carryOffset(int[] params, int pb, int b, int C) {
        return params[pb + OFF0 + 1] + b * params[pb + CHUNKS] * C;
    }

    public static void summary(KernelContext k, float[] carryA, float[] carryB, float[] a, float[] u,
                               int[] params, int pb, int C) {
        int i = k.globalIdx;
        int nChunks = params[pb + CHUNKS];
        if (i < params[pb + B] * nChunks * C) {
            int c = i % C;
            int chunk = (i / C) % nChunks;
            int steps = params[pb + T];
            int off = sequenceOffset(params, pb, i, C), carryOff = carryOffset(params, pb, i / (C * nChunks), C);
            Scan.chunkSummary(carryA, carryB, a, u, off, carryOff, steps, C, params[pb + CHUNK], chunk, c);
        }
    }

    public static void carry(KernelContext k, float[] carryA, float[] carryB, int[] params, int pb, int C) {
        int i = k.globalIdx;
        if (i < params[pb + B] * C) {
            int nChunks = params[pb + CHUNKS];
            Scan.chunkCarry(carryA, carryB, carryOffset(params, pb, i / C, C), nChunks, C, i % C);
        }
    }

    public static void apply(KernelContext k, float[] h, float[] a, float[] u, float[] carryB, int[] params, int pb, int C) {
        int i = k.globalIdx;
        int nChunks = params[pb + CHUNKS];
        if (i < params[pb + B] * nChunks * C) {
            int c = i % C;
            int chunk = (i / C) % nChunks;
            int steps = params[pb + T];
            int off = sequenceOffset(params, pb, i, C), carryOff = carryOffset(params, pb, i / (C * nChunks), C);
            Scan.chunkApply(h, a, u, carryB, off, carryOff, steps, C, params[pb + CHUNK], chunk, c);
        }
    }

    public static void backwardSummary(KernelContext k, float[] carryA, float[] carryB, float[] dh, float[] a,
                                       int[] params, int pb, int C) {
        int i = k.globalIdx;
        int nChunks = params[pb + CHUNKS];
        if (i < params[pb + B] * nChunks * C) {
            int c = i % C;
            int chunk = (i / C) % nChunks;
            int steps = params[pb + T];
            int off = sequenceOffset(params, pb, i, C), carryOff = carryOffset(params, pb, i / (C * nChunks), C);
            Scan.chunkBackwardSummary(carryA, carryB, dh, a, off, carryOff, steps, C, params[pb + CHUNK],
                    chunk, c);
        }
    }

    public static void backwardCarry(KernelContext k, float[] carryA, float[] carryB, int[] params, int pb, int C) {
        int i = k.globalIdx;
        if (i < params[pb + B] * C) {
            int nChunks = params[pb + CHUNKS];
            Scan.chunkBackwardCarry(carryA, carryB, carryOffset(params, pb, i / C, C), nChunks, C, i % C);
        }
    }

    public static void backwardApply(KernelContext k, float[] da, float[] du, float[] dh, float[] h, float[] a,
                                     float[] u, float[] carryB, int[] params, int pb, int C) {
        int i = k.globalIdx;
        int nChunks = params[pb + CHUNKS];
        if (i < params[pb + B] * nChunks * C) {
            int c = i % C;
            int chunk = (i / C) % nChunks;
            int steps = params[pb + T];
            int off = sequenceOffset(params, pb, i, C), carryOff = carryOffset(params, pb, i / (C * nChunks), C);
            Scan.chunkBackwardApply(da, du, dh, h, a, u, carryB, off, carryOff, steps, C,
                    params[pb + CHUNK], chunk, c);
        }
    }

    // ---------------------------------------------------------------- the scan step and the IntegralLNN gate

    /** Named scanStep, not step: the OpenCL kernel takes the method's name, and OpenCL C has a builtin step(). */
    public static void scanStep(KernelContext k, float[] h, float[] a, float[] u, int[] params, int pb) {
        int c = k.globalIdx;
        if (c < params[pb + COUNT]) {
            Scan.step(h, params[pb + COUNT_OFF0], a, params[pb + COUNT_OFF0 + 1], u, params[pb + COUNT_OFF0 + 2],
                    params[pb + COUNT], c);
        }
    }

    public static void gateForward(KernelContext k, float[] a, float[] z, float[] lambda, int[] params, int pb, int C) {
        int n = k.globalIdx;
        if (n < params[pb + COUNT]) {
            IntegralGate.forwardRow(a, params[pb + COUNT_OFF0], z, params[pb + COUNT_OFF0 + 1], lambda,
                    params[pb + COUNT_OFF0 + 2], C, n);
        }
    }

    public static void gateBackwardInput(KernelContext k, float[] dz, float[] da, float[] a, float[] z, float[] lambda,
                                         int[] params, int pb, int C) {
        int n = k.globalIdx;
        if (n < params[pb + COUNT]) {
            IntegralGate.backwardInputRow(dz, params[pb + COUNT_OFF0], da, params[pb + COUNT_OFF0 + 1], a,
                    params[pb + COUNT_OFF0 + 2], z, params[pb + COUNT_OFF0 + 3], lambda, params[pb + COUNT_OFF0 + 4], C, n);
        }
    }

    public static void gateBackwardLambda(KernelContext k, float[] dLambda, float[] da, float[] a, float[] z,
                                          float[] lambda, int[] params, int pb, int C) {
        int c = k.globalIdx;
        if (c < C) {
            IntegralGate.backwardLambdaCell(dLambda, params[pb + COUNT_OFF0 + 5], da, params[pb + COUNT_OFF0 + 1], a,
                    params[pb + COUNT_OFF0 + 2], z, params[pb + COUNT_OFF0 + 3], lambda, params[pb + COUNT_OFF0 + 4],
                    params[pb + COUNT], C, c);
        }
    }
}
