package io.ionllama.backend.tornado;

import static io.ionllama.backend.tornado.DeviceChecks.abs;
import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.kernels.Matmul;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The matmul TaskGraphs on a TornadoVM device (PoCL's OpenCL CPU device here) against the CPU
 * backend, which runs the same units in Java.
 *
 * <p>Tolerance ({@link DeviceChecks}): each element is held to {@code |device - cpu| <= 1e-5 * scale},
 * where {@code scale} is the same op run on the CPU over the absolute values of its inputs (the
 * sum of |terms|); everything outside the written slice must be untouched (bit-equal).
 *
 * <p>Every test runs with {@code -Dtornado.recover.bailout=False} (the pom's argLine), so a task
 * TornadoVM cannot compile fails instead of quietly running as Java; {@link #ranOnTheDevice()}
 * also checks the device's own kernel timer for every op.
 */
class TornadoMatmulTest extends DeviceTest {

    static final double RTOL = 1e-5;

    static final String WHY = DeviceChecks.WHY;

    /** A random matmul problem; every tensor sits at its own non-zero offset inside a larger array. */
    record Problem(int rows, int in, int out, int xo, int wo, int bo, int yo, float[] x, float[] w, float[] b, float[] y0,
                   float[] dy, float[] dx0, float[] dw0, float[] db0) {
        static Problem random(long seed, int rows, int in, int out) {
            SplittableRandom r = new SplittableRandom(seed);
            int xo = r.nextInt(8), wo = r.nextInt(8), bo = r.nextInt(8), yo = r.nextInt(8);
            int pad = 5;
            return new Problem(rows, in, out, xo, wo, bo, yo,
                    Tensors.uniform(r, xo + rows * in + pad, -1, 1),
                    Tensors.uniform(r, wo + out * in + pad, -1, 1),
                    Tensors.uniform(r, bo + out + pad, -1, 1),
                    Tensors.uniform(r, yo + rows * out + pad, -1, 1),
                    Tensors.uniform(r, yo + rows * out + pad, -1, 1),
                    Tensors.uniform(r, xo + rows * in + pad, -1, 1),
                    Tensors.uniform(r, wo + out * in + pad, -1, 1),
                    Tensors.uniform(r, bo + out + pad, -1, 1));
        }

        static Problem random(long seed) {
            SplittableRandom r = new SplittableRandom(seed * 7919);
            return random(seed, 1 + r.nextInt(70), 1 + r.nextInt(96), 1 + r.nextInt(80));
        }
    }

    static void assertMatchesCpu(String what, float[] dev, float[] ref, float[] scale, int off, int len) {
        DeviceChecks.assertMatchesCpu(what, dev, ref, scale, RTOL, off, len);
    }

    static void checkForward(Problem p, boolean bias) {
        float[] b = bias ? p.b : null;
        float[] yd = p.y0.clone(), yc = p.y0.clone(), scale = p.y0.clone();
        device.matmulForward(yd, p.yo, p.x, p.xo, p.w, p.wo, b, p.bo, p.rows, p.in, p.out);
        cpu.matmulForward(yc, p.yo, p.x, p.xo, p.w, p.wo, b, p.bo, p.rows, p.in, p.out);
        cpu.matmulForward(scale, p.yo, abs(p.x), p.xo, abs(p.w), p.wo, bias ? abs(p.b) : null, p.bo, p.rows, p.in, p.out);
        assertMatchesCpu("y", yd, yc, scale, p.yo, p.rows * p.out);
    }

    static void checkBackwardInput(Problem p) {
        float[] dxd = p.dx0.clone(), dxc = p.dx0.clone(), scale = abs(p.dx0);
        device.matmulBackwardInput(dxd, p.xo, p.dy, p.yo, p.w, p.wo, p.rows, p.in, p.out);
        cpu.matmulBackwardInput(dxc, p.xo, p.dy, p.yo, p.w, p.wo, p.rows, p.in, p.out);
        cpu.matmulBackwardInput(scale, p.xo, abs(p.dy), p.yo, abs(p.w), p.wo, p.rows, p.in, p.out);
        assertMatchesCpu("dx", dxd, dxc, scale, p.xo, p.rows * p.in);
    }

    static void checkBackwardWeight(Problem p, boolean bias) {
        float[] dwd = p.dw0.clone(), dwc = p.dw0.clone(), dws = abs(p.dw0);
        float[] dbd = bias ? p.db0.clone() : null, dbc = bias ? p.db0.clone() : null, dbs = bias ? abs(p.db0) : null;
        device.matmulBackwardWeight(dwd, p.wo, dbd, p.bo, p.dy, p.yo, p.x, p.xo, p.rows, p.in, p.out);
        cpu.matmulBackwardWeight(dwc, p.wo, dbc, p.bo, p.dy, p.yo, p.x, p.xo, p.rows, p.in, p.out);
        cpu.matmulBackwardWeight(dws, p.wo, dbs, p.bo, abs(p.dy), p.yo, abs(p.x), p.xo, p.rows, p.in, p.out);
        assertMatchesCpu("dW", dwd, dwc, dws, p.wo, p.out * p.in);
        if (bias) {
            assertMatchesCpu("db", dbd, dbc, dbs, p.bo, p.out);
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void forwardMatchesCpu(long seed) {
        Problem p = Problem.random(seed);
        checkForward(p, true);
        checkForward(p, false);
    }

    @ParameterizedTest
    @ValueSource(longs = {4, 5, 6})
    void backwardInputAccumulatesLikeCpu(long seed) {
        checkBackwardInput(Problem.random(seed));
    }

    @ParameterizedTest
    @ValueSource(longs = {7, 8, 9})
    void backwardWeightAndBiasAccumulateLikeCpu(long seed) {
        Problem p = Problem.random(seed);
        checkBackwardWeight(p, true);
        checkBackwardWeight(p, false);
    }

    /**
     * docs/gpu.md, pitfall 3: the row count changes between executions of one compiled graph. Every op keeps
     * one graph for its (in, out) while the rows stay within its capacity, and gives the CPU's
     * answer for each count; only outgrowing the capacity builds a second graph.
     */
    @Test
    void rowCountChangesBetweenExecutionsOfOneGraph() {
        int in = 24, out = 40;
        String[] ops = {MatmulGraphs.FORWARD, MatmulGraphs.BACKWARD_INPUT, MatmulGraphs.BACKWARD_WEIGHT};
        long[] before = new long[ops.length];
        for (int k = 0; k < ops.length; k++) {
            before[k] = device.stats(ops[k]).graphsBuilt();
        }
        long seed = 100;
        for (int rows : new int[] {37, 5, 64, 1, 50, 37}) {
            Problem p = Problem.random(seed++, rows, in, out);
            checkForward(p, true);
            checkBackwardInput(p);
            checkBackwardWeight(p, true);
        }
        for (int k = 0; k < ops.length; k++) {
            assertThat(device.stats(ops[k]).graphsBuilt() - before[k]).as("graphs built for %s", ops[k]).isEqualTo(1);
        }
        Problem big = Problem.random(seed, 200, in, out);
        checkForward(big, true);
        checkBackwardInput(big);
        checkBackwardWeight(big, true);
        Problem small = Problem.random(seed + 1, 3, in, out);
        checkForward(small, true);
        checkBackwardInput(small);
        checkBackwardWeight(small, true);
        for (int k = 0; k < ops.length; k++) {
            assertThat(device.stats(ops[k]).graphsBuilt() - before[k]).as("graphs built for %s after growing", ops[k]).isEqualTo(2);
        }
    }

    /** Same inputs, same device: bit-identical results (no atomics, each output summed by one thread in order). */
    @Test
    void deviceResultsAreRepeatable() {
        Problem p = Problem.random(42, 33, 50, 20);
        float[] y1 = p.y0.clone(), y2 = p.y0.clone();
        device.matmulForward(y1, p.yo, p.x, p.xo, p.w, p.wo, p.b, p.bo, p.rows, p.in, p.out);
        device.matmulForward(y2, p.yo, p.x, p.xo, p.w, p.wo, p.b, p.bo, p.rows, p.in, p.out);
        assertThat(y2).isEqualTo(y1);
    }

    /**
     * The tiled local-memory kernel against the unit, for several work-group shapes (the
     * configurable worker grid) and sizes that are not multiples of the tile. One compiled graph
     * serves every tile: the tile is the grid's local size, set per execution.
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 4, 8, 16, 32})
    void tiledForwardMatchesTheUnit(int tile) {
        for (int[] shape : new int[][] {{37, 45, 29}, {5, 100, 70}, {64, 32, 16}}) {
            Problem p = Problem.random(tile * 31L + shape[0], shape[0], shape[1], shape[2]);
            float[] yd = p.y0.clone(), yu = p.y0.clone(), scale = p.y0.clone();
            device.matmulForwardTiled(yd, p.yo, p.x, p.xo, p.w, p.wo, p.b, p.bo, p.rows, p.in, p.out, tile);
            float[] ax = abs(p.x), aw = abs(p.w), ab = abs(p.b);
            for (int n = 0; n < p.rows; n++) {
                for (int o = 0; o < p.out; o++) {
                    Matmul.forwardCell(yu, p.yo, p.x, p.xo, p.w, p.wo, p.b, p.bo, 1, p.in, p.out, n, o);
                    Matmul.forwardCell(scale, p.yo, ax, p.xo, aw, p.wo, ab, p.bo, 1, p.in, p.out, n, o);
                }
            }
            assertMatchesCpu("y (tile " + tile + ")", yd, yu, scale, p.yo, p.rows * p.out);
        }
    }

    /**
     * The kernels really ran on the device: bailouts are fatal in this JVM, and the device's own
     * event timer measured every op's kernels.
     */
    @Test
    void ranOnTheDevice() {
        Problem p = Problem.random(77, 9, 12, 7);
        checkForward(p, true);
        checkBackwardInput(p);
        checkBackwardWeight(p, true);
        device.matmulForwardTiled(p.y0.clone(), p.yo, p.x, p.xo, p.w, p.wo, p.b, p.bo, p.rows, p.in, p.out, 4);
        DeviceChecks.assertRanOnDevice(device, MatmulGraphs.FORWARD, MatmulGraphs.BACKWARD_INPUT,
                MatmulGraphs.BACKWARD_WEIGHT, MatmulGraphs.FORWARD_TILED);
        assertThat(device.deviceName()).isNotBlank();
    }
}
