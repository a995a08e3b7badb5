package io.ionllama.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * copy, add, accumulate, fill, axpby, scale and transpose: the range units on sub-ranges, and the
 * backend's ops at sizes on both sides of its serial/parallel threshold, at non-zero and
 * different offsets. Expected arrays are built element by element from random backgrounds, and
 * whole arrays are compared bit for bit, so a write outside {@code [off, off + n)} (or a range
 * split that drops or repeats elements) fails.
 */
class ElementwiseTest {

    /** CpuGlue.GLUE_GRAIN: below it the glue runs on the caller's thread. */
    static final int GRAIN = 1 << 14;

    static final int[] SIZES = {0, 1, 17, GRAIN - 1, GRAIN, GRAIN + 1, 3 * GRAIN + 5};

    @Test
    void rangeUnitsTouchExactlyTheirRange() {
        SplittableRandom rnd = new SplittableRandom(1);
        int n = 40, dstOff = 3, aOff = 5, bOff = 2, from = 7, to = 29;
        float[] a = Tensors.uniform(rnd, aOff + n + 4, -1, 1), b = Tensors.uniform(rnd, bOff + n + 4, -1, 1);
        float[] a0 = a.clone(), b0 = b.clone();
        float[] dst0 = Tensors.uniform(rnd, dstOff + n + 6, -1, 1);

        float[] copy = dst0.clone(), add = dst0.clone(), acc = dst0.clone(), fill = dst0.clone();
        Elementwise.copyRange(copy, dstOff, a, aOff, from, to);
        Elementwise.addRange(add, dstOff, a, aOff, b, bOff, from, to);
        Elementwise.accumulateRange(acc, dstOff, a, aOff, from, to);
        Elementwise.fillRange(fill, dstOff, -2.5f, from, to);

        float[] eCopy = dst0.clone(), eAdd = dst0.clone(), eAcc = dst0.clone(), eFill = dst0.clone();
        for (int i = from; i < to; i++) {
            eCopy[dstOff + i] = a[aOff + i];
            eAdd[dstOff + i] = a[aOff + i] + b[bOff + i];
            eAcc[dstOff + i] = dst0[dstOff + i] + a[aOff + i];
            eFill[dstOff + i] = -2.5f;
        }
        assertThat(copy).isEqualTo(eCopy);
        assertThat(add).isEqualTo(eAdd);
        assertThat(acc).isEqualTo(eAcc);
        assertThat(fill).isEqualTo(eFill);
        assertThat(a).as("inputs untouched").isEqualTo(a0);
        assertThat(b).as("inputs untouched").isEqualTo(b0);
    }

    @Test
    void addMayWriteInPlace() {
        // The residual stream adds into one of its inputs: out aliasing a (and b).
        float[] x = {1f, 2f, 3f, 4f}, y = {10f, 20f, 30f, 40f};
        Elementwise.addRange(x, 0, x, 0, y, 0, 0, 4);
        assertThat(x).containsExactly(11f, 22f, 33f, 44f);
        Elementwise.addRange(y, 1, y, 1, y, 1, 0, 3);
        assertThat(y).containsExactly(10f, 40f, 60f, 80f);
    }

    @Test
    void emptyRangesWriteNothing() {
        float[] dst = {1f, 2f, 3f};
        Elementwise.fillRange(dst, 1, 9f, 0, 0);
        Elementwise.copyRange(dst, 0, new float[3], 0, 2, 2);
        Elementwise.accumulateRange(dst, 0, new float[] {5f, 5f, 5f}, 0, 3, 3);
        assertThat(dst).containsExactly(1f, 2f, 3f);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3})
    void backendCopyAccumulateFillTouchOnlyTheirSlice(int threads) {
        try (CpuBackend cpu = new CpuBackend(threads)) {
            for (int k = 0; k < SIZES.length; k++) {
                int n = SIZES[k];
                SplittableRandom rnd = new SplittableRandom(100 + k);
                int dstOff = 1 + rnd.nextInt(9), srcOff = 1 + rnd.nextInt(9);
                float[] src = Tensors.uniform(rnd, srcOff + n + 11, -4, 4), src0 = src.clone();
                float[] dst0 = Tensors.uniform(rnd, dstOff + n + 13, -4, 4);

                float[] copy = dst0.clone(), acc = dst0.clone(), fill = dst0.clone();
                cpu.copy(copy, dstOff, src, srcOff, n);
                cpu.accumulate(acc, dstOff, src, srcOff, n);
                cpu.fill(fill, dstOff, 0f, n);

                float[] eCopy = dst0.clone(), eAcc = dst0.clone(), eFill = dst0.clone();
                for (int i = 0; i < n; i++) {
                    eCopy[dstOff + i] = src[srcOff + i];
                    eAcc[dstOff + i] = dst0[dstOff + i] + src[srcOff + i];
                    eFill[dstOff + i] = 0f;
                }
                assertThat(copy).as("copy n=%d", n).isEqualTo(eCopy);
                assertThat(acc).as("accumulate n=%d", n).isEqualTo(eAcc);
                assertThat(fill).as("fill n=%d", n).isEqualTo(eFill);
                assertThat(src).as("src n=%d", n).isEqualTo(src0);
            }
        }
    }

    @Test
    void backendOpsComposeWithinOneArray() {
        // Gradient buffers: zero a slice, accumulate two contributions from elsewhere in the same
        // array, copy it back out; n above the threshold so every step runs split.
        int n = 2 * GRAIN + 3, off = 5;
        SplittableRandom rnd = new SplittableRandom(7);
        float[] buf = Tensors.uniform(rnd, off + 3 * n, -1, 1), before = buf.clone();
        float[] out = new float[n];
        try (CpuBackend cpu = new CpuBackend(3)) {
            cpu.fill(buf, off, 0f, n);
            cpu.accumulate(buf, off, buf, off + n, n);
            cpu.accumulate(buf, off, buf, off + 2 * n, n);
            cpu.copy(out, 0, buf, off, n);
        }
        for (int i = 0; i < n; i++) {
            assertThat(out[i]).as("out[%d]", i).isEqualTo(0f + before[off + n + i] + before[off + 2 * n + i]);
        }
        for (int i = 0; i < off; i++) {
            assertThat(buf[i]).isEqualTo(before[i]);
        }
        for (int i = off + n; i < buf.length; i++) {
            assertThat(buf[i]).isEqualTo(before[i]);
        }
    }

    @Test
    void axpbyScaleTransposeUnitsTouchExactlyTheirRange() {
        SplittableRandom rnd = new SplittableRandom(3);
        int n = 40, yOff = 3, xOff = 5, from = 7, to = 29;
        float alpha = 0.95f, beta = -1.75f;
        float[] x = Tensors.uniform(rnd, xOff + n + 4, -1, 1), x0 = x.clone();
        float[] y0 = Tensors.uniform(rnd, yOff + n + 6, -1, 1);
        float[] axpby = y0.clone(), scale = y0.clone();
        Elementwise.axpbyRange(axpby, yOff, alpha, x, xOff, beta, from, to);
        Elementwise.scaleRange(scale, yOff, alpha, from, to);
        float[] eAxpby = y0.clone(), eScale = y0.clone();
        for (int i = from; i < to; i++) {
            eAxpby[yOff + i] = alpha * y0[yOff + i] + beta * x[xOff + i];
            eScale[yOff + i] = alpha * y0[yOff + i];
        }
        assertThat(axpby).isEqualTo(eAxpby);
        assertThat(scale).isEqualTo(eScale);
        assertThat(x).as("inputs untouched").isEqualTo(x0);

        // src [5, 8] at 5, dst [8, 5] at 3: elements [from, to) of dst only.
        int rows = 5, cols = 8;
        float[] t = y0.clone();
        Elementwise.transposeRange(t, yOff, x, xOff, rows, cols, from, to);
        float[] eT = y0.clone();
        for (int j = 0; j < cols; j++) {
            for (int k = 0; k < rows; k++) {
                int i = j * rows + k;
                if (i >= from && i < to) {
                    eT[yOff + i] = x[xOff + k * cols + j];
                }
            }
        }
        assertThat(t).isEqualTo(eT);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3})
    void backendAxpbyScaleTransposeTouchOnlyTheirSlice(int threads) {
        try (CpuBackend cpu = new CpuBackend(threads)) {
            for (int k = 0; k < SIZES.length; k++) {
                int n = SIZES[k];
                SplittableRandom rnd = new SplittableRandom(200 + k);
                int yOff = 1 + rnd.nextInt(9), xOff = 1 + rnd.nextInt(9);
                float alpha = (float) rnd.nextDouble(-2, 2), beta = (float) rnd.nextDouble(-2, 2);
                float[] x = Tensors.uniform(rnd, xOff + n + 11, -4, 4), x0 = x.clone();
                float[] y0 = Tensors.uniform(rnd, yOff + n + 13, -4, 4);

                float[] axpby = y0.clone(), scale = y0.clone();
                cpu.axpby(axpby, yOff, alpha, x, xOff, beta, n);
                cpu.scale(scale, yOff, alpha, n);
                float[] eAxpby = y0.clone(), eScale = y0.clone();
                for (int i = 0; i < n; i++) {
                    eAxpby[yOff + i] = alpha * y0[yOff + i] + beta * x[xOff + i];
                    eScale[yOff + i] = alpha * y0[yOff + i];
                }
                assertThat(axpby).as("axpby n=%d", n).isEqualTo(eAxpby);
                assertThat(scale).as("scale n=%d", n).isEqualTo(eScale);
                assertThat(x).as("x n=%d", n).isEqualTo(x0);
            }
            // Transposes on both sides of the threshold, square, wide and tall, one row or column.
            int[][] shapes = {{1, 1}, {1, 7}, {7, 1}, {3, 5}, {5, 3}, {129, 130}, {300, 70}, {64, 257}};
            for (int s = 0; s < shapes.length; s++) {
                int rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
                SplittableRandom rnd = new SplittableRandom(300 + s);
                int dOff = 1 + rnd.nextInt(9), sOff = 1 + rnd.nextInt(9);
                float[] src = Tensors.uniform(rnd, sOff + n + 7, -4, 4), src0 = src.clone();
                float[] dst0 = Tensors.uniform(rnd, dOff + n + 5, -4, 4), dst = dst0.clone();
                cpu.transpose(dst, dOff, src, sOff, rows, cols);
                float[] e = dst0.clone();
                for (int i = 0; i < rows; i++) {
                    for (int j = 0; j < cols; j++) {
                        e[dOff + j * rows + i] = src[sOff + i * cols + j];
                    }
                }
                assertThat(dst).as("transpose %dx%d", rows, cols).isEqualTo(e);
                assertThat(src).isEqualTo(src0);
                // Transposing back gives the original slice.
                float[] back = new float[sOff + n];
                cpu.transpose(back, sOff, dst, dOff, cols, rows);
                assertThat(java.util.Arrays.copyOfRange(back, sOff, sOff + n))
                        .isEqualTo(java.util.Arrays.copyOfRange(src, sOff, sOff + n));
            }
        }
    }

    /**
     * Dropout drops a fraction p of elements (to within sampling error), scales the rest by 1/(1-p),
     * draws the same mask for the same (seed, index) wherever the range is split, and another mask
     * for another seed.
     */
    @Test
    void dropoutDropsAFractionPAndScalesTheRest() {
        int n = 200_000;
        float p = 0.3f;
        float[] y = new float[n];
        java.util.Arrays.fill(y, 2f);
        int threshold = Elementwise.dropoutThreshold(p);
        Elementwise.dropoutRange(y, 0, 12345, threshold, 1f / (1f - p), 0, n);
        int dropped = 0;
        for (float v : y) {
            if (v == 0f) {
                dropped++;
            } else {
                org.assertj.core.api.Assertions.assertThat(v).isEqualTo(2f / (1f - p));
            }
        }
        // Binomial standard deviation ~ 0.001 at n = 200,000: 5 sigma.
        org.assertj.core.api.Assertions.assertThat((double) dropped / n).isCloseTo(p, org.assertj.core.api.Assertions.within(0.005));
        float[] split = new float[n];
        java.util.Arrays.fill(split, 2f);
        Elementwise.dropoutRange(split, 0, 12345, threshold, 1f / (1f - p), 0, 777);
        Elementwise.dropoutRange(split, 0, 12345, threshold, 1f / (1f - p), 777, n);
        org.assertj.core.api.Assertions.assertThat(split).isEqualTo(y);
        int same = 0;
        for (int i = 0; i < n; i++) {
            if (Elementwise.dropoutKeeps(12345, i, threshold) == Elementwise.dropoutKeeps(12346, i, threshold)) {
                same++;
            }
        }
        // Independent masks agree with probability p^2 + (1-p)^2 = 0.58.
        org.assertj.core.api.Assertions.assertThat((double) same / n).isCloseTo(0.58, org.assertj.core.api.Assertions.within(0.01));
        org.assertj.core.api.Assertions.assertThat(Elementwise.dropoutThreshold(0f)).isZero();
    }
}
