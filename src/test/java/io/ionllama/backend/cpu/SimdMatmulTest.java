package io.ionllama.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
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
 * The Vector API matmul ({@link SimdMatmul}, through {@link CpuBackend}) against the scalar units of
 * {@link io.ionllama.kernels.Matmul} (a {@code CpuBackend} with SIMD off), for all three products.
 *
 * <p>Tolerance: the two sum in different orders and SIMD uses FMA, so they differ by rounding.
 * Each element must agree within {@code RTOL = 1e-5} of its magnitude scale
 * {@code |C0| + |b| + sum_k |A(m,k) B(k,j)|} (the natural bound for a float dot product; plain
 * relative error is meaningless where the sum cancels to near zero).
 *
 * <p>Shapes are awkward on purpose: sizes that are not multiples of the vector length (16), of the
 * micro tile (8 x 32) or of the blocks (KC 256, MC 128, NC 512), single rows (the dot-product path),
 * and non-zero offsets everywhere. Gradients start non-zero to check accumulation.
 */
class SimdMatmulTest {

    static final double RTOL = 1e-5;

    @BeforeAll
    static void needsVectorApi() {
        assumeTrue(SimdSupport.available(), "Vector API not in this JVM: the SIMD matmul is not used, nothing to compare");
    }

    static int[][] shapes() {
        return new int[][] {
            // rows, in, out
            {1, 1, 1}, {1, 17, 33}, {2, 300, 7}, {4, 16, 32}, {5, 3, 2}, {8, 32, 32}, {9, 33, 31},
            {13, 1, 40}, {17, 100, 65}, {37, 64, 48}, {31, 300, 70}, {140, 20, 530}, {300, 45, 17},
            {129, 257, 33}, {64, 512, 16},
            // past one block every way (K > 2 KC, N > NC, M > MC), and columns of full tiles with edges below and beside
            {520, 600, 40}, {530, 70, 141},
        };
    }

    /** A problem with every tensor at its own non-zero offset and gradients already non-zero. */
    record Problem(int rows, int in, int out, int xo, int wo, int bo, int yo,
                   float[] x, float[] w, float[] b, float[] dy, float[] dx0, float[] dw0, float[] db0) {
        static Problem random(long seed, int rows, int in, int out) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int xo = 1 + rnd.nextInt(7), wo = 1 + rnd.nextInt(7), bo = 1 + rnd.nextInt(7), yo = 1 + rnd.nextInt(7);
            return new Problem(rows, in, out, xo, wo, bo, yo,
                    Tensors.uniform(rnd, xo + rows * in + 3, -1, 1),
                    Tensors.uniform(rnd, wo + out * in + 3, -1, 1),
                    Tensors.uniform(rnd, bo + out + 3, -1, 1),
                    Tensors.uniform(rnd, yo + rows * out + 3, -1, 1),
                    Tensors.uniform(rnd, xo + rows * in + 3, -1, 1),
                    Tensors.uniform(rnd, wo + out * in + 3, -1, 1),
                    Tensors.uniform(rnd, bo + out + 3, -1, 1));
        }
    }

    /** y, dx, dW, db from one backend. */
    static float[][] run(CpuBackend cpu, Problem p, boolean bias) {
        float[] y = new float[p.yo + p.rows * p.out + 3];
        float[] dx = p.dx0.clone(), dw = p.dw0.clone(), db = p.db0.clone();
        cpu.matmulForward(y, p.yo, p.x, p.xo, p.w, p.wo, bias ? p.b : null, p.bo, p.rows, p.in, p.out);
        cpu.matmulBackwardInput(dx, p.xo, p.dy, p.yo, p.w, p.wo, p.rows, p.in, p.out);
        cpu.matmulBackwardWeight(dw, p.wo, bias ? db : null, p.bo, p.dy, p.yo, p.x, p.xo, p.rows, p.in, p.out);
        return new float[][] {y, dx, dw, db};
    }

    /** Magnitude scales per element, in the same layouts as {@link #run}. */
    static double[][] scales(Problem p, boolean bias) {
        int rows = p.rows, in = p.in, out = p.out;
        double[] y = new double[p.yo + rows * out + 3], dx = new double[p.xo + rows * in + 3];
        double[] dw = new double[p.wo + out * in + 3], db = new double[p.bo + out + 3];
        for (int n = 0; n < rows; n++) {
            for (int o = 0; o < out; o++) {
                double s = bias ? Math.abs(p.b[p.bo + o]) : 0;
                for (int i = 0; i < in; i++) {
                    s += Math.abs(p.x[p.xo + n * in + i] * p.w[p.wo + o * in + i]);
                }
                y[p.yo + n * out + o] = s;
            }
            for (int i = 0; i < in; i++) {
                double s = Math.abs(p.dx0[p.xo + n * in + i]);
                for (int o = 0; o < out; o++) {
                    s += Math.abs(p.dy[p.yo + n * out + o] * p.w[p.wo + o * in + i]);
                }
                dx[p.xo + n * in + i] = s;
            }
        }
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                double s = Math.abs(p.dw0[p.wo + o * in + i]);
                for (int n = 0; n < rows; n++) {
                    s += Math.abs(p.dy[p.yo + n * out + o] * p.x[p.xo + n * in + i]);
                }
                dw[p.wo + o * in + i] = s;
            }
            double s = Math.abs(p.db0[p.bo + o]);
            for (int n = 0; n < rows; n++) {
                s += Math.abs(p.dy[p.yo + n * out + o]);
            }
            db[p.bo + o] = s;
        }
        return new double[][] {y, dx, dw, db};
    }

    static final String[] NAMES = {"y", "dx", "dW", "db"};

    /**
     * The dot-product path (up to {@link SimdMatmul#DOT_ROWS} rows: generation) computes several
     * outputs together; each must still be exactly the one-output computation: per lane l an FMA
     * chain over i = l, l + VL, ..., the lanes added in order from 0, the tail by scalar FMAs, then
     * the bias. Compared bit for bit with that sum written out in scalar Java, for output counts
     * that are not multiples of the block and inputs with and without a tail, on 1 and 2 threads.
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void dotPathIsTheOneOutputSumBitForBit(int threads) {
        int vl = SimdMatmul.VL;
        try (CpuBackend cpu = new CpuBackend(threads, true)) {
            for (int rows = 1; rows <= SimdMatmul.DOT_ROWS; rows++) {
                for (int in : new int[] {1, vl - 1, vl, 2 * vl + 1, 256, 300}) {
                    for (int out : new int[] {1, 3, 4, 5, 7, 13, 66, 256}) {
                        Problem p = Problem.random(31L * rows + 7L * in + out, rows, in, out);
                        for (boolean bias : new boolean[] {false, true}) {
                            float[] y = new float[p.yo + rows * out + 3];
                            cpu.matmulForward(y, p.yo, p.x, p.xo, p.w, p.wo, bias ? p.b : null, p.bo, rows, in, out);
                            int vecEnd = in - in % vl;
                            for (int n = 0; n < rows; n++) {
                                for (int o = 0; o < out; o++) {
                                    float[] acc = new float[vl];
                                    for (int i = 0; i < vecEnd; i += vl) {
                                        for (int l = 0; l < vl; l++) {
                                            acc[l] = Math.fma(p.x[p.xo + n * in + i + l], p.w[p.wo + o * in + i + l], acc[l]);
                                        }
                                    }
                                    float sum = 0f;
                                    for (int l = 0; l < vl; l++) {
                                        sum += acc[l];
                                    }
                                    for (int i = vecEnd; i < in; i++) {
                                        sum = Math.fma(p.x[p.xo + n * in + i], p.w[p.wo + o * in + i], sum);
                                    }
                                    if (bias) {
                                        sum += p.b[p.bo + o];
                                    }
                                    assertThat(Float.floatToRawIntBits(y[p.yo + n * out + o]))
                                            .as("rows %d in %d out %d bias %s: y[%d,%d]", rows, in, out, bias, n, o)
                                            .isEqualTo(Float.floatToRawIntBits(sum));
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void simdMatchesTheScalarUnits(int[] shape) {
        for (boolean bias : new boolean[] {true, false}) {
            Problem p = Problem.random(31L * shape[0] + 7L * shape[1] + shape[2] + (bias ? 1 : 0), shape[0], shape[1], shape[2]);
            float[][] simd, scalar;
            try (CpuBackend s = new CpuBackend(2, true); CpuBackend r = new CpuBackend(1, false)) {
                assertThat(s.simdMatmul()).isTrue();
                assertThat(r.simdMatmul()).isFalse();
                simd = run(s, p, bias);
                scalar = run(r, p, bias);
            }
            double[][] scale = scales(p, bias);
            for (int t = 0; t < 4; t++) {
                for (int e = 0; e < simd[t].length; e++) {
                    double allowed = RTOL * scale[t][e];
                    assertThat((double) Math.abs(simd[t][e] - scalar[t][e]))
                            .as("%s[%d] shape %dx%dx%d bias %s: simd %.9g vs scalar %.9g", NAMES[t], e,
                                    p.rows, p.in, p.out, bias, simd[t][e], scalar[t][e])
                            .isLessThanOrEqualTo(allowed);
                }
            }
        }
    }

    /**
     * The kernel's two loops: A's rows side by side (column stride 1) or MR consecutive floats a
     * step (row stride 1). A tile read both ways from one matrix and its transpose gives the same
     * bits; an A with neither stride 1 is a caller's error, refused rather than run slowly.
     */
    @Test
    void kernelReadsRowsAndColumnsAlikeAndRefusesOtherStrides() {
        int kc = 37, MR = SimdMatmul.MR, NR = SimdMatmul.NR;
        SplittableRandom r = new SplittableRandom(7);
        float[] rows = Tensors.uniform(r, MR * kc, -1, 1), cols = new float[kc * MR], b = Tensors.uniform(r, kc * NR, -1, 1);
        for (int i = 0; i < MR; i++) {
            for (int k = 0; k < kc; k++) {
                cols[k * MR + i] = rows[i * kc + k];
            }
        }
        float[] c1 = new float[MR * NR], c2 = new float[MR * NR];
        SimdMatmul.micro(kc, rows, 0, kc, 1, b, 0, c1, 0, NR, false);
        SimdMatmul.micro(kc, cols, 0, 1, MR, b, 0, c2, 0, NR, false);
        assertThat(c2).containsExactly(c1);
        assertThat(c1).isNotEqualTo(new float[MR * NR]);
        assertThatThrownBy(() -> SimdMatmul.micro(kc, rows, 0, 2, kc, b, 0, c1, 0, NR, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unit row or column stride");
    }

    /** The check above can fail: a SIMD result with one product term dropped is rejected. */
    @Test
    void toleranceRejectsAMissingTerm() {
        Problem p = Problem.random(5, 9, 33, 31);
        float[][] scalar;
        try (CpuBackend r = new CpuBackend(1, false)) {
            scalar = run(r, p, true);
        }
        double[][] scale = scales(p, true);
        // y[0, 0] without its last x*w term, as an off-by-one in the k loop would produce.
        float wrong = scalar[0][p.yo] - p.x[p.xo + p.in - 1] * p.w[p.wo + p.in - 1];
        assertThat((double) Math.abs(wrong - scalar[0][p.yo])).isGreaterThan(RTOL * scale[0][p.yo]);
    }

    /**
     * matmulBackwardInputOverwrite is matmulBackwardInput into a cleared dx, bit for bit, whatever dx
     * held before (NaN here) and whatever the backend: the Vector API GEMM writing its tiles from
     * zero, the scalar units, and {@code Backend}'s default (clear, then accumulate) on a forwarding
     * backend. Only dx's own range is written.
     */
    @ParameterizedTest
    @MethodSource("shapes")
    void overwritingInputGradientIsAClearedAccumulation(int[] shape) {
        Problem p = Problem.random(3L * shape[0] + shape[1] + 11L * shape[2], shape[0], shape[1], shape[2]);
        int n = p.rows * p.in;
        for (boolean simd : new boolean[] {true, false}) {
            try (CpuBackend cpu = new CpuBackend(2, simd)) {
                float[] expected = p.dx0.clone();
                java.util.Arrays.fill(expected, p.xo, p.xo + n, 0f);
                cpu.matmulBackwardInput(expected, p.xo, p.dy, p.yo, p.w, p.wo, p.rows, p.in, p.out);
                for (Backend be : new Backend[] {cpu, new ForwardingBackend(cpu)}) {
                    float[] dx = p.dx0.clone();
                    java.util.Arrays.fill(dx, p.xo, p.xo + n, Float.NaN);
                    be.matmulBackwardInputOverwrite(dx, p.xo, p.dy, p.yo, p.w, p.wo, p.rows, p.in, p.out);
                    assertThat(dx).as("simd %s, %s, shape %dx%dx%d", simd, be.getClass().getSimpleName(),
                            p.rows, p.in, p.out).isEqualTo(expected);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 5})
    void simdIsBitIdenticalForAnyThreadCount(int threads) {
        int[][] cases = {{67, 300, 77}, {3, 70, 45}, {300, 40, 530}, {129, 33, 9}};
        for (int[] c : cases) {
            Problem p = Problem.random(c[0] + c[1] + c[2], c[0], c[1], c[2]);
            float[][] one, many;
            try (CpuBackend a = new CpuBackend(1, true); CpuBackend b = new CpuBackend(threads, true)) {
                one = run(a, p, true);
                many = run(b, p, true);
            }
            for (int t = 0; t < 4; t++) {
                assertThat(many[t]).as("%s, %d threads, shape %dx%dx%d", NAMES[t], threads, c[0], c[1], c[2]).isEqualTo(one[t]);
            }
        }
    }

    /**
     * After warm-up, matmul calls through a 2-thread backend allocate (almost) nothing on the
     * calling thread or the pool's worker: packing scratch is kept, tasks are reused, vectors are
     * scalarized by C2. A few rounds absorb a late JIT recompilation.
     */
    @Test
    @org.junit.jupiter.api.Tag("allocation")
    void steadyStateAllocatesNothing() {
        Problem big = Problem.random(1, 40, 70, 50), few = Problem.random(2, 2, 70, 50);
        float[] y = new float[big.yo + big.rows * big.out], dx = big.dx0.clone(), dw = big.dw0.clone(), db = big.db0.clone();
        float[] y2 = new float[few.yo + few.rows * few.out];
        try (CpuBackend cpu = new CpuBackend(2, true)) {
            Runnable calls = () -> {
                for (int k = 0; k < 50; k++) {
                    cpu.matmulForward(y, big.yo, big.x, big.xo, big.w, big.wo, big.b, big.bo, big.rows, big.in, big.out);
                    cpu.matmulForward(y2, few.yo, few.x, few.xo, few.w, few.wo, few.b, few.bo, few.rows, few.in, few.out);
                    cpu.matmulBackwardInput(dx, big.xo, big.dy, big.yo, big.w, big.wo, big.rows, big.in, big.out);
                    cpu.matmulBackwardInputOverwrite(dx, big.xo, big.dy, big.yo, big.w, big.wo, big.rows, big.in, big.out);
                    cpu.matmulBackwardWeight(dw, big.wo, db, big.bo, big.dy, big.yo, big.x, big.xo, big.rows, big.in, big.out);
                }
            };
            long best = Allocations.leastPerRun(cpu, calls, 60, 1024);
            // 250 matmul calls: a single boxed vector per call would be kilobytes.
            assertThat(best).as("bytes allocated by 250 matmul calls (caller + worker)").isLessThan(1024);
        }
    }

}
