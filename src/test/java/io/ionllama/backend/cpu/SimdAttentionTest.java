package io.ionllama.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ionllama.testing.Allocations;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Vector API dense attention ({@link SimdAttention}, through {@link CpuBackend}) against the
 * scalar units of {@link io.ionllama.kernels.Attention} (a {@code CpuBackend} with SIMD off), forward
 * (out and the saved probabilities) and backward (dq, dk, dv, accumulated onto non-zero values).
 *
 * <p>Tolerance: the two sum in different orders, SIMD uses FMA and a polynomial exp, so they
 * differ by rounding. Each element must agree within {@code RTOL} of its array's largest
 * magnitude (probabilities: absolutely, they are at most 1).
 *
 * <p>Shapes are awkward on purpose: head dims and lengths that are not multiples of the vector
 * length, the micro tile (4 rows) or the work block (32 rows), single positions and heads,
 * several sequences, and non-zero offsets everywhere.
 */
class SimdAttentionTest {

    static final double RTOL = 2e-5;

    @BeforeAll
    static void needsVectorApi() {
        assumeTrue(SimdSupport.available(), "Vector API not in this JVM: the SIMD attention is not used");
    }

    static int[][] shapes() {
        return new int[][] {
            // B, P, H, hd
            {1, 1, 1, 1}, {1, 2, 1, 3}, {1, 5, 2, 3}, {2, 17, 3, 5}, {1, 33, 2, 24}, {1, 64, 4, 32},
            {2, 45, 3, 7}, {1, 100, 2, 16}, {1, 130, 1, 9}, {3, 31, 2, 8}, {1, 67, 2, 40}, {1, 200, 8, 24},
        };
    }

    /** Inputs at their own non-zero offsets, gradients already non-zero. */
    record Problem(int B, int P, int H, int hd, int[] off, float[][] in) {
        static final String[] NAMES = {"q", "k", "v", "dout", "dq0", "dk0", "dv0"};

        static Problem random(long seed, int B, int P, int H, int hd) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int n = B * P * H * hd;
            int[] off = new int[10];
            float[][] in = new float[7][];
            for (int t = 0; t < 7; t++) {
                off[t] = 1 + rnd.nextInt(7);
                in[t] = Tensors.uniform(rnd, off[t] + n + 3, t < 2 ? -2 : -1, t < 2 ? 2 : 1);
            }
            off[7] = 1 + rnd.nextInt(7); // out
            off[8] = 1 + rnd.nextInt(7); // att
            return new Problem(B, P, H, hd, off, in);
        }

        /** out, att, dq, dk, dv of one forward and backward on {@code cpu}. */
        float[][] run(CpuBackend cpu) {
            int n = B * P * H * hd;
            float[] out = new float[off[7] + n + 3];
            float[] att = new float[off[8] + B * H * P * P + 3];
            java.util.Arrays.fill(att, 7f); // every entry must be written
            float[] dq = in[4].clone(), dk = in[5].clone(), dv = in[6].clone();
            cpu.attentionDenseForward(out, off[7], att, off[8], in[0], off[0], in[1], off[1], in[2], off[2], B, P, H, hd);
            cpu.attentionDenseBackward(dq, off[4], dk, off[5], dv, off[6], in[3], off[3], in[0], off[0], in[1], off[1],
                    in[2], off[2], out, off[7], att, off[8], B, P, H, hd);
            return new float[][] {out, att, dq, dk, dv};
        }
    }

    static final String[] OUTPUTS = {"out", "att", "dq", "dk", "dv"};

    @ParameterizedTest
    @MethodSource("shapes")
    void matchesScalarUnits(int[] c) {
        Problem p = Problem.random(31L * c[1] + c[3], c[0], c[1], c[2], c[3]);
        float[][] simd, scalar;
        try (CpuBackend s = new CpuBackend(2, true); CpuBackend r = new CpuBackend(1, false)) {
            assertThat(s.simdMatmul()).isTrue();
            simd = p.run(s);
            scalar = p.run(r);
        }
        for (int t = 0; t < OUTPUTS.length; t++) {
            double max = 0;
            for (float x : scalar[t]) {
                max = Math.max(max, Math.abs(x));
            }
            double tol = t == 1 ? RTOL : RTOL * max;
            for (int e = 0; e < scalar[t].length; e++) {
                assertThat((double) Math.abs(simd[t][e] - scalar[t][e]))
                        .as("%s[%d], shape B%d P%d H%d hd%d", OUTPUTS[t], e, c[0], c[1], c[2], c[3])
                        .isLessThanOrEqualTo(tol);
            }
        }
    }

    /** The probabilities above the diagonal are exact zeros, as the units write them. */
    @Test
    void causalZeros() {
        Problem p = Problem.random(5, 2, 37, 3, 12);
        float[][] r;
        try (CpuBackend s = new CpuBackend(1, true)) {
            r = p.run(s);
        }
        for (int bh = 0; bh < 2 * 3; bh++) {
            for (int i = 0; i < 37; i++) {
                double sum = 0;
                for (int j = 0; j < 37; j++) {
                    float a = r[1][p.off[8] + (bh * 37 + i) * 37 + j];
                    if (j > i) {
                        assertThat(a).isEqualTo(0f);
                    }
                    sum += a;
                }
                assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3})
    void identicalForAnyThreadCount(int threads) {
        for (int[] c : shapes()) {
            Problem p = Problem.random(7L * c[1] + c[2], c[0], c[1], c[2], c[3]);
            float[][] one, many;
            try (CpuBackend a = new CpuBackend(1, true); CpuBackend b = new CpuBackend(threads, true)) {
                one = p.run(a);
                many = p.run(b);
            }
            for (int t = 0; t < OUTPUTS.length; t++) {
                assertThat(many[t]).as("%s, %d threads, shape B%d P%d H%d hd%d", OUTPUTS[t], threads,
                        c[0], c[1], c[2], c[3]).isEqualTo(one[t]);
            }
        }
    }

    /**
     * After warm-up, dense attention calls through a 2-thread backend allocate (almost) nothing on
     * the calling thread or the pool's worker: scratch is kept, tasks are reused, vectors are
     * scalarized by C2.
     */
    @Test
    @org.junit.jupiter.api.Tag("allocation")
    void steadyStateAllocatesNothing() {
        Problem p = Problem.random(3, 1, 70, 2, 24);
        int n = p.B * p.P * p.H * p.hd;
        float[] out = new float[p.off[7] + n], att = new float[p.off[8] + p.H * p.P * p.P];
        float[] dq = p.in[4].clone(), dk = p.in[5].clone(), dv = p.in[6].clone();
        float[][] x = p.in;
        int[] o = p.off;
        try (CpuBackend cpu = new CpuBackend(2, true)) {
            Runnable calls = () -> {
                for (int k = 0; k < 20; k++) {
                    cpu.attentionDenseForward(out, o[7], att, o[8], x[0], o[0], x[1], o[1], x[2], o[2], 1, p.P, p.H, p.hd);
                    cpu.attentionDenseBackward(dq, o[4], dk, o[5], dv, o[6], x[3], o[3], x[0], o[0], x[1], o[1],
                            x[2], o[2], out, o[7], att, o[8], 1, p.P, p.H, p.hd);
                }
            };
            long best = Allocations.leastPerRun(cpu, calls, 30, 1024);
            assertThat(best).as("bytes allocated by 40 attention calls (caller + worker)").isLessThan(1024);
        }
    }
}
