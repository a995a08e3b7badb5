package io.ionllama.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.kernels.RnnCell;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The CPU pool schedule of the RNN's fused gate unit ({@link CpuRnn}) equals the interface default
 * ({@code Backend.rnnGatesForward/Backward}: the units row by row on the caller's thread) bit for
 * bit at 1, 2 and 3 threads, on the scalar and the Vector API backends alike, with offsets, the
 * backward's accumulation into non-zero dz and dc, and the first step's null dc.
 */
class CpuRnnTest {

    static float[] random(int n, long seed, float scale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (r.nextGaussian() * scale);
        }
        return a;
    }

    @Test
    void poolScheduleEqualsTheInterfaceDefaultAtAnyThreadCount() {
        int rows = 7, C = 37, off = 5;
        float[] z = random(off + rows * 3 * C, 1, 3f), c = random(off + rows * C, 2, 1f), dp = random(off + rows * C, 3, 1f);
        float[] dz0 = random(off + rows * 3 * C, 4, 0.1f), dc0 = random(off + rows * C, 5, 0.1f);

        // The interface default: the unit, row by row.
        float[] pRef = new float[off + rows * C], dzRef = dz0.clone(), dcRef = dc0.clone(), dzRefNull = dz0.clone();
        for (int n = 0; n < rows; n++) {
            RnnCell.forwardRow(pRef, off, z, off, c, off, C, n);
            RnnCell.backwardRow(dzRef, off, dcRef, off, dp, off, z, off, c, off, C, n);
            RnnCell.backwardRow(dzRefNull, off, null, 0, dp, off, z, off, c, off, C, n);
        }

        for (boolean simd : new boolean[] {false, true}) {
            for (int threads = 1; threads <= 3; threads++) {
                try (CpuBackend cpu = new CpuBackend(threads, simd)) {
                    float[] p = new float[off + rows * C], dz = dz0.clone(), dc = dc0.clone(), dzNull = dz0.clone();
                    cpu.rnnGatesForward(p, off, z, off, c, off, rows, C);
                    cpu.rnnGatesBackward(dz, off, dc, off, dp, off, z, off, c, off, rows, C);
                    cpu.rnnGatesBackward(dzNull, off, null, 0, dp, off, z, off, c, off, rows, C);
                    String at = threads + " thread(s), simd " + simd;
                    assertThat(p).as("p, %s", at).isEqualTo(pRef);
                    assertThat(dz).as("dz, %s", at).isEqualTo(dzRef);
                    assertThat(dc).as("dc, %s", at).isEqualTo(dcRef);
                    assertThat(dzNull).as("dz without dc, %s", at).isEqualTo(dzRefNull);
                }
            }
        }
    }

    @Test
    void dispatchAllocatesNothing() {
        int C = 64, rows = 8;
        float[] z = random(rows * 3 * C, 1, 2f), c = random(rows * C, 2, 1f), p = new float[rows * C],
                dz = new float[rows * 3 * C], dc = new float[rows * C], dp = random(rows * C, 3, 1f);
        try (CpuBackend cpu = new CpuBackend(2)) {
            for (int n : new int[] {1, rows}) { // one row runs on the caller's thread; eight are split over the pool
                long bytes = io.ionllama.testing.Allocations.leastPerRun(cpu, () -> {
                    for (int k = 0; k < 100; k++) {
                        cpu.rnnGatesForward(p, 0, z, 0, c, 0, n, C);
                        cpu.rnnGatesBackward(dz, 0, dc, 0, dp, 0, z, 0, c, 0, n, C);
                    }
                }, 5, 64);
                // The measurement's own reading costs a few bytes; 200 calls allocating anything would cost far more.
                assertThat(bytes).as("bytes allocated by 100 forward + backward gate calls of %d rows", n).isLessThan(64);
            }
        }
    }
}
