package io.ionllama.backend.tornado;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The ops only the context-vector RNN ({@code --model rnn}) calls, on the TornadoVM device against
 * the CPU backend: the fused gates ({@code kernels.RnnCell}), LayerNorm and GELU, forward and
 * backward, on random inputs at non-zero offsets, every slice's borders bit-equal.
 *
 * <p>Tolerances ({@link DeviceChecks}), rtol 1e-5 of:
 * <ul>
 *   <li>gates p = f c + i g: |c| + 1 (f, i, g are in [-1, 1]; exp and tanh may differ from Java's
 *       by a few ulp on the device);</li>
 *   <li>LayerNorm out: the largest |out| of the slice (xhat w + b, xhat from two sums over the row);
 *       mean: the largest |x|; rstd: |rstd|;</li>
 *   <li>GELU: |x| (gelu(x) lies between 0 and x, up to -0.17);</li>
 *   <li>every accumulated gradient (gates' dz and dc, LayerNorm's dx, dw, db, GELU's dx):
 *       {@link DeviceChecks#gradScale}, |initial value| + the largest increment the CPU added.</li>
 * </ul>
 * Row counts change between executions of one graph (one time step is B rows in training, one
 * row in generation).
 */
class TornadoRnnOpsTest extends DeviceTest {

    static final double RTOL = 1e-5;
    static final float EPS = 1e-5f;

    // ---------------------------------------------------------------- gates

    static void checkGates(long seed, int rows, int C) {
        SplittableRandom r = new SplittableRandom(seed);
        int po = 1 + r.nextInt(7), zo = r.nextInt(9), co = 1 + r.nextInt(5), pad = 4;
        // z spans saturated and linear gates; c is a LayerNorm output, O(1).
        float[] z = Tensors.gaussian(r, zo + rows * 3 * C + pad, 3), c = Tensors.gaussian(r, co + rows * C + pad, 1);
        float[] p0 = Tensors.uniform(r, po + rows * C + pad, -1, 1);
        float[] pd = p0.clone(), pc = p0.clone();
        device.rnnGatesForward(pd, po, z, zo, c, co, rows, C);
        cpu.rnnGatesForward(pc, po, z, zo, c, co, rows, C);
        String what = "gates rows=" + rows + " C=" + C;
        float[] pScale = new float[p0.length];
        for (int n = 0; n < rows * C; n++) {
            pScale[po + n] = Math.abs(c[co + n]) + 1f;
        }
        DeviceChecks.assertMatchesCpu(what + " p", pd, pc, pScale, RTOL, po, rows * C);

        float[] dp = Tensors.gaussian(r, po + rows * C + pad, 1);
        float[] dz0 = Tensors.uniform(r, zo + rows * 3 * C + pad, -1, 1), dc0 = Tensors.uniform(r, co + rows * C + pad, -1, 1);
        for (boolean withDc : new boolean[] {true, false}) {
            float[] dzd = dz0.clone(), dzc = dz0.clone(), dcd = dc0.clone(), dcc = dc0.clone();
            device.rnnGatesBackward(dzd, zo, withDc ? dcd : null, co, dp, po, z, zo, c, co, rows, C);
            cpu.rnnGatesBackward(dzc, zo, withDc ? dcc : null, co, dp, po, z, zo, c, co, rows, C);
            String w = what + (withDc ? "" : " (no dc)");
            DeviceChecks.assertMatchesCpu(w + " dz", dzd, dzc, DeviceChecks.gradScale(dz0, dzc, zo, rows * 3 * C), RTOL, zo, rows * 3 * C);
            DeviceChecks.assertMatchesCpu(w + " dc", dcd, dcc, DeviceChecks.gradScale(dc0, dcc, co, rows * C), RTOL, co, rows * C);
            if (!withDc) {
                assertThat(dcd).as("dc untouched without dc").isEqualTo(dc0);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void gatesMatchCpu(long seed) {
        SplittableRandom r = new SplittableRandom(seed * 31);
        checkGates(seed, 1 + r.nextInt(20), 1 + r.nextInt(40));
    }

    /** docs/gpu.md, pitfall 3: a training step's B rows and generation's one row through one graph. */
    @Test
    void rowCountChangesBetweenExecutionsOfOneGraph() {
        long f0 = device.stats(RnnGraphs.GATES_FORWARD).graphsBuilt(), b0 = device.stats(RnnGraphs.GATES_BACKWARD).graphsBuilt();
        long seed = 20;
        for (int rows : new int[] {8, 1, 37, 3, 8}) {
            checkGates(seed++, rows, 41); // C = 41: a shape the random cases never build
        }
        assertThat(device.stats(RnnGraphs.GATES_FORWARD).graphsBuilt() - f0).as("forward graphs").isEqualTo(1);
        // One graph with dc and one without, each serving every row count.
        assertThat(device.stats(RnnGraphs.GATES_BACKWARD).graphsBuilt() - b0).as("backward graphs").isEqualTo(2);
        DeviceChecks.assertRanOnDevice(device, RnnGraphs.GATES_FORWARD, RnnGraphs.GATES_BACKWARD);
    }

    // ---------------------------------------------------------------- LayerNorm

    /**
     * {@code biasInWeights}: weight and bias in one array (the model's parameters), and their
     * gradients in one array, as the RNN calls it; else separate arrays, or no bias at all.
     */
    static void checkLayerNorm(long seed, int rows, int C, String bias) {
        SplittableRandom r = new SplittableRandom(seed);
        int xo = r.nextInt(8), oo = r.nextInt(8), so = r.nextInt(8), wo = 1 + r.nextInt(6), pad = 3;
        boolean none = bias.equals("none"), shared = bias.equals("inWeights");
        // x with a mean far from 0 as a context vector's may have: the two-pass variance matters.
        float[] x = Tensors.gaussian(r, xo + rows * C + pad, 1.5);
        for (int i = 0; i < x.length; i++) {
            x[i] += 3f;
        }
        float[] w = Tensors.uniform(r, wo + 2 * C + pad, 0.5, 1.5);
        float[] b = shared ? w : Tensors.uniform(r, wo + 2 * C + pad, -0.5, 0.5);
        int bo = wo + C;
        float[] out0 = Tensors.uniform(r, oo + rows * C + pad, -1, 1), stat0 = Tensors.uniform(r, so + rows + pad, -1, 1);
        float[] od = out0.clone(), oc = out0.clone(), md = stat0.clone(), mc = stat0.clone(), rd = stat0.clone(), rc = stat0.clone();
        device.layerNormForward(od, oo, md, so, rd, so, x, xo, w, wo, none ? null : b, bo, rows, C, EPS);
        cpu.layerNormForward(oc, oo, mc, so, rc, so, x, xo, w, wo, none ? null : b, bo, rows, C, EPS);
        String what = "layerNorm (" + bias + ") rows=" + rows + " C=" + C;
        DeviceChecks.assertMatchesCpu(what + " out", od, oc, DeviceChecks.maxScale(oc, oo, rows * C), RTOL, oo, rows * C);
        DeviceChecks.assertMatchesCpu(what + " mean", md, mc, DeviceChecks.maxScale(x, xo, rows * C), RTOL, so, rows);
        DeviceChecks.assertMatchesCpu(what + " rstd", rd, rc, DeviceChecks.abs(rc), RTOL, so, rows);

        float[] dy = Tensors.gaussian(r, oo + rows * C + pad, 1), dx0 = Tensors.uniform(r, xo + rows * C + pad, -1, 1);
        float[] g0 = Tensors.uniform(r, wo + 2 * C + pad, -1, 1), gb0 = shared ? g0 : Tensors.uniform(r, wo + 2 * C + pad, -1, 1);
        float[] dxd = dx0.clone(), dxc = dx0.clone(), gd = g0.clone(), gc = g0.clone();
        float[] gbd = shared ? gd : gb0.clone(), gbc = shared ? gc : gb0.clone();
        device.layerNormBackward(dxd, xo, gd, wo, none ? null : gbd, bo, dy, oo, x, xo, w, wo, mc, so, rc, so, rows, C);
        cpu.layerNormBackward(dxc, xo, gc, wo, none ? null : gbc, bo, dy, oo, x, xo, w, wo, mc, so, rc, so, rows, C);
        DeviceChecks.assertMatchesCpu(what + " dx", dxd, dxc, DeviceChecks.gradScale(dx0, dxc, xo, rows * C), RTOL, xo, rows * C);
        if (shared) {
            DeviceChecks.assertMatchesCpu(what + " dw, db", gd, gc, DeviceChecks.gradScale(g0, gc, wo, 2 * C), RTOL, wo, 2 * C);
        } else {
            DeviceChecks.assertMatchesCpu(what + " dw", gd, gc, DeviceChecks.gradScale(g0, gc, wo, C), RTOL, wo, C);
            if (!none) {
                DeviceChecks.assertMatchesCpu(what + " db", gbd, gbc, DeviceChecks.gradScale(gb0, gbc, bo, C), RTOL, bo, C);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"inWeights", "separate", "none"})
    void layerNormMatchesCpu(String bias) {
        long seed = bias.length();
        checkLayerNorm(seed, 8, 24, bias);
        checkLayerNorm(seed + 1, 1, 24, bias);
        checkLayerNorm(seed + 2, 45, 24, bias);
        DeviceChecks.assertRanOnDevice(device, LayerNormGraphs.FORWARD, LayerNormGraphs.BACKWARD);
    }

    // ---------------------------------------------------------------- GELU

    @ParameterizedTest
    @ValueSource(ints = {1, 40, 1000})
    void geluMatchesCpu(int n) {
        SplittableRandom r = new SplittableRandom(n);
        int xo = 1 + r.nextInt(7), oo = r.nextInt(7), pad = 5;
        float[] x = Tensors.gaussian(r, xo + n + pad, 3), out0 = Tensors.uniform(r, oo + n + pad, -1, 1);
        float[] od = out0.clone(), oc = out0.clone();
        device.geluForward(od, oo, x, xo, n);
        cpu.geluForward(oc, oo, x, xo, n);
        float[] scale = new float[out0.length];
        for (int i = 0; i < n; i++) {
            scale[oo + i] = Math.abs(x[xo + i]);
        }
        DeviceChecks.assertMatchesCpu("gelu n=" + n, od, oc, scale, RTOL, oo, n);
        float[] dy = Tensors.gaussian(r, oo + n + pad, 1), dx0 = Tensors.uniform(r, xo + n + pad, -1, 1);
        float[] dxd = dx0.clone(), dxc = dx0.clone();
        device.geluBackward(dxd, xo, dy, oo, x, xo, n);
        cpu.geluBackward(dxc, xo, dy, oo, x, xo, n);
        DeviceChecks.assertMatchesCpu("gelu backward n=" + n, dxd, dxc, DeviceChecks.gradScale(dx0, dxc, xo, n), RTOL, xo, n);
        DeviceChecks.assertRanOnDevice(device, GlueGraphs.GELU_FORWARD, GlueGraphs.GELU_BACKWARD);
    }
}
