package io.ionllama.backend.tornado;

import static io.ionllama.backend.tornado.DeviceChecks.abs;
import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.kernels.Losses;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The losses' TaskGraphs (cross-entropy forward and backward, entropy, argmax, batch statistics)
 * on the TornadoVM device against the CPU backend, with ignored rows (negative targets).
 *
 * <p>Tolerances ({@link DeviceChecks}), rtol 1e-5 of:
 * <ul>
 *   <li>losses: 1 + |loss| (log of a sum of exps: the device's exp and log round differently);
 *       probs: |p|;</li>
 *   <li>dlogits: |dlogits0| + |p - onehot| |dloss| (one product, which the device may fuse);</li>
 *   <li>entropy: log V + (max - min logit) of the row (log s minus a weighted mean of l - max);</li>
 *   <li>argmax: equal (comparisons only; random logits have no ties);</li>
 *   <li>statistics: rtol 1e-6 of |value| (a sum in row order of the same losses, one division).</li>
 * </ul>
 * The backward runs with the stride-0 scale read from the statistics array, as the model does.
 */
class TornadoLossesTest {

    static final double RTOL = 1e-5;

    static TornadoBackend device;
    static CpuBackend cpu;

    @BeforeAll
    static void open() {
        if (DeviceChecks.WHY != null) {
            System.out.println("TornadoLossesTest: every test skipped: " + DeviceChecks.WHY);
            return;
        }
        device = new TornadoBackend(-1, 2, true, 0);
        cpu = new CpuBackend(2);
    }

    @BeforeEach
    void needsTornado() {
        Assumptions.assumeTrue(DeviceChecks.WHY == null, DeviceChecks.SKIP + " (" + DeviceChecks.WHY + ")");
    }

    @AfterAll
    static void close() {
        if (device != null) {
            System.out.println("TornadoLossesTest device stats: " + device.stats());
            device.close();
            cpu.close();
        }
    }

    static void check(long seed, int rows, int V) {
        SplittableRandom r = new SplittableRandom(seed);
        int lo = r.nextInt(9), to = r.nextInt(5), so = r.nextInt(5), pad = 3;
        float[] logits = Tensors.gaussian(r, lo + rows * V + pad, 3);
        int[] targets = new int[to + rows + pad];
        for (int i = 0; i < targets.length; i++) {
            targets[i] = r.nextInt(5) == 0 ? -1 : r.nextInt(V);
        }
        String what = "rows=" + rows + " V=" + V;

        float[] l0 = Tensors.uniform(r, so + rows + pad, -1, 1), p0 = Tensors.uniform(r, lo + rows * V + pad, -1, 1);
        float[] ld = l0.clone(), lc = l0.clone(), pd = p0.clone(), pc = p0.clone();
        device.crossEntropyForward(ld, so, pd, lo, logits, lo, targets, to, rows, V);
        cpu.crossEntropyForward(lc, so, pc, lo, logits, lo, targets, to, rows, V);
        float[] lScale = abs(lc);
        for (int i = 0; i < lScale.length; i++) {
            lScale[i] += 1f;
        }
        DeviceChecks.assertMatchesCpu("losses " + what, ld, lc, lScale, RTOL, so, rows);
        DeviceChecks.assertMatchesCpu("probs " + what, pd, pc, abs(pc), RTOL, lo, rows * V);

        int[] a0 = new int[so + rows + pad];
        a0[0] = -3;
        int[] ad = a0.clone(), ac = a0.clone();
        device.argmax(ad, so, logits, lo, rows, V);
        cpu.argmax(ac, so, logits, lo, rows, V);
        assertThat(ad).as("argmax " + what).isEqualTo(ac);

        float[] e0 = Tensors.uniform(r, so + rows + pad, -1, 1), ed = e0.clone(), ec = e0.clone();
        device.entropy(ed, so, logits, lo, rows, V);
        cpu.entropy(ec, so, logits, lo, rows, V);
        float[] eScale = new float[ec.length];
        for (int n = 0; n < rows; n++) {
            float max = -Float.MAX_VALUE, min = Float.MAX_VALUE;
            for (int v = 0; v < V; v++) {
                max = Math.max(max, logits[lo + n * V + v]);
                min = Math.min(min, logits[lo + n * V + v]);
            }
            eScale[so + n] = (float) Math.log(V) + max - min;
        }
        DeviceChecks.assertMatchesCpu("entropy " + what, ed, ec, eScale, RTOL, so, rows);

        for (boolean withArgmax : new boolean[] {true, false}) {
            int sOff = 1 + r.nextInt(4);
            float[] s0 = Tensors.uniform(r, sOff + Losses.STATS + 2, -1, 1), sd = s0.clone(), sc = s0.clone();
            device.lossStats(sd, sOff, lc, so, withArgmax ? ac : null, so, targets, to, rows);
            cpu.lossStats(sc, sOff, lc, so, withArgmax ? ac : null, so, targets, to, rows);
            DeviceChecks.assertMatchesCpu("stats " + what + (withArgmax ? " with argmax" : ""), sd, sc, abs(sc), 1e-6, sOff,
                    Losses.STATS);
        }

        float[] stats = new float[Losses.STATS];
        cpu.lossStats(stats, 0, lc, so, ac, so, targets, to, rows);
        float[] perRow = Tensors.uniform(r, 2 * rows + 1, 0.1, 2);
        float[] g0 = Tensors.uniform(r, lo + rows * V + pad, -1, 1);
        // Stride 0 from the statistics (the model's mean loss), 1 (per row) and 2 (gathered on the host).
        int[][] cases = {{0, Losses.STAT_INV_VALID}, {1, 1}, {2, 0}};
        for (int[] c : cases) {
            float[] dloss = c[0] == 0 ? stats : perRow;
            float[] gd = g0.clone(), gc = g0.clone();
            device.crossEntropyBackward(gd, lo, pc, lo, targets, to, dloss, c[1], c[0], rows, V);
            cpu.crossEntropyBackward(gc, lo, pc, lo, targets, to, dloss, c[1], c[0], rows, V);
            float[] gScale = abs(g0);
            for (int n = 0; n < rows; n++) {
                float scale = Math.abs(dloss[c[1] + n * c[0]]);
                for (int v = 0; v < V; v++) {
                    gScale[lo + n * V + v] += (Math.abs(pc[lo + n * V + v]) + 1f) * scale;
                }
            }
            DeviceChecks.assertMatchesCpu("dlogits stride " + c[0] + " " + what, gd, gc, gScale, RTOL, lo, rows * V);
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void matchesCpu(long seed) {
        SplittableRandom r = new SplittableRandom(seed * 13);
        check(seed, 1 + r.nextInt(100), r.nextBoolean() ? 256 : 1 + r.nextInt(300));
    }

    /** Rows change between executions of one graph per V. */
    @Test
    void rowsChangeBetweenExecutions() {
        long c0 = device.stats(LossGraphs.CE_FORWARD).graphsBuilt(), b0 = device.stats(LossGraphs.CE_BACKWARD).graphsBuilt();
        check(10, 50, 97);
        check(11, 7, 97);
        check(12, 64, 97);
        check(13, 1, 97);
        assertThat(device.stats(LossGraphs.CE_FORWARD).graphsBuilt() - c0).isEqualTo(1);
        assertThat(device.stats(LossGraphs.CE_BACKWARD).graphsBuilt() - b0).as("strides 0 and 1").isEqualTo(2);
        DeviceChecks.assertRanOnDevice(device, LossGraphs.CE_FORWARD, LossGraphs.CE_BACKWARD, LossGraphs.ENTROPY,
                LossGraphs.ARGMAX, LossGraphs.LOSS_STATS);
    }
}
