package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ionllama.data.ByteSource;
import io.ionllama.data.EmbeddedCorpus;
import io.ionllama.testing.CpuBackendTest;
import io.ionllama.train.TokunBatches;
import io.ionllama.train.TrainConfig;
import io.ionllama.train.Trainer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * tokun as a model: it learns to reconstruct a short text exactly, pads are left out of the score,
 * a change in one chunk leaves every other chunk's reconstruction bit for bit (chunks are
 * independent), and it refuses what it is not (a device backend, generation, a ragged input).
 */
class TokunTest extends CpuBackendTest {

    /**
     * Steps of 8 chunks (16 bytes at random offsets) for a 64-wide 4x4 tokun to reconstruct 1 KiB
     * exactly. 1600 steps reached 100% with a minimum rate of 0.01f / 10 and 99.9% with 1e-3f (one
     * ulp apart: training is bit-reproducible, but small changes move where it lands), so 2400
     * leave a margin: 100%, loss 0.0015, 21 s on a loaded 2-core machine.
     */
    static final int STEPS = 2400;

    /** A KiB of the embedded corpus: what the nano model must reconstruct exactly. */
    static byte[] text() {
        return EmbeddedCorpus.generate(EmbeddedCorpus.TRAIN_SEED, 1024);
    }

    static Tokun trained(byte[] text, int steps) {
        TokunConfig c = new TokunConfig(new int[] {4, 4}, 64, 2, 128).validate();
        Tokun m = new Tokun(c, cpu);
        m.init(1);
        TrainConfig cfg = new TrainConfig(8, TokunBatches.seqLen(16), 1, 1e-2f, 1e-3f, 20, steps, "adamw", 0.0f, 1.0f, 5, 0)
                .validate();
        Trainer tr = new Trainer(m, ByteSource.of(text), cfg).batches(new TokunBatches(ByteSource.of(text), 5, 16));
        for (int s = 0; s < steps; s++) {
            tr.step();
        }
        return m;
    }

    @Test
    void aNanoTokunReconstructsTheTextItTrainedOnExactly() {
        byte[] text = text();
        long t0 = System.nanoTime();
        Tokun m = trained(text, STEPS);
        int[][] xy = Tokun.padded(text, 0, text.length, m.chunk());
        Tokun.Output o = m.forward(xy[0], xy[1], 1, xy[0].length);
        System.out.printf("tokun nano: %d steps in %.1f s, byte accuracy %.4f, chunk accuracy %.4f, loss %.4f%n", STEPS,
                (System.nanoTime() - t0) / 1e9, o.byteAccuracy(), o.chunkAccuracy(), o.loss());
        assertThat(o.bytes()).isEqualTo(text.length);
        assertThat(o.byteAccuracy()).isEqualTo(1.0);
        assertThat(o.chunkAccuracy()).isEqualTo(1.0);
    }

    @Test
    void padsAreNotScoredAndChunksAreIndependent() {
        Tokun m = new Tokun(new TokunConfig(new int[] {2, 4}, 8, 2, 8).validate(), cpu);
        m.init(3);
        byte[] a = "abcdefgh12345678xyz".getBytes(StandardCharsets.US_ASCII);
        int[][] xy = Tokun.padded(a, 0, a.length, 8);
        assertThat(xy[0]).hasSize(24);
        assertThat(xy[0][19]).isEqualTo(Tokun.PAD);
        assertThat(xy[1][19]).isEqualTo(-1);
        Tokun.Output o = m.forward(xy[0], xy[1], 1, 24);
        assertThat(o.bytes()).isEqualTo(19);
        assertThat(o.pads()).isEqualTo(5);
        assertThat(o.chunks()).isEqualTo(3);
        float[] base = m.logits().clone();
        xy[0][9] = 'Q'; // chunk 1
        m.forward(xy[0], xy[1], 1, 24);
        float[] changed = m.logits();
        for (int t = 0; t < 24; t++) {
            boolean same = java.util.Arrays.equals(java.util.Arrays.copyOfRange(base, t * 256, t * 256 + 256),
                    java.util.Arrays.copyOfRange(changed, t * 256, t * 256 + 256));
            assertThat(same).as("position %d", t).isEqualTo(t < 8 || t >= 16);
        }
    }

    @Test
    void refusesWhatItIsNot() {
        TokunConfig c = new TokunConfig(new int[] {4, 4}, 8, 2, 8).validate();
        Tokun m = new Tokun(c, cpu);
        assertThatThrownBy(() -> m.decoder(64)).hasMessageContaining("cannot generate");
        assertThatThrownBy(() -> m.forward(new int[20], new int[20], 1, 20)).hasMessageContaining("16-byte chunks");
        assertThatThrownBy(() -> new TokunConfig(new int[] {4, 1}, 8, 2, 8).validate()).hasMessageContaining("2..64");
        assertThatThrownBy(() -> TokunConfig.parseGroups("4,x")).hasMessageContaining("comma-separated");
    }
}
