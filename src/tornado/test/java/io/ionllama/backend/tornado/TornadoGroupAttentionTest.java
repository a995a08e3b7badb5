package io.ionllama.backend.tornado;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * tokun's group attention ({@code kernels.GroupAttention}: non-causal attention inside groups of
 * G rows), forward and backward, on the TornadoVM device against the CPU backend, on random inputs
 * at non-zero offsets, the slices' borders bit-equal.
 *
 * <p>Tolerances, as {@link TornadoAttentionTest}'s ({@link DeviceChecks}), rtol 1e-5 of: out, the
 * largest |v| of the slice (each out row is a convex combination of v rows); att, 1
 * (probabilities); dq, dk, dv, {@link DeviceChecks#gradScale} (p (dp - D) cancels).
 */
class TornadoGroupAttentionTest extends DeviceTest {

    static final double RTOL = 1e-5;

    static void check(long seed, int groups, int G, int H, int hd) {
        SplittableRandom r = new SplittableRandom(seed);
        int C = H * hd, rows = groups * G, n = rows * C, na = groups * H * G * G;
        int off = 1 + r.nextInt(7), attOff = r.nextInt(9), pad = 5;
        float[] q = Tensors.gaussian(r, off + n + pad, 1), k = Tensors.gaussian(r, off + n + pad, 1);
        float[] v = Tensors.gaussian(r, off + n + pad, 1), out0 = Tensors.uniform(r, off + n + pad, -1, 1);
        float[] att0 = Tensors.uniform(r, attOff + na + pad, -1, 1);
        float[] od = out0.clone(), oc = out0.clone(), ad = att0.clone(), ac = att0.clone();
        device.attentionGroupForward(od, off, ad, attOff, q, off, k, off, v, off, groups, G, H, hd);
        cpu.attentionGroupForward(oc, off, ac, attOff, q, off, k, off, v, off, groups, G, H, hd);
        String what = "group attention groups=" + groups + " G=" + G + " H=" + H + " hd=" + hd;
        float[] ones = new float[ac.length];
        java.util.Arrays.fill(ones, 1f);
        DeviceChecks.assertMatchesCpu(what + " out", od, oc, DeviceChecks.maxScale(v, off, n), RTOL, off, n);
        DeviceChecks.assertMatchesCpu(what + " att", ad, ac, ones, RTOL, attOff, na);
        // The backward from the CPU's forward results, so both see the same inputs.
        float[] dout = Tensors.gaussian(r, off + n + pad, 1);
        float[] dq0 = Tensors.uniform(r, off + n + pad, -1, 1), dk0 = Tensors.uniform(r, off + n + pad, -1, 1);
        float[] dv0 = Tensors.uniform(r, off + n + pad, -1, 1);
        float[] dqd = dq0.clone(), dqc = dq0.clone(), dkd = dk0.clone(), dkc = dk0.clone(), dvd = dv0.clone(), dvc = dv0.clone();
        device.attentionGroupBackward(dqd, off, dkd, off, dvd, off, dout, off, q, off, k, off, v, off, oc, off, ac, attOff,
                groups, G, H, hd);
        cpu.attentionGroupBackward(dqc, off, dkc, off, dvc, off, dout, off, q, off, k, off, v, off, oc, off, ac, attOff,
                groups, G, H, hd);
        DeviceChecks.assertMatchesCpu(what + " dq", dqd, dqc, DeviceChecks.gradScale(dq0, dqc, off, n), RTOL, off, n);
        DeviceChecks.assertMatchesCpu(what + " dk", dkd, dkc, DeviceChecks.gradScale(dk0, dkc, off, n), RTOL, off, n);
        DeviceChecks.assertMatchesCpu(what + " dv", dvd, dvc, DeviceChecks.gradScale(dv0, dvc, off, n), RTOL, off, n);
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void groupAttentionMatchesCpu(long seed) {
        SplittableRandom r = new SplittableRandom(seed * 7919);
        check(seed, 1 + r.nextInt(12), 2 + r.nextInt(7), 1 + r.nextInt(3), 2 * (1 + r.nextInt(8)));
        DeviceChecks.assertRanOnDevice(device, AttentionGraphs.GROUP_FORWARD, AttentionGraphs.GROUP_BACKWARD);
    }

    /**
     * docs/gpu.md, pitfall 3: tokun's stages call it with a different number of groups (rows / G),
     * and its encoder and decoder with different G; one graph serves them.
     */
    @Test
    void groupCountAndSizeChangeBetweenExecutionsOfOneGraph() {
        String fwd = AttentionGraphs.GROUP_FORWARD, bwd = AttentionGraphs.GROUP_BACKWARD;
        long f0 = device.stats(fwd).graphsBuilt(), b0 = device.stats(bwd).graphsBuilt();
        long seed = 40;
        for (int[] gG : new int[][] {{16, 4}, {4, 4}, {1, 4}, {8, 2}, {3, 4}}) {
            check(seed++, gG[0], gG[1], 4, 4); // 4 heads: a shape the random cases never build
        }
        assertThat(device.stats(fwd).graphsBuilt() - f0).as("forward graphs").isEqualTo(1);
        assertThat(device.stats(bwd).graphsBuilt() - b0).as("backward graphs").isEqualTo(1);
    }
}
