package io.ionllama.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ionllama.backend.Backend;
import io.ionllama.backend.ForwardingBackend;
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
 * (out) and backward (dq, dk, dv, accumulated onto non-zero values). The SIMD path saves each query
 * row's softmax statistics in att, not the probabilities: {@link #savesRowStatistics} checks their
 * meaning against the scalar units' probabilities, and the backward's match shows they suffice.
 *
 * <p>Tolerance: the two sum in different orders, SIMD uses FMA and a polynomial exp, so they
 * differ by rounding. Each element must agree within {@code RTOL} of its array's largest
 * magnitude (probabilities: absolutely, they are at most 1).
 *
 * <p>Shapes are awkward on purpose: head dims and lengths that are not multiples of the vector
 * length, the micro tile (8 rows, 2 vectors) or the work block (32 rows), single positions and heads,
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
            if (t == 1 && SimdAttention.supports(c[1])) {
                continue; // att holds the row statistics (savesRowStatistics)
            }
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

    /**
     * What the forward saves: for row (b, h, i), two floats at 2 i from the start of the head's
     * region of att, the scaled max m and 1/sum r of its softmax, so that p_j = exp(scale s_j - m) r
     * gives the scalar units' probabilities; every other float of att is left as it was.
     */
    @Test
    void savesRowStatistics() {
        Problem p = Problem.random(5, 2, 37, 3, 12);
        int B = p.B, P = p.P, H = p.H, hd = p.hd, C = H * hd;
        float[][] simd, scalar;
        try (CpuBackend s = new CpuBackend(1, true); CpuBackend r = new CpuBackend(1, false)) {
            simd = p.run(s);
            scalar = p.run(r);
        }
        float[] att = simd[1], q = p.in[0], k = p.in[1];
        double scale = 1.0 / Math.sqrt(hd);
        for (int bh = 0; bh < B * H; bh++) {
            int b = bh / H, h = bh % H;
            for (int i = 0; i < P; i++) {
                int row = p.off[8] + (bh * P + i) * P, st = p.off[8] + bh * 2 * P + 2 * i;
                for (int j = 0; j <= i; j++) {
                    double dot = 0;
                    for (int d = 0; d < hd; d++) {
                        dot += (double) q[p.off[0] + (b * P + i) * C + h * hd + d] * k[p.off[1] + (b * P + j) * C + h * hd + d];
                    }
                    double prob = Math.exp(scale * dot - att[st]) * att[st + 1];
                    assertThat(prob).as("bh %d, i %d, j %d", bh, i, j).isCloseTo(scalar[1][row + j],
                            org.assertj.core.data.Offset.offset(1e-5));
                }
            }
        }
        // 2 P floats a head, what the backend tells callers to allocate; nothing past them is written
        try (CpuBackend s = new CpuBackend(1, true); CpuBackend r = new CpuBackend(1, false)) {
            assertThat(s.denseAttentionState(P)).isEqualTo(2L * P);
            assertThat(s.denseAttentionState(1)).isEqualTo(1L);
            assertThat(r.denseAttentionState(P)).isEqualTo((long) P * P);
            assertThat(new ForwardingBackend(s).denseAttentionState(P)).as("a forwarding backend keeps P*P").isEqualTo((long) P * P);
        }
        for (int e = p.off[8] + B * H * 2 * P; e < att.length; e++) {
            assertThat(att[e]).as("untouched att, float %d", e).isEqualTo(7f);
        }
    }

    /** Changing the keys and values of a later position leaves every earlier output row's bits as they were. */
    @Test
    void causal() {
        Problem p = Problem.random(9, 1, 45, 2, 20);
        int P = p.P, C = p.H * p.hd, t = 30;
        float[][] before, after;
        try (CpuBackend s = new CpuBackend(2, true)) {
            before = p.run(s);
            for (int c = 0; c < C; c++) {
                p.in[1][p.off[1] + t * C + c] += 3f;
                p.in[2][p.off[2] + t * C + c] -= 5f;
            }
            after = p.run(s);
        }
        for (int i = 0; i < P; i++) {
            for (int c = 0; c < C; c++) {
                float x = before[0][p.off[7] + i * C + c], y = after[0][p.off[7] + i * C + c];
                if (i < t) {
                    assertThat(y).as("out row %d, column %d", i, c).isEqualTo(x);
                } else if (i == t && c == 0) {
                    assertThat(y).as("the changed position's own row moves").isNotEqualTo(x);
                }
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
    /**
     * attentionDenseBackwardOverwrite and ropeBackwardOverwrite equal the accumulating ops into
     * zeroed gradients (as values: a zero may lose its sign), whatever the gradients held before (NaN
     * here), on the Vector API path, the scalar units, and {@code Backend}'s default (clear, then
     * accumulate) on a forwarding backend; nothing outside the B*P rows is written.
     */
    @ParameterizedTest
    @MethodSource("shapes")
    void overwritingBackwardsAreClearedAccumulations(int[] c) {
        Problem p = Problem.random(71L * c[1] + c[3], c[0], c[1], c[2], c[3]);
        int n = p.B * p.P * p.H * p.hd;
        int[] o = p.off;
        float[][] x = p.in;
        for (boolean simd : new boolean[] {true, false}) {
            try (CpuBackend cpu = new CpuBackend(2, simd)) {
                float[] out = new float[o[7] + n + 3], att = new float[o[8] + p.B * p.H * p.P * p.P + 3];
                cpu.attentionDenseForward(out, o[7], att, o[8], x[0], o[0], x[1], o[1], x[2], o[2], p.B, p.P, p.H, p.hd);
                float[][] expected = {x[4].clone(), x[5].clone(), x[6].clone()};
                for (int t = 0; t < 3; t++) {
                    java.util.Arrays.fill(expected[t], o[4 + t], o[4 + t] + n, 0f);
                }
                cpu.attentionDenseBackward(expected[0], o[4], expected[1], o[5], expected[2], o[6], x[3], o[3], x[0], o[0],
                        x[1], o[1], x[2], o[2], out, o[7], att, o[8], p.B, p.P, p.H, p.hd);
                float[] rope = x[4].clone();
                java.util.Arrays.fill(rope, o[4], o[4] + n, 0f);
                boolean even = p.hd % 2 == 0;
                if (even) {
                    cpu.ropeBackward(rope, o[4], x[3], o[3], p.B * p.P, p.P, 0, p.H, p.hd, 10000f);
                }
                for (Backend be : new Backend[] {cpu, new ForwardingBackend(cpu)}) {
                    float[][] got = {x[4].clone(), x[5].clone(), x[6].clone(), x[4].clone()};
                    for (int t = 0; t < 4; t++) {
                        java.util.Arrays.fill(got[t], o[4 + t % 3], o[4 + t % 3] + n, Float.NaN);
                    }
                    be.attentionDenseBackwardOverwrite(got[0], o[4], got[1], o[5], got[2], o[6], x[3], o[3], x[0], o[0],
                            x[1], o[1], x[2], o[2], out, o[7], att, o[8], p.B, p.P, p.H, p.hd);
                    String what = String.format("simd %s, %s, B %d P %d H %d hd %d", simd, be.getClass().getSimpleName(),
                            p.B, p.P, p.H, p.hd);
                    for (int t = 0; t < 3; t++) {
                        assertEqualValues(what + ", " + OUTPUTS[2 + t], got[t], expected[t]);
                    }
                    if (even) {
                        be.ropeBackwardOverwrite(got[3], o[4], x[3], o[3], p.B * p.P, p.P, 0, p.H, p.hd, 10000f);
                        assertEqualValues(what + ", rope", got[3], rope);
                    }
                }
            }
        }
    }

    /** a[i] == b[i] everywhere (so -0 equals 0, and a NaN left behind fails). */
    static void assertEqualValues(String what, float[] a, float[] b) {
        for (int i = 0; i < a.length; i++) {
            if (!(a[i] == b[i])) {
                assertThat(a[i]).as("%s [%d]", what, i).isEqualTo(b[i]);
            }
        }
    }

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
                    cpu.attentionDenseBackwardOverwrite(dq, o[4], dk, o[5], dv, o[6], x[3], o[3], x[0], o[0], x[1], o[1],
                            x[2], o[2], out, o[7], att, o[8], 1, p.P, p.H, p.hd);
                    cpu.ropeBackwardOverwrite(dk, o[5], dq, o[4], p.P, p.P, 0, p.H, p.hd, 10000f);
                }
            };
            long best = Allocations.leastPerRun(cpu, calls, 30, 1024);
            assertThat(best).as("bytes allocated by 80 attention and RoPE calls (caller + worker)").isLessThan(1024);
        }
    }
}
