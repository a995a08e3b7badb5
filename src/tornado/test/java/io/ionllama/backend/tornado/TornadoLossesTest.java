package io.ionllama.backend.tornado;

import static io.ionllama.backend.tornado.DeviceChecks.abs;
import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.kernels.Losses;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
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
class TornadoLossesTest extends DeviceTest {

    static final double RTOL = 1e-5;

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
        float[] eScale = entropyScale(logits, lo, rows, V, ec.length, so);
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
        // Stride 0 from the statistics (the model's mean loss), 1 (per row) and 2 (every other float).
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
        // One per dloss stride (compiled in): 0, 1 and 2.
        assertThat(device.stats(LossGraphs.CE_BACKWARD).graphsBuilt() - b0).as("strides 0, 1 and 2").isEqualTo(3);
        DeviceChecks.assertRanOnDevice(device, LossGraphs.CE_FORWARD, LossGraphs.CE_BACKWARD, LossGraphs.ENTROPY,
                LossGraphs.ARGMAX, LossGraphs.LOSS_STATS);
    }

    /**
     * Every loss op inside two training steps on a resident backend, over caller arrays at
     * non-zero offsets: the first step runs per-op and builds the plan, the second runs the sites
     * (new logits and targets, outputs reset on the host and announced), with rows changing between
     * the steps. The statistics and the backward read what the ops before them left on the device;
     * each op is checked against the CPU on the device's own inputs, as in {@link #check}.
     */
    @Test
    void residentStepsMatchCpu() {
        TornadoBackend res = new TornadoBackend(-1, 2, true, 0, true);
        try {
            SplittableRandom r = new SplittableRandom(77);
            int V = 97, maxRows = 40, pad = 3;
            int lo = 5, to = 3, so = 2, po = 7, ao = 4, eo = 6, sa = 3, sb = 1, go = 9, ho = 11, dOff = 2;
            float[] logits = new float[lo + maxRows * V + pad];
            int[] targets = new int[to + maxRows + pad];
            float[] losses0 = Tensors.uniform(r, so + maxRows + pad, -1, 1), probs0 = Tensors.uniform(r, po + maxRows * V + pad, -1, 1);
            float[] entropy0 = Tensors.uniform(r, eo + maxRows + pad, -1, 1);
            int[] argmax0 = new int[ao + maxRows + pad];
            java.util.Arrays.fill(argmax0, -3);
            float[] statsA0 = Tensors.uniform(r, sa + Losses.STATS + 2, -1, 1), statsB0 = Tensors.uniform(r, sb + Losses.STATS + 2, -1, 1);
            float[] g0 = Tensors.uniform(r, go + maxRows * V + pad, -1, 1), h0 = Tensors.uniform(r, ho + maxRows * V + pad, -1, 1);
            float[] perRow = Tensors.uniform(r, dOff + 2 * maxRows + 1, 0.1, 2);
            float[] losses = losses0.clone(), probs = probs0.clone(), entropy = entropy0.clone(), statsA = statsA0.clone();
            float[] statsB = statsB0.clone(), dlogits = g0.clone(), dlogits2 = h0.clone();
            int[] argmax = argmax0.clone();
            int[] rowsPerStep = {37, 29};
            for (int step = 0; step < 2; step++) {
                int rows = rowsPerStep[step];
                float[] fresh = Tensors.gaussian(r, logits.length, 3);
                System.arraycopy(fresh, 0, logits, 0, logits.length);
                for (int i = 0; i < targets.length; i++) {
                    targets[i] = r.nextInt(5) == 0 ? -1 : r.nextInt(V);
                }
                reset(losses, losses0);
                reset(probs, probs0);
                reset(entropy, entropy0);
                reset(statsA, statsA0);
                reset(statsB, statsB0);
                reset(dlogits, g0);
                reset(dlogits2, h0);
                System.arraycopy(argmax0, 0, argmax, 0, argmax.length);
                if (step > 0) {
                    res.hostChanged(logits, losses, probs, entropy, statsA, statsB, dlogits, dlogits2);
                    res.hostChanged(targets, argmax);
                }
                long runs0 = res.residency().runs();
                res.beginStep();
                res.crossEntropyForward(losses, so, probs, po, logits, lo, targets, to, rows, V);
                res.argmax(argmax, ao, logits, lo, rows, V);
                res.entropy(entropy, eo, logits, lo, rows, V);
                res.lossStats(statsA, sa, losses, so, argmax, ao, targets, to, rows);
                res.lossStats(statsB, sb, losses, so, null, 0, targets, to, rows);
                res.crossEntropyBackward(dlogits, go, probs, po, targets, to, statsA, sa + Losses.STAT_INV_VALID, 0, rows, V);
                res.crossEntropyBackward(dlogits2, ho, probs, po, targets, to, perRow, dOff, 2, rows, V);
                res.endStep();
                assertThat(res.residency().runs() - runs0).as("ops on resident arrays, step %d", step).isEqualTo(step == 0 ? 0 : 7);
                res.toHost(losses, probs, entropy, statsA, statsB, dlogits, dlogits2);
                res.toHost(argmax);

                String what = "resident step " + step + " rows=" + rows;
                float[] lc = losses0.clone(), pc = probs0.clone();
                cpu.crossEntropyForward(lc, so, pc, po, logits, lo, targets, to, rows, V);
                float[] lScale = abs(lc);
                for (int i = 0; i < lScale.length; i++) {
                    lScale[i] += 1f;
                }
                DeviceChecks.assertMatchesCpu("losses " + what, losses, lc, lScale, RTOL, so, rows);
                DeviceChecks.assertMatchesCpu("probs " + what, probs, pc, abs(pc), RTOL, po, rows * V);

                int[] ac = argmax0.clone();
                cpu.argmax(ac, ao, logits, lo, rows, V);
                assertThat(argmax).as("argmax " + what).isEqualTo(ac);

                float[] ec = entropy0.clone();
                cpu.entropy(ec, eo, logits, lo, rows, V);
                float[] eScale = entropyScale(logits, lo, rows, V, ec.length, eo);
                DeviceChecks.assertMatchesCpu("entropy " + what, entropy, ec, eScale, RTOL, eo, rows);

                // The statistics from the device's losses and argmax, as the device computed them.
                float[] sAc = statsA0.clone(), sBc = statsB0.clone();
                cpu.lossStats(sAc, sa, losses, so, argmax, ao, targets, to, rows);
                cpu.lossStats(sBc, sb, losses, so, null, 0, targets, to, rows);
                DeviceChecks.assertMatchesCpu("stats with argmax " + what, statsA, sAc, abs(sAc), 1e-6, sa, Losses.STATS);
                DeviceChecks.assertMatchesCpu("stats " + what, statsB, sBc, abs(sBc), 1e-6, sb, Losses.STATS);

                // The backward from the device's probs and its stride-0 scale in the device's statistics.
                float[][] dev = {dlogits, dlogits2}, before = {g0, h0}, dloss = {statsA, perRow};
                int[] off = {go, ho}, dlOff = {sa + Losses.STAT_INV_VALID, dOff}, stride = {0, 2};
                for (int c = 0; c < 2; c++) {
                    float[] gc = before[c].clone();
                    cpu.crossEntropyBackward(gc, off[c], probs, po, targets, to, dloss[c], dlOff[c], stride[c], rows, V);
                    float[] gScale = abs(before[c]);
                    for (int n = 0; n < rows; n++) {
                        float scale = Math.abs(dloss[c][dlOff[c] + n * stride[c]]);
                        for (int v = 0; v < V; v++) {
                            gScale[off[c] + n * V + v] += (Math.abs(probs[po + n * V + v]) + 1f) * scale;
                        }
                    }
                    DeviceChecks.assertMatchesCpu("dlogits stride " + stride[c] + " " + what, dev[c], gc, gScale, RTOL, off[c],
                            rows * V);
                }
            }
            assertThat(res.residency().rebuilds()).as("plans built").isEqualTo(1);
            DeviceChecks.assertRanOnDevice(res, LossGraphs.CE_FORWARD, LossGraphs.CE_BACKWARD, LossGraphs.ENTROPY,
                    LossGraphs.ARGMAX, LossGraphs.LOSS_STATS);
        } finally {
            System.out.println("TornadoLossesTest resident stats: " + res.stats());
            res.close();
        }
    }

    private static void reset(float[] a, float[] from) {
        System.arraycopy(from, 0, a, 0, a.length);
    }

    /** The entropy's error scale per row: log V plus the row's logit range (the entropy is at most log V). */
    static float[] entropyScale(float[] logits, int lo, int rows, int V, int length, int off) {
        float[] scale = new float[length];
        for (int n = 0; n < rows; n++) {
            float max = -Float.MAX_VALUE, min = Float.MAX_VALUE;
            for (int v = 0; v < V; v++) {
                max = Math.max(max, logits[lo + n * V + v]);
                min = Math.min(min, logits[lo + n * V + v]);
            }
            scale[off + n] = (float) Math.log(V) + max - min;
        }
        return scale;
    }
}
