package io.ionllama.backend.tornado;

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
 */
public final class ScanKernels {
    private ScanKernels() {}

    /**
     * Indexes into {@code params}: sequences, steps, chunk length, chunk count, then the offset of
     * the sequence arrays and that of the carries; PARAMS is the array's length.
     */
    public static final int B = 0, T = 1, CHUNK = 2, CHUNKS = 3, OFF0 = 4, PARAMS = 6;

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
}
