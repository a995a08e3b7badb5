package io.ionllama.backend.cpu;

import io.ionllama.kernels.Scan;

/**
 * The CPU schedule of the IntegralLNN scan ({@code kernels.Scan}): the sequential recurrence,
 * forward and backward, the three-phase chunked form, and generation's one-row step. The device
 * counterpart is {@code backend/tornado/ScanGraphs}.
 *
 * <p>scanForward/scanBackward run the sequential recurrence per (b, c), grouped into blocks of
 * {@link #SCAN_BLOCK} channels stepped together ({@code Scan.forwardBlock/backwardBlock}:
 * contiguous rows instead of a stride-C walk per channel, same bits as
 * {@code Scan.forwardChannel}). On a CPU with few cores B*C channels already outnumber threads,
 * and the sequential form does the least arithmetic. The chunked methods run the three phases of
 * the associative scan (units (b, chunk, c), then (b, c), then (b, chunk, c)), the form a GPU
 * uses; they are here so it is tested through a backend too.
 */
final class CpuScan {

    private final WorkerPool pool;

    CpuScan(WorkerPool pool) {
        this.pool = pool;
    }

    private final class ScanTask implements WorkerPool.RangeTask {
        static final int FORWARD = 0, BACKWARD = 1;
        static final int SUMMARY = 2, CARRY = 3, APPLY = 4;
        static final int BACK_SUMMARY = 5, BACK_CARRY = 6, BACK_APPLY = 7;
        float[] h, a, u, da, du, dh, carryA, carryB;
        int op, off, T, C, L, nChunks, blocks;

        @Override
        public void run(int from, int to) {
            for (int unit = from; unit < to; unit++) {
                switch (op) {
                    case FORWARD, BACKWARD -> {
                        int b = unit / blocks, c0 = (unit % blocks) * SCAN_BLOCK, c1 = Math.min(C, c0 + SCAN_BLOCK);
                        if (op == FORWARD) {
                            Scan.forwardBlock(h, a, u, off + b * T * C, T, C, c0, c1);
                        } else {
                            Scan.backwardBlock(da, du, dh, h, a, u, scanCarry, b * C, off + b * T * C, T, C, c0, c1);
                        }
                    }
                    case CARRY -> Scan.chunkCarry(carryA, carryB, unit / C * nChunks * C, nChunks, C, unit % C);
                    case BACK_CARRY -> Scan.chunkBackwardCarry(carryA, carryB, unit / C * nChunks * C, nChunks, C, unit % C);
                    default -> {
                        int b = unit / (nChunks * C), chunk = (unit / C) % nChunks, c = unit % C;
                        int seq = off + b * T * C, carryOff = b * nChunks * C;
                        switch (op) {
                            case SUMMARY -> Scan.chunkSummary(carryA, carryB, a, u, seq, carryOff, T, C, L, chunk, c);
                            case APPLY -> Scan.chunkApply(h, a, u, carryB, seq, carryOff, T, C, L, chunk, c);
                            case BACK_SUMMARY -> Scan.chunkBackwardSummary(carryA, carryB, dh, a, seq, carryOff,
                                    T, C, L, chunk, c);
                            case BACK_APPLY -> Scan.chunkBackwardApply(da, du, dh, h, a, u, carryB, seq, carryOff,
                                    T, C, L, chunk, c);
                            default -> throw new IllegalStateException("scan op " + op);
                        }
                    }
                }
            }
        }

        void set(float[] h, float[] a, float[] u, int off, int T, int C) {
            this.h = h; this.a = a; this.u = u; this.off = off; this.T = T; this.C = C;
        }
    }

    /** Channels one sequential scan unit steps together: a few cache lines per row. */
    private static final int SCAN_BLOCK = 64;

    private final ScanTask scan = new ScanTask();
    /** Per-channel backward carries, [B, C]; grown when a call needs more, never per call. */
    private float[] scanCarry = new float[0];

    void scanForward(float[] h, float[] a, float[] u, int off, int B, int T, int C) {
        ScanTask t = scan;
        t.set(h, a, u, off, T, C);
        t.op = ScanTask.FORWARD;
        t.blocks = (C + SCAN_BLOCK - 1) / SCAN_BLOCK;
        pool.parallelFor(B * t.blocks, t);
    }

    void scanForwardChunked(float[] h, float[] a, float[] u, int off, int B, int T, int C, int chunk,
                            float[] carryA, float[] carryB) {
        int nChunks = checkChunks(B, T, C, chunk, carryA, carryB);
        ScanTask t = scan;
        t.set(h, a, u, off, T, C);
        t.L = chunk; t.nChunks = nChunks; t.carryA = carryA; t.carryB = carryB;
        t.op = ScanTask.SUMMARY;
        pool.parallelFor(B * nChunks * C, t);
        t.op = ScanTask.CARRY;
        pool.parallelFor(B * C, t);
        t.op = ScanTask.APPLY;
        pool.parallelFor(B * nChunks * C, t);
    }

    void scanBackward(float[] da, float[] du, float[] dh, float[] h, float[] a, float[] u,
                      int off, int B, int T, int C) {
        ScanTask t = scan;
        t.set(h, a, u, off, T, C);
        t.da = da; t.du = du; t.dh = dh;
        t.op = ScanTask.BACKWARD;
        t.blocks = (C + SCAN_BLOCK - 1) / SCAN_BLOCK;
        if (scanCarry.length < B * C) {
            scanCarry = new float[B * C];
        }
        pool.parallelFor(B * t.blocks, t);
    }

    void scanBackwardChunked(float[] da, float[] du, float[] dh, float[] h, float[] a, float[] u,
                             int off, int B, int T, int C, int chunk, float[] carryA, float[] carryB) {
        int nChunks = checkChunks(B, T, C, chunk, carryA, carryB);
        ScanTask t = scan;
        t.set(h, a, u, off, T, C);
        t.da = da; t.du = du; t.dh = dh;
        t.L = chunk; t.nChunks = nChunks; t.carryA = carryA; t.carryB = carryB;
        t.op = ScanTask.BACK_SUMMARY;
        pool.parallelFor(B * nChunks * C, t);
        t.op = ScanTask.BACK_CARRY;
        pool.parallelFor(B * C, t);
        t.op = ScanTask.BACK_APPLY;
        pool.parallelFor(B * nChunks * C, t);
    }

    private static int checkChunks(int B, int T, int C, int chunk, float[] carryA, float[] carryB) {
        if (chunk < 1) {
            throw new IllegalArgumentException("scan chunk length must be >= 1, got " + chunk);
        }
        int nChunks = Scan.chunkCount(T, chunk);
        long need = (long) B * nChunks * C;
        if (carryA.length < need || carryB.length < need) {
            throw new IllegalArgumentException("scan carries need " + need + " floats, got "
                    + carryA.length + " and " + carryB.length);
        }
        return nChunks;
    }

    void scanStep(float[] h, int hOff, float[] a, int aOff, float[] u, int uOff, int n) {
        // One row of a few hundred multiply-adds: cheaper on the calling thread than a dispatch.
        for (int c = 0; c < n; c++) {
            Scan.step(h, hOff, a, aOff, u, uOff, n, c);
        }
    }
}
