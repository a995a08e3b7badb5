package io.ionllama.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.kernels.Rope;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The CPU backend's RoPE reads cos/sin from a table; it must give the units' bits exactly, forward
 * and backward, for any positions (including past the table's cap, and across it), and after
 * the head size or base changes between calls.
 */
class RopeTableTest {

    static float[][] viaUnits(float[] x, float[] dy, float[] dx0, int rows, int P, int pos0, int H, int hd, float base) {
        float[] y = new float[x.length], dx = dx0.clone();
        for (int n = 0; n < rows; n++) {
            Rope.forwardRow(y, 0, x, 0, P, pos0, H, hd, base, n);
            Rope.backwardRow(dx, 0, dy, 0, P, pos0, H, hd, base, n);
        }
        return new float[][] {y, dx};
    }

    static float[][] viaBackend(CpuBackend cpu, float[] x, float[] dy, float[] dx0, int rows, int P, int pos0, int H, int hd,
                                float base) {
        float[] y = new float[x.length], dx = dx0.clone();
        cpu.ropeForward(y, 0, x, 0, rows, P, pos0, H, hd, base);
        cpu.ropeBackward(dx, 0, dy, 0, rows, P, pos0, H, hd, base);
        return new float[][] {y, dx};
    }

    @Test
    void tableGivesTheUnitsBits() {
        SplittableRandom rnd = new SplittableRandom(1);
        int cap = CpuAttention.ROPE_TABLE_MAX_POSITIONS;
        int[][] cases = {
            // rows, P, pos0, H, hd
            {40, 40, 0, 4, 64}, {1, 1, 7, 4, 64}, {1, 1, 3000, 4, 64}, {30, 10, 0, 3, 8}, {5, 5, cap - 2, 2, 16},
            {3, 3, cap + 100, 2, 16}, {64, 64, 0, 4, 64}, {1, 1, 0, 1, 2}, {17, 17, 500, 2, 6},
            // head widths of the dense model (24: a whole vector and a tail on 16 lanes; 32)
            {50, 25, 0, 8, 24}, {33, 33, 0, 8, 32},
        };
        float[] bases = {10000f, 10000f, 10000f, 500f, 10000f, 10000f, 10000f, 10000f, 10000f, 10000f, 10000f};
        try (CpuBackend cpu = new CpuBackend(3)) {
            for (int k = 0; k < cases.length; k++) {
                int[] c = cases[k];
                int n = c[0] * c[3] * c[4];
                float[] x = Tensors.uniform(rnd, n, -1, 1), dy = Tensors.uniform(rnd, n, -1, 1), dx0 = Tensors.uniform(rnd, n, -1, 1);
                float[][] want = viaUnits(x, dy, dx0, c[0], c[1], c[2], c[3], c[4], bases[k]);
                float[][] got = viaBackend(cpu, x, dy, dx0, c[0], c[1], c[2], c[3], c[4], bases[k]);
                assertThat(got[0]).as("forward, case %d", k).isEqualTo(want[0]);
                assertThat(got[1]).as("backward, case %d", k).isEqualTo(want[1]);
            }
        }
    }

    @Test
    void wrongTableEntriesWouldBeSeen() {
        // The comparison above is exact: a rotation by a position off by one differs.
        SplittableRandom rnd = new SplittableRandom(2);
        int rows = 8, H = 2, hd = 8, n = rows * H * hd;
        float[] x = Tensors.uniform(rnd, n, -1, 1), dy = Tensors.uniform(rnd, n, -1, 1), dx0 = new float[n];
        float[][] want = viaUnits(x, dy, dx0, rows, rows, 0, H, hd, 10000f);
        float[][] shifted = viaUnits(x, dy, dx0, rows, rows, 1, H, hd, 10000f);
        assertThat(shifted[0]).isNotEqualTo(want[0]);
    }
}
