package io.ionllama.backend.tornado;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A whole model step (forward and backward) through the TornadoVM backend against the CPU
 * backend: the device ops called by the real model, at its shapes and offsets into the one
 * parameter array, with row counts that differ from layer to layer.
 *
 * <p>Patch boundaries are fixed (the "fixed:3" patcher) so that rounding cannot move them. The
 * step chains dozens of ops whose device versions round differently (fma, chunked scan), so the
 * tolerance is per tensor: loss within 1e-5 relative, and every gradient entry within
 * {@code 2e-5 * max|grad of its tensor|} (about 1e-6 seen on PoCL).
 */
class TornadoModelTest extends DeviceTest {

    static ModelConfig small() {
        return new ModelConfig("nano", 16, 16, 2, 2, 1, 1, 8, 1, new int[] {3, 4}, 13, 24, 24, 2, 6, 3f).validate();
    }

    static IonLlama model(io.ionllama.backend.Backend be) {
        ModelConfig c = small();
        IonLlama m = new IonLlama(c, be, Patcher.parse("fixed:3", c.maxPatch(), c.targetPatch()), false);
        m.init(7);
        return m;
    }

    static int[][] batch(int B, int T, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        String text = "the cat sat on the mat. 12 + 34 = 46. spell dog: d-o-g. ";
        int[] x = new int[B * T], y = new int[B * T];
        for (int b = 0; b < B; b++) {
            int off = r.nextInt(text.length());
            for (int t = 0; t < T; t++) {
                x[b * T + t] = text.charAt((off + t) % text.length());
                y[b * T + t] = text.charAt((off + t + 1) % text.length());
            }
        }
        return new int[][] {x, y};
    }

    @Test
    void aModelStepOnTheDeviceMatchesTheCpu() {
        IonLlama onDevice = model(device), onCpu = model(cpu);
        // Two batch shapes in a row: the graphs built for the first serve the second.
        for (int[] bt : new int[][] {{2, 24}, {3, 17}}) {
            int[][] xy = batch(bt[0], bt[1], 11 + bt[1]);
            java.util.Arrays.fill(onDevice.grads, 0f);
            java.util.Arrays.fill(onCpu.grads, 0f);
            IonLlama.Output od = onDevice.forward(xy[0], xy[1], bt[0], bt[1]);
            IonLlama.Output oc = onCpu.forward(xy[0], xy[1], bt[0], bt[1]);
            assertThat((double) od.loss()).as("loss at B=%d T=%d", bt[0], bt[1])
                    .isCloseTo(oc.loss(), org.assertj.core.data.Offset.offset(1e-5 * Math.abs(oc.loss())));
            onDevice.backward(1f);
            onCpu.backward(1f);
            DeviceChecks.GradientCheck check = DeviceChecks.gradients(onCpu.layout, onDevice.grads, onCpu.grads, 2e-5);
            System.out.printf("TornadoModelTest B=%d T=%d: loss device %.8f cpu %.8f; worst |dgrad| / max|grad| %.2e%n",
                    bt[0], bt[1], od.loss(), oc.loss(), check.worst());
            assertThat(check.failures()).as("B=%d T=%d", bt[0], bt[1]).isEmpty();
        }
        DeviceChecks.assertRanOnDevice(device, MatmulGraphs.FORWARD, MatmulGraphs.BACKWARD_INPUT,
                MatmulGraphs.BACKWARD_WEIGHT, NormGraphs.RMS_FORWARD, NormGraphs.RMS_BACKWARD, ScanGraphs.FORWARD,
                ScanGraphs.BACKWARD, AttentionGraphs.DILATED_FORWARD, AttentionGraphs.DILATED_BACKWARD,
                AttentionGraphs.ROPE_FORWARD, AttentionGraphs.ROPE_BACKWARD, GlueGraphs.COPY, GlueGraphs.ACCUMULATE,
                GlueGraphs.FILL, GlueGraphs.SWIGLU_FORWARD, GlueGraphs.SWIGLU_BACKWARD, ScanGraphs.GATE_FORWARD,
                ScanGraphs.GATE_BACKWARD, EmbeddingGraphs.BYTE_FORWARD, EmbeddingGraphs.BYTE_BACKWARD,
                EmbeddingGraphs.NGRAM_INDEX, EmbeddingGraphs.NGRAM_FORWARD, EmbeddingGraphs.NGRAM_BACKWARD,
                LossGraphs.CE_FORWARD, LossGraphs.CE_BACKWARD, LossGraphs.ARGMAX, LossGraphs.LOSS_STATS);
    }
}
