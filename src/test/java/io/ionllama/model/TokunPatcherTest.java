package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ionllama.testing.CpuBackendTest;
import io.ionllama.testing.TokunPatched;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@code --patcher tokun:PATH}: patches are the tokun's chunks, the model is strictly causal bit
 * for bit (a chunk's latent reaches no byte before the chunk's last), the tokun's weights matter
 * from the first chunk's end on, and incremental decoding equals the full pass (StreamingDecoderTest's
 * 1e-4: one-row versus many-row matmuls, in the tokun too).
 */
class TokunPatcherTest extends CpuBackendTest {

    @Test
    void patchesAreTheTokunsChunks() {
        IonLlama m = TokunPatched.model(cpu, 1);
        int B = 2, T = 23; // 5 whole chunks and 3 bytes of an open one per sequence
        int[] x = TokunPatched.text(B * T, 1), y = new int[B * T];
        IonLlama.Output o = m.forward(x, y, B, T);
        assertThat(o.patches()).isEqualTo(2 * 5);
        int[] ends = m.lastBoundaries();
        for (int i = 0; i < B * T; i++) {
            assertThat(ends[i] != 0).as("boundary at %d", i).isEqualTo((i % T + 1) % 4 == 0);
        }
        assertThat(m.patcher.spec()).isEqualTo("tokun:tokun-test.safetensors");
        assertThat(m.layout.tensors().stream().map(ParamLayout.Tensor::name)).contains(Architecture.TOKUN_PROJ).doesNotContain("enc.proj");
    }

    @Test
    void perturbingByteSChangesNothingBeforeS() {
        IonLlama m = TokunPatched.model(cpu, 2);
        SplittableRandom r = new SplittableRandom(2);
        int B = 2, T = 50;
        int[] x = TokunPatched.text(B * T, 2), y = new int[B * T];
        for (int i = 0; i < y.length; i++) {
            y[i] = r.nextInt(256);
        }
        m.forward(x, y, B, T);
        float[] before = m.logits().clone();
        for (int trial = 0; trial < 6; trial++) {
            int b = r.nextInt(B), s = 1 + r.nextInt(T - 1);
            int[] x2 = x.clone();
            x2[b * T + s] = (x2[b * T + s] + 1 + r.nextInt(250)) % 256;
            m.forward(x2, y, B, T);
            float[] after = m.logits();
            for (int t = 0; t < s; t++) {
                int i = b * T + t;
                assertThat(Arrays.copyOfRange(after, i * 256, i * 256 + 256)).as("logits at %d after changing byte %d", t, s)
                        .isEqualTo(Arrays.copyOfRange(before, i * 256, i * 256 + 256));
            }
            int i = b * T + s;
            assertThat(Arrays.copyOfRange(after, i * 256, i * 256 + 256)).as("the change reaches byte %d itself", s)
                    .isNotEqualTo(Arrays.copyOfRange(before, i * 256, i * 256 + 256));
        }
    }

    /** Other tokun weights change no logit before the first chunk's last byte (3), and change the ones from there on. */
    @Test
    void theTokunReachesBytesFromItsFirstChunksEndOn() {
        IonLlama m = TokunPatched.model(cpu, 3);
        int T = 20;
        int[] x = TokunPatched.text(T, 3), y = new int[T];
        m.forward(x, y, 1, T);
        float[] before = m.logits().clone();
        m.patchEncoder.init(77);
        m.forward(x, y, 1, T);
        float[] after = m.logits();
        assertThat(Arrays.copyOfRange(after, 0, 3 * 256)).isEqualTo(Arrays.copyOfRange(before, 0, 3 * 256));
        for (int t = 3; t < T; t++) {
            assertThat(Arrays.copyOfRange(after, t * 256, t * 256 + 256)).as("logits at %d", t)
                    .isNotEqualTo(Arrays.copyOfRange(before, t * 256, t * 256 + 256));
        }
    }

    @Test
    void incrementalLogitsEqualTheFullPass() {
        IonLlama m = TokunPatched.model(cpu, 4);
        int T = 70;
        int[] x = TokunPatched.text(T, 4), y = new int[T];
        Arrays.fill(y, -1);
        m.forward(x, y, 1, T);
        float[] full = m.logits().clone();
        int[] ends = m.lastBoundaries();
        StreamingDecoder dec = new StreamingDecoder(m);
        for (int t = 0; t < T; t++) {
            float[] logits = dec.feed(x[t]);
            assertThat(dec.lastClosedPatch()).as("boundary at %d", t).isEqualTo(ends[t] != 0);
            assertThat(maxDiff(logits, 0, full, t * 256)).as("logits at %d", t).isLessThan(1e-4);
        }
        assertThat(dec.patches()).isEqualTo(T / 4);

        // Priming with one forward pass (prompt ending inside a chunk), then feeding, matches too.
        for (int P : new int[] {9, 12}) {
            StreamingDecoder primed = new StreamingDecoder(m);
            float[] logits = primed.prime(x, 0, P);
            assertThat(maxDiff(logits, 0, full, (P - 1) * 256)).as("after priming %d", P).isLessThan(1e-4);
            for (int t = P; t < T; t++) {
                logits = primed.feed(x[t]);
                assertThat(maxDiff(logits, 0, full, t * 256)).as("logits at %d after priming %d", t, P).isLessThan(1e-4);
            }
        }
    }

    @Test
    void aTokunPatcherNeedsItsTokunAndAChunkTheCapAllows() {
        ModelConfig c = TokunPatched.config();
        Tokun t = TokunPatched.tokun(cpu, 5);
        assertThatThrownBy(() -> new IonLlama(c, cpu, Patcher.parse("fixed:4", c.maxPatch(), c.targetPatch()), false, t))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new IonLlama(c, cpu, Patcher.tokun("x", 4, c.maxPatch(), c.targetPatch()), false))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Patcher.tokun("x", 16, 6, 3f)).hasMessageContaining("chunk (16 bytes) must fit in max-patch (6)");
        assertThatThrownBy(() -> Patcher.parse("tokun:x", 16, 4f)).hasMessageContaining("ionllama train");
        assertThatThrownBy(() -> Patcher.tokunPath("tokun: ")).hasMessageContaining("needs the path");
    }

    private static double maxDiff(float[] a, int aOff, float[] b, int bOff) {
        double w = 0;
        for (int v = 0; v < 256; v++) {
            w = Math.max(w, Math.abs(a[aOff + v] - b[bOff + v]));
        }
        return w;
    }
}
