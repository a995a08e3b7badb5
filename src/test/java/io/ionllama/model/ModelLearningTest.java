package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.train.AdamW;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** End-to-end learning: the model overfits a small English text. */
class ModelLearningTest {

    static final String TEXT = """
            Once upon a time, in a small village by the sea, there lived a girl named Mia. Every morning she walked \
            to the harbour to watch the fishing boats come home. Her grandfather had been a fisherman, and he told \
            her stories about storms and stars and the strange fish that lived in the deep water. One day a little \
            boat came in with a torn sail. The old sailor on board was tired and hungry. Mia ran home and brought \
            him bread, cheese and a warm cup of tea. The sailor smiled and gave her a shell that sang when she held \
            it to her ear. From that day on, Mia listened to the shell every night, and she dreamed of the sea.
            """;

    static int[] text4k() {
        byte[] b = TEXT.repeat(8).getBytes(StandardCharsets.UTF_8);
        int[] x = new int[4096];
        for (int i = 0; i < x.length; i++) {
            x[i] = b[i % b.length] & 0xFF;
        }
        return x;
    }

    @Test
    void nanoOverfitsFourKilobytesOfEnglish() {
        int[] data = text4k();
        ModelConfig c = ModelConfig.of("nano");
        try (CpuBackend cpu = new CpuBackend(2)) {
            IonLlama m = new IonLlama(c, cpu, Patcher.parse("entropy", c.maxPatch(), c.targetPatch()), false);
            m.init(1);
            AdamW opt = AdamW.defaults(m.layout.total(), 0f);
            int B = 4, T = 128;
            int[] x = new int[B * T], y = new int[B * T];
            SplittableRandom r = new SplittableRandom(3);
            float last = Float.NaN;
            int steps = 300;
            for (int step = 0; step < steps; step++) {
                for (int b = 0; b < B; b++) {
                    int s = r.nextInt(data.length - T - 1);
                    System.arraycopy(data, s, x, b * T, T);
                    System.arraycopy(data, s + 1, y, b * T, T);
                }
                m.setWarmupFixed(step < 50 ? 4 : 0);
                Arrays.fill(m.grads, 0f);
                IonLlama.Output o = m.forward(x, y, B, T);
                m.backward(1f);
                if (step >= 40) {
                    m.patcher.calibrate(m.lastEntropies(), B, T, o.patches(), o.bytes());
                }
                double norm = AdamW.gradNorm(cpu, m.layout, m.grads);
                float lr = 3e-3f * Math.min(1f, (step + 1) / 20f) * (float) (0.5 * (1 + Math.cos(Math.PI * step / steps)) * 0.9 + 0.1);
                opt.update(cpu, m.layout.tensors(), m.params, m.grads, lr, AdamW.clipScale(norm, 1f));
                last = o.loss();
                if (step % 25 == 0) {
                    System.out.printf("step %d loss %.3f bpb %.3f ent %.3f bytes/patch %.2f theta %.3f%n", step, o.loss(), o.bpb(),
                            o.entropyLoss(), o.bytesPerPatch(), m.patcher.theta);
                }
            }
            System.out.printf("final loss %.3f bpb %.3f%n", last, last / Math.log(2));
            assertThat(last / Math.log(2)).isLessThan(0.3);
        }
    }
}
