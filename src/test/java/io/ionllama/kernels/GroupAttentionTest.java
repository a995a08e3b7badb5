package io.ionllama.kernels;

import static io.ionllama.testing.GradCheck.assertClose;
import static io.ionllama.testing.GradCheck.assertMatches;
import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.testing.GradCheck;
import io.ionllama.testing.Tensors;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Non-causal attention inside groups (tokun's blocks). The double reference is
 * {@link AttentionTest#reference} with one "sequence" per group and no mask: every query reads
 * every key of its group. Forward and the three gradients are held to it through the CPU backend;
 * a change in one group leaves every other group bit for bit; results do not depend on the thread
 * count; two mutants (a dropped softmax term, a gather that skips the group's last query) are
 * rejected by the same check.
 */
class GroupAttentionTest {

    static final AttentionTest.Mask ALL = (i, j) -> true;

    record Case(int groups, int G, int H, int hd, int off, float[] q, float[] k, float[] v, double[] r) {
        static Case random(long seed) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int groups = 1 + rnd.nextInt(3), G = 1 + rnd.nextInt(5);
            int H = 1 + rnd.nextInt(2), hd = 1 + rnd.nextInt(4), off = 1 + rnd.nextInt(4);
            int n = groups * G * H * hd;
            return new Case(groups, G, H, hd, off,
                    Tensors.uniform(rnd, off + n, -1.5, 1.5), Tensors.uniform(rnd, 2 * off + n, -1.5, 1.5),
                    Tensors.uniform(rnd, 3 * off + n, -1, 1), Tensors.toDouble(Tensors.uniform(rnd, n, -1, 1)));
        }

        int n() {
            return groups * G * H * hd;
        }

        double loss(double[] qs, double[] ks, double[] vs) {
            return Tensors.dot(r, AttentionTest.reference(qs, ks, vs, groups, G, H, hd, ALL));
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

        float[][] forward(CpuBackend cpu) {
            float[] out = new float[off + n()], att = new float[2 + groups * H * G * G];
            cpu.attentionGroupForward(out, off, att, 2, q, off, k, 2 * off, v, 3 * off, groups, G, H, hd);
            return new float[][] {out, att};
        }

        float[] dout() {
            float[] dout = new float[off + n()];
            for (int i = 0; i < n(); i++) {
                dout[off + i] = (float) r[i];
            }
            return dout;
        }

        float[][] backward(CpuBackend cpu, float[] out, float[] att) {
            float[] dq = new float[off + n()], dk = new float[off + n()], dv = new float[off + n()];
            cpu.attentionGroupBackward(dq, off, dk, off, dv, off, dout(), off, q, off, k, 2 * off, v, 3 * off,
                    out, off, att, 2, groups, G, H, hd);
            return new float[][] {dq, dk, dv};
        }
    }

    static final double BWD_RTOL = 1e-4, BWD_ATOL = 1e-5;

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6})
    void forwardMatchesReference(long seed) {
        Case c = Case.random(seed);
        try (CpuBackend cpu = new CpuBackend(2)) {
            float[][] fa = c.forward(cpu);
            assertClose("out", fa[0], c.off, AttentionTest.reference(c.qd(), c.kd(), c.vd(), c.groups, c.G, c.H, c.hd, ALL),
                    1e-5, 1e-6);
            for (int row = 0; row < c.groups * c.H * c.G; row++) {
                double sum = 0;
                for (int j = 0; j < c.G; j++) {
                    sum += fa[1][2 + row * c.G + j];
                }
                assertThat(sum).as("row %d", row).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {11, 12, 13, 14, 15, 16})
    void backwardMatchesFiniteDifferences(long seed) {
        Case c = Case.random(seed);
        try (CpuBackend cpu = new CpuBackend(2)) {
            float[][] fa = c.forward(cpu);
            float[][] g = c.backward(cpu, fa[0], fa[1]);
            double[] q = c.qd(), k = c.kd(), v = c.vd();
            assertMatches("dq", g[0], c.off, GradCheck.numeric(p -> c.loss(p, k, v), q), BWD_RTOL, BWD_ATOL);
            assertMatches("dk", g[1], c.off, GradCheck.numeric(p -> c.loss(q, p, v), k), BWD_RTOL, BWD_ATOL);
            assertMatches("dv", g[2], c.off, GradCheck.numeric(p -> c.loss(q, k, p), v), BWD_RTOL, BWD_ATOL);
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {21, 22, 23})
    void aChangeInOneGroupStaysInIt(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int n = 3 * 4 * 2 * 3;
        Case c = new Case(3, 4, 2, 3, 1, Tensors.uniform(rnd, 1 + n, -1, 1), Tensors.uniform(rnd, 2 + n, -1, 1),
                Tensors.uniform(rnd, 3 + n, -1, 1), new double[n]);
        int C = c.H * c.hd, groupSize = c.G * C;
        try (CpuBackend cpu = new CpuBackend(2)) {
            float[] base = c.forward(cpu)[0];
            float[] v = c.v.clone();
            v[3 + groupSize + 2 * C] += 1f; // group 1, position 2: every position of group 1 sees it (non-causal)
            float[] out = new Case(c.groups, c.G, c.H, c.hd, c.off, c.q, c.k, v, c.r).forward(cpu)[0];
            int g1 = 1 + groupSize, g2 = 1 + 2 * groupSize;
            assertThat(Arrays.copyOfRange(out, 0, g1)).isEqualTo(Arrays.copyOfRange(base, 0, g1));
            assertThat(Arrays.copyOfRange(out, g2, out.length)).isEqualTo(Arrays.copyOfRange(base, g2, base.length));
            for (int i = 0; i < c.G; i++) {
                int row = g1 + i * C;
                assertThat(Arrays.equals(Arrays.copyOfRange(out, row, row + C), Arrays.copyOfRange(base, row, row + C)))
                        .as("position %d of the changed group", i).isFalse();
            }
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {31, 32, 33})
    void checkRejectsADroppedSoftmaxTerm(long seed) {
        Case c = Case.random(seed);
        c = c.G < 2 ? Case.random(seed + 100) : c;
        Case cc = c;
        float[] dq = new float[c.off + c.n()];
        try (CpuBackend cpu = new CpuBackend(1)) {
            float[][] fa = c.forward(cpu);
            float[] zeros = new float[fa[0].length]; // mutant: D_i from a zero output, i.e. ds = p dp
            for (int g = 0; g < c.groups; g++) {
                for (int i = 0; i < c.G; i++) {
                    for (int h = 0; h < c.H; h++) {
                        GroupAttention.backwardQuery(dq, c.off, c.dout(), c.off, c.k, 2 * c.off, c.v, 3 * c.off,
                                zeros, c.off, fa[1], 2, c.G, c.H, c.hd, g, i, h);
                    }
                }
            }
        }
        double[] k = c.kd(), v = c.vd();
        assertThat(GradCheck.matches(dq, c.off, GradCheck.numeric(p -> cc.loss(p, k, v), c.qd()), BWD_RTOL, BWD_ATOL))
                .isFalse();
    }

    @ParameterizedTest
    @ValueSource(longs = {41, 42, 43})
    void checkRejectsAGatherThatSkipsTheLastQuery(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int groups = 2, G = 4, H = 2, hd = 3, off = 2, n = groups * G * H * hd;
        Case c = new Case(groups, G, H, hd, off, Tensors.uniform(rnd, off + n, -1.5, 1.5),
                Tensors.uniform(rnd, 2 * off + n, -1.5, 1.5), Tensors.uniform(rnd, 3 * off + n, -1, 1),
                Tensors.toDouble(Tensors.uniform(rnd, n, -1, 1)));
        float[] dk = new float[off + n], dv = new float[off + n];
        try (CpuBackend cpu = new CpuBackend(1)) {
            float[][] fa = c.forward(cpu);
            // Mutant: the key-side gather treats groups as G - 1 long (the causal habit of stopping
            // early), so the last query of each group never sends its gradient back.
            for (int g = 0; g < groups; g++) {
                for (int j = 0; j < G; j++) {
                    for (int h = 0; h < H; h++) {
                        backwardKeyMissingLast(dk, dv, c, fa[0], fa[1], g, j, h);
                    }
                }
            }
        }
        double[] q = c.qd(), k = c.kd();
        assertThat(GradCheck.matches(dv, off, GradCheck.numeric(p -> c.loss(q, k, p), c.vd()), BWD_RTOL, BWD_ATOL)).isFalse();
        assertThat(GradCheck.matches(dk, off, GradCheck.numeric(p -> c.loss(q, p, c.vd()), k), BWD_RTOL, BWD_ATOL)).isFalse();
    }

    /** GroupAttention.backwardKey with its query loop stopping one short. */
    private static void backwardKeyMissingLast(float[] dk, float[] dv, Case c, float[] out, float[] att, int g, int j, int h) {
        int G = c.G, C = c.H * c.hd, hd = c.hd, off = c.off;
        float scale = Attention.scale(hd);
        float[] dout = c.dout();
        int jr = (g * G + j) * C + h * hd;
        for (int i = 0; i < G - 1; i++) {
            int ir = (g * G + i) * C + h * hd;
            float p = att[2 + ((g * c.H + h) * G + i) * G + j];
            float dp = 0f, dsum = 0f;
            for (int d = 0; d < hd; d++) {
                dp += dout[off + ir + d] * c.v[3 * off + jr + d];
                dsum += dout[off + ir + d] * out[off + ir + d];
            }
            float ds = p * (dp - dsum) * scale;
            for (int d = 0; d < hd; d++) {
                dk[off + jr + d] += ds * c.q[off + ir + d];
                dv[off + jr + d] += p * dout[off + ir + d];
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3})
    void resultsAreBitIdenticalForAnyThreadCount(int threads) {
        Case c = Case.random(77);
        float[][] one = run(1, c), many = run(threads, c);
        for (int t = 0; t < one.length; t++) {
            assertThat(many[t]).as("output %d", t).isEqualTo(one[t]);
        }
    }

    private static float[][] run(int threads, Case c) {
        try (CpuBackend cpu = new CpuBackend(threads)) {
            float[][] f = c.forward(cpu);
            float[][] g = c.backward(cpu, f[0], f[1]);
            return new float[][] {f[0], f[1], g[0], g[1], g[2]};
        }
    }
}
