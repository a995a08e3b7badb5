package io.ionllama.kernels;

import static io.ionllama.testing.GradCheck.assertClose;
import static io.ionllama.testing.GradCheck.assertMatches;
import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.testing.GradCheck;
import io.ionllama.testing.Tensors;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Causal attention, dense and sparse dilated. One double reference serves both: softmax attention
 * over an explicit key mask (j <= i for dense; for dilated, the key set of docs/architecture.md,
 * section 3.6, written out literally here). Forward and all three gradients are held to it; the dilated kernel is also held
 * to the dense kernel when its window covers every key; causality is checked bit for bit; two
 * mutants (a dropped softmax term, a missing slot in the gather) must be rejected.
 */
class AttentionTest {

    /** Which keys query i reads. */
    interface Mask {
        boolean reads(int i, int j);
    }

    static final Mask DENSE = (i, j) -> j <= i;

    /** docs/architecture.md, section 3.6: {i, .., i-w+1} U {i - 2^m : 2^m >= w, 2^m <= i}. */
    static Mask dilated(int w) {
        return (i, j) -> {
            int k = i - j;
            if (k < 0) {
                return false;
            }
            return k < w || (Integer.bitCount(k) == 1 && k >= w);
        };
    }

    /** Masked multi-head softmax attention in double; q, k, v, out are [B*P, H*hd]. */
    static double[] reference(double[] q, double[] k, double[] v, int B, int P, int H, int hd, Mask mask) {
        int C = H * hd;
        double[] out = new double[B * P * C];
        double scale = 1 / Math.sqrt(hd);
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                for (int i = 0; i < P; i++) {
                    double[] s = new double[P];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < P; j++) {
                        if (mask.reads(i, j)) {
                            for (int d = 0; d < hd; d++) {
                                s[j] += q[(b * P + i) * C + h * hd + d] * k[(b * P + j) * C + h * hd + d];
                            }
                            s[j] *= scale;
                            max = Math.max(max, s[j]);
                        }
                    }
                    double sum = 0;
                    for (int j = 0; j < P; j++) {
                        s[j] = mask.reads(i, j) ? Math.exp(s[j] - max) : 0;
                        sum += s[j];
                    }
                    for (int j = 0; j < P; j++) {
                        for (int d = 0; d < hd; d++) {
                            out[(b * P + i) * C + h * hd + d] += s[j] / sum * v[(b * P + j) * C + h * hd + d];
                        }
                    }
                }
            }
        }
        return out;
    }

    /** A random problem; window 0 means dense. Tensors sit at different non-zero offsets. */
    record Case(int B, int P, int H, int hd, int w, int S, int off,
                float[] q, float[] k, float[] v, double[] r) {
        static Case random(long seed, int w, int minP, int maxP) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int B = 1 + rnd.nextInt(2), P = minP + rnd.nextInt(maxP - minP + 1);
            int H = 1 + rnd.nextInt(2), hd = 1 + rnd.nextInt(5), off = 1 + rnd.nextInt(4);
            int n = B * P * H * hd;
            int S = w == 0 ? P : Attention.dilatedSlots(w, P);
            return new Case(B, P, H, hd, w, S, off,
                    Tensors.uniform(rnd, off + n, -1.5, 1.5), Tensors.uniform(rnd, 2 * off + n, -1.5, 1.5),
                    Tensors.uniform(rnd, 3 * off + n, -1, 1), Tensors.toDouble(Tensors.uniform(rnd, n, -1, 1)));
        }

        int n() {
            return B * P * H * hd;
        }

        Mask mask() {
            return w == 0 ? DENSE : dilated(w);
        }

        double[] qd() {
            return Tensors.slice(q, off, n());
        }

        double[] kd() {
            return Tensors.slice(k, 2 * off, n());
        }

        double[] vd() {
            return Tensors.slice(v, 3 * off, n());
        }

        double loss(double[] qs, double[] ks, double[] vs) {
            return Tensors.dot(r, reference(qs, ks, vs, B, P, H, hd, mask()));
        }

        /** out (at offset off) and att (at offset 2) through the backend. */
        float[][] forward(CpuBackend cpu) {
            float[] out = new float[off + n()];
            float[] att = new float[2 + B * H * P * S];
            if (w == 0) {
                cpu.attentionDenseForward(out, off, att, 2, q, off, k, 2 * off, v, 3 * off, B, P, H, hd);
            } else {
                cpu.attentionDilatedForward(out, off, att, 2, q, off, k, 2 * off, v, 3 * off, B, P, H, hd, w, S);
            }
            return new float[][] {out, att};
        }

        /** dq, dk, dv (each at offset off) with dout = r. */
        float[][] backward(CpuBackend cpu, float[] out, float[] att) {
            float[] dout = new float[off + n()];
            for (int i = 0; i < n(); i++) {
                dout[off + i] = (float) r[i];
            }
            float[] dq = new float[off + n()], dk = new float[off + n()], dv = new float[off + n()];
            if (w == 0) {
                cpu.attentionDenseBackward(dq, off, dk, off, dv, off, dout, off, q, off, k, 2 * off, v, 3 * off,
                        out, off, att, 2, B, P, H, hd);
            } else {
                cpu.attentionDilatedBackward(dq, off, dk, off, dv, off, dout, off, q, off, k, 2 * off, v, 3 * off,
                        out, off, att, 2, B, P, H, hd, w, S);
            }
            return new float[][] {dq, dk, dv};
        }
    }

    static final double FWD_RTOL = 1e-5, FWD_ATOL = 1e-6, BWD_RTOL = 1e-4, BWD_ATOL = 1e-5;

    private static void checkForward(Case c) {
        try (CpuBackend cpu = new CpuBackend(2)) {
            float[][] fa = c.forward(cpu);
            assertClose("out", fa[0], c.off, reference(c.qd(), c.kd(), c.vd(), c.B, c.P, c.H, c.hd, c.mask()),
                    FWD_RTOL, FWD_ATOL);
            // Saved probabilities: a distribution over the keys read, zero on every masked slot.
            // (Dense attention on the Vector API path saves each row's softmax statistics instead:
            // SimdAttentionTest.savesRowStatistics.)
            boolean probabilities = c.w != 0 || !cpu.simdMatmul() || c.P < 2;
            for (int row = 0; probabilities && row < c.B * c.H * c.P; row++) {
                int i = row % c.P;
                double sum = 0;
                for (int s = 0; s < c.S; s++) {
                    float p = fa[1][2 + row * c.S + s];
                    int off = c.w == 0 ? i - s : Attention.dilatedOffset(s, c.w);
                    if (off > i || off < 0) {
                        assertThat(p).as("masked prob row %d slot %d", row, s).isZero();
                    }
                    sum += p;
                }
                assertThat(sum).as("row %d", row).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
            }
        }
    }

    private static void checkBackward(Case c) {
        try (CpuBackend cpu = new CpuBackend(2)) {
            float[][] fa = c.forward(cpu);
            float[][] g = c.backward(cpu, fa[0], fa[1]);
            double[] q = c.qd(), k = c.kd(), v = c.vd();
            assertMatches("dq", g[0], c.off, GradCheck.numeric(p -> c.loss(p, k, v), q), BWD_RTOL, BWD_ATOL);
            assertMatches("dk", g[1], c.off, GradCheck.numeric(p -> c.loss(q, p, v), k), BWD_RTOL, BWD_ATOL);
            assertMatches("dv", g[2], c.off, GradCheck.numeric(p -> c.loss(q, k, p), v), BWD_RTOL, BWD_ATOL);
        }
    }

    // ---------------------------------------------------------------- dense

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6})
    void denseForwardMatchesReference(long seed) {
        checkForward(Case.random(seed, 0, 1, 9));
    }

    @ParameterizedTest
    @ValueSource(longs = {11, 12, 13, 14, 15, 16})
    void denseBackwardMatchesFiniteDifferences(long seed) {
        checkBackward(Case.random(seed, 0, 1, 9));
    }

    // ---------------------------------------------------------------- dilated

    @Test
    void dilatedOffsetsFollowTheDesign() {
        assertThat(offsets(1, 6)).containsExactly(0, 1, 2, 4, 8, 16);
        assertThat(offsets(2, 5)).containsExactly(0, 1, 2, 4, 8);
        assertThat(offsets(3, 6)).containsExactly(0, 1, 2, 4, 8, 16);
        assertThat(offsets(8, 11)).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 16, 32);
        assertThat(offsets(5, 7)).containsExactly(0, 1, 2, 3, 4, 8, 16);
        assertThat(Attention.dilatedSlots(1, 1)).isEqualTo(1);
        assertThat(Attention.dilatedSlots(1, 2)).isEqualTo(2);
        assertThat(Attention.dilatedSlots(1, 5)).isEqualTo(4);
        assertThat(Attention.dilatedSlots(1, 6)).isEqualTo(4);
        assertThat(Attention.dilatedSlots(1, 1024)).isEqualTo(11);
        assertThat(Attention.dilatedSlots(8, 8)).isEqualTo(8);
        assertThat(Attention.dilatedSlots(8, 9)).isEqualTo(9);
        // The slots reach exactly the literal key set of every query, each key once.
        for (int w = 1; w <= 9; w++) {
            int P = 70, S = Attention.dilatedSlots(w, P);
            for (int i = 0; i < P; i++) {
                TreeSet<Integer> bySlot = new TreeSet<>(), literal = new TreeSet<>();
                for (int s = 0; s < S; s++) {
                    int off = Attention.dilatedOffset(s, w);
                    if (off <= i) {
                        assertThat(bySlot.add(i - off)).as("w %d i %d slot %d repeats a key", w, i, s).isTrue();
                    }
                }
                for (int j = 0; j <= i; j++) {
                    if (dilated(w).reads(i, j)) {
                        literal.add(j);
                    }
                }
                assertThat(bySlot).as("w %d i %d", w, i).isEqualTo(literal);
            }
        }
    }

    private static int[] offsets(int w, int n) {
        int[] o = new int[n];
        for (int s = 0; s < n; s++) {
            o[s] = Attention.dilatedOffset(s, w);
        }
        return o;
    }

    @ParameterizedTest
    @CsvSource({"1,1", "1,2", "2,3", "2,4", "3,5", "3,6", "8,7", "8,8"})
    void dilatedForwardMatchesMaskedDenseReference(int w, long seed) {
        checkForward(Case.random(seed, w, 1, 20));
    }

    @ParameterizedTest
    @CsvSource({"1,11", "1,12", "2,13", "2,14", "3,15", "3,16", "8,17", "8,18"})
    void dilatedBackwardMatchesFiniteDifferencesOfMaskedDense(int w, long seed) {
        checkBackward(Case.random(seed, w, 2, 20));
    }

    @ParameterizedTest
    @ValueSource(longs = {31, 32, 33})
    void dilatedWithAWindowOverEveryKeyEqualsTheDenseKernel(long seed) {
        Case d = Case.random(seed, 0, 1, 9);
        Case s = new Case(d.B, d.P, d.H, d.hd, d.P, Attention.dilatedSlots(d.P, d.P), d.off, d.q, d.k, d.v, d.r);
        try (CpuBackend cpu = new CpuBackend(2)) {
            float[][] fd = d.forward(cpu), fs = s.forward(cpu);
            assertClose("out", fs[0], 0, Tensors.toDouble(fd[0]), 1e-5, 1e-6);
            float[][] gd = d.backward(cpu, fd[0], fd[1]), gs = s.backward(cpu, fs[0], fs[1]);
            for (int t = 0; t < 3; t++) {
                assertClose("grad " + t, gs[t], 0, Tensors.toDouble(gd[t]), 1e-5, 1e-6);
            }
        }
    }

    // ---------------------------------------------------------------- causality, mutants, threads

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 3, 8})
    void changingPositionJChangesNoEarlierOutput(int w) {
        Case c = Case.random(41 + w, w, 20, 30);
        int C = c.H * c.hd;
        try (CpuBackend cpu = new CpuBackend(3)) {
            float[] base = c.forward(cpu)[0];
            for (int j : new int[] {1, c.P / 2, c.P - 1}) {
                for (int b = 0; b < c.B; b++) {
                    float[] q = c.q.clone(), k = c.k.clone(), v = c.v.clone();
                    for (int x = 0; x < C; x++) {
                        q[c.off + (b * c.P + j) * C + x] += 0.7f;
                        k[2 * c.off + (b * c.P + j) * C + x] -= 0.9f;
                        v[3 * c.off + (b * c.P + j) * C + x] += 1.3f;
                    }
                    Case p = new Case(c.B, c.P, c.H, c.hd, c.w, c.S, c.off, q, k, v, c.r);
                    float[] out = p.forward(cpu)[0];
                    // Everything before (b, j) and every other sequence stays bit for bit.
                    int to = c.off + (b * c.P + j) * C, next = c.off + (b + 1) * c.P * C;
                    assertThat(Arrays.copyOfRange(out, 0, to)).as("w %d, j %d, sequence %d", w, j, b)
                            .isEqualTo(Arrays.copyOfRange(base, 0, to));
                    assertThat(Arrays.copyOfRange(out, next, out.length)).as("sequences after %d", b)
                            .isEqualTo(Arrays.copyOfRange(base, next, base.length));
                    assertThat(Arrays.equals(out, base)).as("the change is visible at j").isFalse();
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {51, 52, 53})
    void checkRejectsADroppedSoftmaxTerm(long seed) {
        Case c = Case.random(seed, 0, 4, 9);
        float[] dq = new float[c.off + c.n()];
        try (CpuBackend cpu = new CpuBackend(1)) {
            float[][] fa = c.forward(cpu);
            float[] dout = new float[c.off + c.n()];
            for (int i = 0; i < c.n(); i++) {
                dout[c.off + i] = (float) c.r[i];
            }
            // Mutant: D_i = dout_i . out_i dropped (a zero output), i.e. ds = p dp.
            float[] zeros = new float[fa[0].length];
            for (int b = 0; b < c.B; b++) {
                for (int i = 0; i < c.P; i++) {
                    for (int h = 0; h < c.H; h++) {
                        Attention.denseBackwardQuery(dq, c.off, dout, c.off, c.k, 2 * c.off, c.v, 3 * c.off,
                                zeros, c.off, fa[1], 2, c.P, c.H, c.hd, b, i, h);
                    }
                }
            }
        }
        double[] k = c.kd(), v = c.vd();
        assertThat(GradCheck.matches(dq, c.off, GradCheck.numeric(p -> c.loss(p, k, v), c.qd()), BWD_RTOL, BWD_ATOL))
                .isFalse();
    }

    @ParameterizedTest
    @CsvSource({"1,61", "2,62", "3,63", "8,64"})
    void checkRejectsAGatherMissingItsLastSlot(int w, long seed) {
        Case c = Case.random(seed, w, 12, 20);
        float[] dk = new float[c.off + c.n()], dv = new float[c.off + c.n()];
        try (CpuBackend cpu = new CpuBackend(1)) {
            float[][] fa = c.forward(cpu);
            float[] dout = new float[c.off + c.n()];
            for (int i = 0; i < c.n(); i++) {
                dout[c.off + i] = (float) c.r[i];
            }
            // Mutant: the key-side gather loops over S - 1 slots, so the largest offset never
            // sends its gradient back to its key.
            for (int b = 0; b < c.B; b++) {
                for (int j = 0; j < c.P; j++) {
                    for (int h = 0; h < c.H; h++) {
                        Attention.dilatedBackwardKey(dk, c.off, dv, c.off, dout, c.off, c.q, c.off, c.v, 3 * c.off,
                                fa[0], c.off, fa[1], 2, c.P, c.H, c.hd, c.w, c.S - 1, b, j, h);
                    }
                }
            }
        }
        double[] q = c.qd(), k = c.kd();
        assertThat(GradCheck.matches(dv, c.off, GradCheck.numeric(p -> c.loss(q, k, p), c.vd()), BWD_RTOL, BWD_ATOL))
                .isFalse();
        assertThat(GradCheck.matches(dk, c.off, GradCheck.numeric(p -> c.loss(q, p, c.vd()), k), BWD_RTOL, BWD_ATOL))
                .isFalse();
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 5})
    void resultsAreBitIdenticalForAnyThreadCount(int threads) {
        for (int w : new int[] {0, 1, 4}) {
            Case c = Case.random(70 + w, w, 29, 29);
            float[][] one = runBoth(1, c), many = runBoth(threads, c);
            for (int t = 0; t < one.length; t++) {
                assertThat(many[t]).as("w %d output %d", w, t).isEqualTo(one[t]);
            }
        }
    }

    private static float[][] runBoth(int threads, Case c) {
        try (CpuBackend cpu = new CpuBackend(threads)) {
            float[][] f = c.forward(cpu);
            float[][] g = c.backward(cpu, f[0], f[1]);
            return new float[][] {f[0], f[1], g[0], g[1], g[2]};
        }
    }
}
