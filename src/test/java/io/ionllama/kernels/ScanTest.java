package io.ionllama.kernels;

import static io.ionllama.testing.GradCheck.assertClose;
import static io.ionllama.testing.GradCheck.assertMatches;
import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.testing.GradCheck;
import io.ionllama.testing.Tensors;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The IntegralLNN scan h[t] = a[t] h[t-1] + (1 - a[t]) u[t]: sequential and chunked forms against
 * a double reference and each other, both backwards against central differences, two mutants
 * (a skipped carry phase, h[t] read for h[t-1]), bit-exact causality, no overflow for tiny a,
 * the generation step, and thread-count independence. Tensors are [B, T, C] at a non-zero offset.
 */
class ScanTest {

    /** The recurrence in double, sequence by sequence, channel by channel. */
    static double[] reference(double[] a, double[] u, int B, int T, int C) {
        double[] h = new double[B * T * C];
        for (int b = 0; b < B; b++) {
            for (int c = 0; c < C; c++) {
                double s = 0;
                for (int t = 0; t < T; t++) {
                    int x = (b * T + t) * C + c;
                    s = a[x] * s + (1 - a[x]) * u[x];
                    h[x] = s;
                }
            }
        }
        return h;
    }

    record Case(int B, int T, int C, int off, float[] a, float[] u, double[] r) {
        static Case random(long seed, int maxT, double aLo, double aHi) {
            SplittableRandom rnd = new SplittableRandom(seed);
            return random(rnd, 1 + rnd.nextInt(3), 1 + rnd.nextInt(maxT), 1 + rnd.nextInt(4), aLo, aHi);
        }

        static Case random(SplittableRandom rnd, int B, int T, int C, double aLo, double aHi) {
            int off = 1 + rnd.nextInt(5), n = B * T * C;
            return new Case(B, T, C, off, Tensors.uniform(rnd, off + n, aLo, aHi), Tensors.uniform(rnd, off + n, -1, 1),
                    Tensors.toDouble(Tensors.uniform(rnd, n, -1, 1)));
        }

        int n() {
            return B * T * C;
        }

        double loss(double[] as, double[] us) {
            return Tensors.dot(r, reference(as, us, B, T, C));
        }

        float[] dh() {
            float[] dh = new float[off + n()];
            for (int i = 0; i < n(); i++) {
                dh[off + i] = (float) r[i];
            }
            return dh;
        }

        /** L = 0: sequential; otherwise chunked with chunks of L steps. */
        float[] forward(CpuBackend cpu, int L) {
            float[] h = new float[off + n()];
            if (L == 0) {
                cpu.scanForward(h, a, u, off, B, T, C);
            } else {
                int carries = B * Scan.chunkCount(T, L) * C;
                cpu.scanForwardChunked(h, a, u, off, B, T, C, L, new float[carries], new float[carries]);
            }
            return h;
        }

        /** {da, du} from dh = r, starting from {@code init} to check accumulation. */
        float[][] backward(CpuBackend cpu, float[] h, int L, float init) {
            float[] da = new float[off + n()], du = new float[off + n()];
            Arrays.fill(da, init);
            Arrays.fill(du, init);
            if (L == 0) {
                cpu.scanBackward(da, du, dh(), h, a, u, off, B, T, C);
            } else {
                int carries = B * Scan.chunkCount(T, L) * C;
                cpu.scanBackwardChunked(da, du, dh(), h, a, u, off, B, T, C, L, new float[carries], new float[carries]);
            }
            for (int i = 0; i < da.length; i++) {
                da[i] -= init;
                du[i] -= init;
            }
            return new float[][] {da, du};
        }
    }

    static final double FWD_RTOL = 1e-5, FWD_ATOL = 1e-6, BWD_RTOL = 1e-4, BWD_ATOL = 1e-5;
    /** Chunked vs sequential: the carries re-associate a few float products per chunk. */
    static final double CHUNK_RTOL = 1e-5, CHUNK_ATOL = 2e-6;

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
    void sequentialForwardMatchesReference(long seed) {
        Case c = Case.random(seed, 40, 0.02, 0.99);
        try (CpuBackend cpu = new CpuBackend(2)) {
            float[] h = c.forward(cpu, 0);
            assertClose("h", h, c.off, reference(Tensors.slice(c.a, c.off, c.n()), Tensors.slice(c.u, c.off, c.n()),
                    c.B, c.T, c.C), FWD_RTOL, FWD_ATOL);
        }
    }

    @ParameterizedTest
    @CsvSource({"1,1", "1,4", "7,1", "7,2", "7,3", "7,7", "7,12", "13,4", "64,8", "64,64", "100,8",
                "100,16", "100,33", "257,16", "257,1", "257,300"})
    void chunkedForwardEqualsSequential(int T, int L) {
        Case c = Case.random(new SplittableRandom(T * 1000L + L), 2, T, 5, 0.01, 0.999);
        try (CpuBackend cpu = new CpuBackend(2)) {
            float[] seq = c.forward(cpu, 0), chunked = c.forward(cpu, L);
            if (L == 1 || L >= T) {
                // One step per chunk composes to exactly the sequential arithmetic; one chunk is it.
                assertThat(chunked).isEqualTo(seq);
            } else {
                assertClose("h", chunked, 0, Tensors.toDouble(seq), CHUNK_RTOL, CHUNK_ATOL);
            }
            float[][] gs = c.backward(cpu, seq, 0, 0f), gc = c.backward(cpu, seq, L, 0f);
            for (int k = 0; k < 2; k++) {
                if (L >= T) {
                    assertThat(gc[k]).isEqualTo(gs[k]);
                } else {
                    assertClose(k == 0 ? "da" : "du", gc[k], 0, Tensors.toDouble(gs[k]), CHUNK_RTOL, CHUNK_ATOL);
                }
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"11,0", "12,0", "13,0", "14,0", "15,1", "16,2", "17,3", "18,5", "19,64"})
    void backwardMatchesFiniteDifferencesAndAccumulates(long seed, int L) {
        Case c = Case.random(seed, 20, 0.05, 0.95);
        double[] a = Tensors.slice(c.a, c.off, c.n()), u = Tensors.slice(c.u, c.off, c.n());
        try (CpuBackend cpu = new CpuBackend(2)) {
            float[] h = c.forward(cpu, L);
            float[][] g = c.backward(cpu, h, L, 0.25f);
            assertMatches("da", g[0], c.off, GradCheck.numeric(p -> c.loss(p, u), a), BWD_RTOL, BWD_ATOL);
            assertMatches("du", g[1], c.off, GradCheck.numeric(p -> c.loss(a, p), u), BWD_RTOL, BWD_ATOL);
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {21, 22, 23})
    void checkRejectsASkippedCarryPhase(long seed) {
        Case c = Case.random(new SplittableRandom(seed), 1, 12, 3, 0.05, 0.95);
        int L = 4, nChunks = Scan.chunkCount(c.T, L);
        float[] h = new float[c.off + c.n()], dh = c.dh();
        float[] da = new float[c.off + c.n()], du = new float[c.off + c.n()];
        float[] carryA = new float[nChunks * c.C], carryB = new float[nChunks * c.C];
        for (int ch = 0; ch < c.C; ch++) {
            Scan.forwardChannel(h, c.a, c.u, c.off, c.T, c.C, ch);
            // Mutant: phase 2 forgotten, so carryB still holds each chunk's own summary.
            for (int k = 0; k < nChunks; k++) {
                Scan.chunkBackwardSummary(carryA, carryB, dh, c.a, c.off, 0, c.T, c.C, L, k, ch);
            }
            for (int k = 0; k < nChunks; k++) {
                Scan.chunkBackwardApply(da, du, dh, h, c.a, c.u, carryB, c.off, 0, c.T, c.C, L, k, ch);
            }
        }
        double[] a = Tensors.slice(c.a, c.off, c.n()), u = Tensors.slice(c.u, c.off, c.n());
        assertThat(GradCheck.matches(da, c.off, GradCheck.numeric(p -> c.loss(p, u), a), BWD_RTOL, BWD_ATOL)).isFalse();
        assertThat(GradCheck.matches(du, c.off, GradCheck.numeric(p -> c.loss(a, p), u), BWD_RTOL, BWD_ATOL)).isFalse();
    }

    @ParameterizedTest
    @ValueSource(longs = {31, 32, 33})
    void checkRejectsReadingHtForHtMinusOne(long seed) {
        Case c = Case.random(new SplittableRandom(seed), 2, 9, 3, 0.05, 0.95);
        float[] h = new float[c.off + c.n()];
        try (CpuBackend cpu = new CpuBackend(1)) {
            cpu.scanForward(h, c.a, c.u, c.off, c.B, c.T, c.C);
            // Mutant: the backward is handed h one step late, so it reads h[t] where h[t-1] belongs.
            float[] late = new float[h.length];
            for (int x = c.off + c.C; x < h.length; x++) {
                late[x - c.C] = h[x];
            }
            float[] da = new float[h.length], du = new float[h.length];
            cpu.scanBackward(da, du, c.dh(), late, c.a, c.u, c.off, c.B, c.T, c.C);
            double[] a = Tensors.slice(c.a, c.off, c.n()), u = Tensors.slice(c.u, c.off, c.n());
            assertThat(GradCheck.matches(da, c.off, GradCheck.numeric(p -> c.loss(p, u), a), BWD_RTOL, BWD_ATOL))
                    .isFalse();
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 3, 8, 16})
    void hAtTDependsOnNothingAfterT(int L) {
        Case c = Case.random(new SplittableRandom(40 + L), 2, 50, 4, 0.01, 0.99);
        try (CpuBackend cpu = new CpuBackend(3)) {
            float[] base = c.forward(cpu, L);
            for (int s : new int[] {1, 7, 8, 9, 25, 49}) {
                for (int b = 0; b < c.B; b++) {
                    float[] a = c.a.clone(), u = c.u.clone();
                    for (int ch = 0; ch < c.C; ch++) {
                        int x = c.off + (b * c.T + s) * c.C + ch;
                        a[x] = a[x] * 0.5f;
                        u[x] = u[x] + 0.75f;
                    }
                    float[] h = new Case(c.B, c.T, c.C, c.off, a, u, c.r).forward(cpu, L);
                    int to = c.off + (b * c.T + s) * c.C, next = c.off + (b + 1) * c.T * c.C;
                    assertThat(Arrays.copyOfRange(h, 0, to)).as("L %d, s %d, sequence %d", L, s, b)
                            .isEqualTo(Arrays.copyOfRange(base, 0, to));
                    assertThat(Arrays.copyOfRange(h, next, h.length)).isEqualTo(Arrays.copyOfRange(base, next, h.length));
                    assertThat(Arrays.equals(h, base)).as("the change is visible at s").isFalse();
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 16, 64})
    void tinyDecaysNeverOverflow(int L) {
        // a ~ 0.01 over 512 steps: a running product of a underflows after ~20 steps, so any
        // "divide by the cumulative product" shortcut would produce inf/NaN here.
        Case c = Case.random(new SplittableRandom(50 + L), 2, 512, 8, 0.005, 0.02);
        try (CpuBackend cpu = new CpuBackend(2)) {
            float[] h = c.forward(cpu, L);
            float[][] g = c.backward(cpu, h, L, 0f);
            for (float[] t : new float[][] {h, g[0], g[1]}) {
                for (float x : t) {
                    assertThat(Float.isFinite(x)).isTrue();
                }
            }
            assertClose("h", h, c.off, reference(Tensors.slice(c.a, c.off, c.n()), Tensors.slice(c.u, c.off, c.n()),
                    c.B, c.T, c.C), FWD_RTOL, FWD_ATOL);
            float[][] gs = c.backward(cpu, c.forward(cpu, 0), 0, 0f);
            assertClose("da", g[0], 0, Tensors.toDouble(gs[0]), CHUNK_RTOL, CHUNK_ATOL);
            assertClose("du", g[1], 0, Tensors.toDouble(gs[1]), CHUNK_RTOL, CHUNK_ATOL);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 63, 64, 65, 150})
    void backendBlocksGiveTheChannelUnitsBits(int C) {
        // The CPU steps blocks of channels together; the per-channel units (the GPU's) must agree.
        Case c = Case.random(new SplittableRandom(C), 2, 37, C, 0.01, 0.99);
        float[] h = new float[c.off + c.n()], da = new float[c.off + c.n()], du = new float[c.off + c.n()];
        for (int b = 0; b < c.B; b++) {
            for (int ch = 0; ch < C; ch++) {
                Scan.forwardChannel(h, c.a, c.u, c.off + b * c.T * C, c.T, C, ch);
                Scan.backwardChannel(da, du, c.dh(), h, c.a, c.u, c.off + b * c.T * C, c.T, C, ch);
            }
        }
        try (CpuBackend cpu = new CpuBackend(2)) {
            float[] hb = c.forward(cpu, 0);
            float[][] g = c.backward(cpu, hb, 0, 0f);
            assertThat(hb).isEqualTo(h);
            assertThat(g[0]).isEqualTo(da);
            assertThat(g[1]).isEqualTo(du);
        }
    }

    @Test
    void generationStepEqualsTheFullScanBitForBit() {
        Case c = Case.random(new SplittableRandom(60), 1, 97, 13, 0.01, 0.999);
        try (CpuBackend cpu = new CpuBackend(2)) {
            float[] h = c.forward(cpu, 0);
            float[] state = new float[c.C + 3];
            for (int t = 0; t < c.T; t++) {
                int row = c.off + t * c.C;
                cpu.scanStep(state, 3, c.a, row, c.u, row, c.C);
                assertThat(Arrays.copyOfRange(state, 3, 3 + c.C)).as("t %d", t)
                        .isEqualTo(Arrays.copyOfRange(h, row, row + c.C));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 5})
    void resultsAreBitIdenticalForAnyThreadCount(int threads) {
        Case c = Case.random(new SplittableRandom(70), 3, 67, 150, 0.01, 0.99);
        float[][] one = runAll(1, c), many = runAll(threads, c);
        for (int k = 0; k < one.length; k++) {
            assertThat(many[k]).as("output %d", k).isEqualTo(one[k]);
        }
    }

    private static float[][] runAll(int threads, Case c) {
        try (CpuBackend cpu = new CpuBackend(threads)) {
            float[] hs = c.forward(cpu, 0), hc = c.forward(cpu, 8);
            float[][] gs = c.backward(cpu, hs, 0, 0f), gc = c.backward(cpu, hs, 8, 0f);
            return new float[][] {hs, hc, gs[0], gs[1], gc[0], gc[1]};
        }
    }
}
