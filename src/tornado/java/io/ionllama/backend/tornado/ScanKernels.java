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
 */
public final class ScanKernels {
    private ScanKernels() {}

    /** Indexes into {@code params}: sequences, steps, chunk length, chunk count. */
    public static final int B = 0, T = 1, CHUNK = 2, CHUNKS = 3;

    public static void summary(KernelContext k, float[] carryA, float[] carryB, float[] a, float[] u,
                               int[] params, int C) {
        int i = k.globalIdx;
        int nChunks = params[CHUNKS];
        if (i < params[B] * nChunks * C) {
            int steps = params[T];
            int c = i % C;
            int chunk = (i / C) % nChunks;
            int b = i / (C * nChunks);
            Scan.chunkSummary(carryA, carryB, a, u, b * steps * C, b * nChunks * C, steps, C, params[CHUNK], chunk, c);
        }
    }

    public static void carry(KernelContext k, float[] carryA, float[] carryB, int[] params, int C) {
        int i = k.globalIdx;
        if (i < params[B] * C) {
            int nChunks = params[CHUNKS];
            Scan.chunkCarry(carryA, carryB, (i / C) * nChunks * C, nChunks, C, i % C);
        }
    }

    public static void apply(KernelContext k, float[] h, float[] a, float[] u, float[] carryB, int[] params, int C) {
        int i = k.globalIdx;
        int nChunks = params[CHUNKS];
        if (i < params[B] * nChunks * C) {
            int steps = params[T];
            int c = i % C;
            int chunk = (i / C) % nChunks;
            int b = i / (C * nChunks);
            Scan.chunkApply(h, a, u, carryB, b * steps * C, b * nChunks * C, steps, C, params[CHUNK], chunk, c);
        }
    }

    public static void backwardSummary(KernelContext k, float[] carryA, float[] carryB, float[] dh, float[] a,
                                       int[] params, int C) {
        int i = k.globalIdx;
        int nChunks = params[CHUNKS];
        if (i < params[B] * nChunks * C) {
            int steps = params[T];
            int c = i % C;
            int chunk = (i / C) % nChunks;
            int b = i / (C * nChunks);
            Scan.chunkBackwardSummary(carryA, carryB, dh, a, b * steps * C, b * nChunks * C, steps, C, params[CHUNK],
                    chunk, c);
        }
    }

    public static void backwardCarry(KernelContext k, float[] carryA, float[] carryB, int[] params, int C) {
        int i = k.globalIdx;
        if (i < params[B] * C) {
            int nChunks = params[CHUNKS];
            Scan.chunkBackwardCarry(carryA, carryB, (i / C) * nChunks * C, nChunks, C, i % C);
        }
    }

    public static void backwardApply(KernelContext k, float[] da, float[] du, float[] dh, float[] h, float[] a,
                                     float[] u, float[] carryB, int[] params, int C) {
        int i = k.globalIdx;
        int nChunks = params[CHUNKS];
        if (i < params[B] * nChunks * C) {
            int steps = params[T];
            int c = i % C;
            int chunk = (i / C) % nChunks;
            int b = i / (C * nChunks);
            Scan.chunkBackwardApply(da, du, dh, h, a, u, carryB, b * steps * C, b * nChunks * C, steps, C,
                    params[CHUNK], chunk, c);
        }
    }
}
