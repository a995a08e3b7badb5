package io.ionllama.backend.cpu;

import io.ionllama.kernels.IntegralGate;
import io.ionllama.kernels.Scan;

/**
 * The CPU schedule of the IntegralLNN scan ({@code kernels.Scan}): the sequential recurrence,
 * forward and backward, the three-phase chunked form, generation's one-row step, and the gate
 * that computes the scan's decay a, forward and backward ({@code kernels.IntegralGate}, or
 * {@link SimdElementwise}'s vector form). The device counterpart is
 * {@code backend/tornado/ScanGraphs}.
 *
 * <p>scanForward/scanBackward run the sequential recurrence per (b, c), grouped into blocks of
 * {@link #SCAN_BLOCK} channels stepped together ({@code Scan.forwardBlock/backwardBlock}:
 * contiguous rows instead of a stride-C walk per channel, same bits as
 * {@code Scan.forwardChannel}). On a CPU with few cores B*C channels already outnumber threads,
 * and the sequential form does the least arithmetic. The chunked methods run the three phases of
 * the associative scan (units (b, chunk, c), then (b, c), then (b, chunk, c)), the form a GPU
 * uses; they are here so it is tested through a backend too.
 *
 * <p>The gate splits rows, and its dλ pass splits channels (each channel sums its rows in order),
 * so every output has one writer and one order of terms for any thread count.
 */
final class CpuScan {

    private final WorkerPool pool;
    /**
     * Whether the gate runs on {@link SimdElementwise} (the Vector API; tested against the scalar
     * units) or on the units; {@link CpuBackend} decides once, at construction.
     */
    private final boolean simdOps;

    CpuScan(WorkerPool pool, boolean simdOps) {
        this.pool = pool;
        this.simdOps = simdOps;
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

    // ---------------------------------------------------------------- the IntegralLNN gate (the scan's decay a)

    private final class GateForwardTask implements WorkerPool.RangeTask {
        float[] a, z, lambda;
        int aOff, zOff, lOff, C;

        @Override
        public void run(int from, int to) {
            if (simdOps) {
                SimdElementwise.gateExponent(a, aOff, z, zOff, gateRate, C, from, to);
                return;
            }
            for (int n = from; n < to; n++) {
                IntegralGate.forwardRow(a, aOff, z, zOff, lambda, lOff, C, n);
            }
        }
    }

    /** The vector forward's second pass (its own task, so C2 compiles it on its own): a = exp(a). */
    private static final class ExpRowsTask implements WorkerPool.RangeTask {
        float[] a;
        int aOff, C;

        @Override
        public void run(int from, int to) {
            SimdElementwise.expRows(a, aOff, C, from, to);
        }
    }

    private final ExpRowsTask expRows = new ExpRowsTask();

    /** The vector dλ pass, its own task class for the same reason as {@link ExpRowsTask}. */
    private final class GateLambdaTask implements WorkerPool.RangeTask {
        GateBackwardTask f;

        @Override
        public void run(int from, int to) {
            GateBackwardTask t = f;
            SimdElementwise.gateBackwardLambda(t.dLambda, t.dlOff, t.da, t.daOff, t.a, t.aOff, t.z, t.zOff, gateRate,
                    gateAcc, t.rows, t.C, from * GATE_CHANNEL_BLOCK, Math.min(t.C, to * GATE_CHANNEL_BLOCK));
        }
    }

    private final GateLambdaTask gateLambda = new GateLambdaTask();

    /** Units of the vector dλ pass: blocks of this many channels, each summing every row. */
    private static final int GATE_CHANNEL_BLOCK = 32;

    private final class GateBackwardTask implements WorkerPool.RangeTask {
        float[] dz, dLambda, da, a, z, lambda;
        int dzOff, dlOff, daOff, aOff, zOff, lOff, rows, C;
        boolean lambdaPass;

        @Override
        public void run(int from, int to) {
            if (simdOps) {
                SimdElementwise.gateBackwardInput(dz, dzOff, da, daOff, a, aOff, z, zOff, gateRate, C, from, to);
                return;
            }
            for (int u = from; u < to; u++) {
                if (lambdaPass) {
                    IntegralGate.backwardLambdaCell(dLambda, dlOff, da, daOff, a, aOff, z, zOff, lambda, lOff, rows, C, u);
                } else {
                    IntegralGate.backwardInputRow(dz, dzOff, da, daOff, a, aOff, z, zOff, lambda, lOff, C, u);
                }
            }
        }
    }

    /** rate[c] = exp(λ[c]) for the vector gate, and its dλ running sums; grown, never per call. */
    private float[] gateRate = new float[0], gateAcc = new float[0];

    private void gateRates(float[] lambda, int lOff, int C) {
        if (gateRate.length < C) {
            gateRate = new float[C];
            gateAcc = new float[C];
        }
        for (int c = 0; c < C; c++) {
            gateRate[c] = (float) Math.exp(lambda[lOff + c]); // as IntegralGate's units compute it
        }
    }

    private final GateForwardTask gateForward = new GateForwardTask();
    private final GateBackwardTask gateBackward = new GateBackwardTask();

    void integralGateForward(float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows, int C) {
        GateForwardTask t = gateForward;
        t.a = a; t.aOff = aOff; t.z = z; t.zOff = zOff; t.lambda = lambda; t.lOff = lambdaOff; t.C = C;
        if (simdOps) {
            gateRates(lambda, lambdaOff, C);
            pool.parallelFor(rows, t);
            ExpRowsTask e = expRows;
            e.a = a; e.aOff = aOff; e.C = C;
            pool.parallelFor(rows, e);
            return;
        }
        pool.parallelFor(rows, t);
    }

    void integralGateBackward(float[] dz, int dzOff, float[] dLambda, int dLambdaOff, float[] da, int daOff,
                              float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows, int C) {
        GateBackwardTask t = gateBackward;
        t.dz = dz; t.dzOff = dzOff; t.dLambda = dLambda; t.dlOff = dLambdaOff; t.da = da; t.daOff = daOff;
        t.a = a; t.aOff = aOff; t.z = z; t.zOff = zOff; t.lambda = lambda; t.lOff = lambdaOff; t.rows = rows; t.C = C;
        t.lambdaPass = false;
        if (simdOps) {
            gateRates(lambda, lambdaOff, C);
            pool.parallelFor(rows, t);
            gateLambda.f = t;
            pool.parallelFor((C + GATE_CHANNEL_BLOCK - 1) / GATE_CHANNEL_BLOCK, gateLambda);
            return;
        }
        pool.parallelFor(rows, t);
        t.lambdaPass = true;
        pool.parallelFor(C, t);
    }
}
