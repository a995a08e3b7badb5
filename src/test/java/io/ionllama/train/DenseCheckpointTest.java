package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ionllama.model.ByteModel;
import io.ionllama.model.DenseConfig;
import io.ionllama.model.DenseGpt;
import io.ionllama.model.IonLlama;
import io.ionllama.testing.CpuBackendTest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Dense checkpoints: the architecture and its dimensions in the metadata, a round trip, the
 * one-line refusal of a checkpoint of the other architecture, and an exact resume (2N steps
 * straight equal N, save, load into fresh objects, N more, bit for bit), Muon with its own AdamW
 * rate included.
 */
class DenseCheckpointTest extends CpuBackendTest {

    @TempDir
    Path dir;

    static DenseConfig config() {
        return new DenseConfig(16, 2, 2, 24, 64).validate();
    }

    static DenseGpt model(long seed) {
        DenseGpt m = new DenseGpt(config(), cpu);
        m.init(seed);
        return m;
    }

    static TrainConfig train(String optimizer) {
        return new TrainConfig(2, 48, 2, 1e-2f, 1e-3f, 2, 8, optimizer, 0.1f, 1.0f, 42, 0, 1e-3f);
    }

    @org.junit.jupiter.api.Test
    void roundTripRecordsTheArchitecture() throws IOException {
        DenseGpt m = model(5);
        Path ckpt = dir.resolve("m.safetensors");
        Checkpoint.save(ckpt, m, null, 0, Double.NaN, null);
        Checkpoint.Meta meta = Checkpoint.readMeta(ckpt);
        assertThat(meta.model()).isEqualTo("dense");
        assertThat(meta.denseConfig()).isEqualTo(config());
        assertThat(meta.raw()).containsEntry("model.context", "64").containsEntry("model.mlp", "24");
        ByteModel back = Checkpoint.loadAny(ckpt, cpu);
        assertThat(back).isInstanceOf(DenseGpt.class);
        assertThat(back.params()).isEqualTo(m.params);
        assertThat(back.maxContext()).isEqualTo(64);
    }

    @org.junit.jupiter.api.Test
    void aCheckpointOfTheOtherArchitectureIsRefusedInOneLine() throws IOException {
        Path dense = dir.resolve("dense.safetensors");
        Checkpoint.save(dense, model(5), null, 0, Double.NaN, null);
        assertThatThrownBy(() -> Checkpoint.loadModel(dense, cpu)).isInstanceOf(Checkpoint.CheckpointException.class)
                .hasMessageContaining("is a checkpoint of the dense model, not of ionllama").hasMessageContaining("--model dense")
                .hasMessageNotContaining("\n");
        IonLlama ion = ResumeTest.model();
        assertThatThrownBy(() -> Checkpoint.load(dense, ion, null)).isInstanceOf(Checkpoint.CheckpointException.class)
                .hasMessageContaining("is a checkpoint of the dense model, not of ionllama");

        Path ionFile = dir.resolve("ion.safetensors");
        Checkpoint.save(ionFile, ion, null, 0, Double.NaN, null);
        assertThat(Checkpoint.readMeta(ionFile).model()).isEqualTo("ionllama");
        assertThatThrownBy(() -> Checkpoint.load(ionFile, model(1), null)).isInstanceOf(Checkpoint.CheckpointException.class)
                .hasMessageContaining("is a checkpoint of the ionllama model, not of dense").hasMessageNotContaining("\n");
        assertThat(Checkpoint.loadAny(ionFile, cpu)).isInstanceOf(IonLlama.class);

        DenseGpt other = new DenseGpt(new DenseConfig(16, 1, 2, 24, 64), cpu);
        assertThatThrownBy(() -> Checkpoint.load(dense, other, null)).hasMessageContaining("different model")
                .hasMessageContaining("2 layers").hasMessageContaining("1 layers");
    }

    @ParameterizedTest
    @ValueSource(strings = {"adamw", "muon"})
    void resumedRunEqualsStraightRun(String optimizer) throws IOException {
        int n = 3;
        DenseGpt straight = model(5);
        Trainer ts = new Trainer(straight, ResumeTest.data, train(optimizer));
        List<Double> lossesStraight = new ArrayList<>();
        for (int i = 0; i < 2 * n; i++) {
            lossesStraight.add(ts.step().loss());
        }

        DenseGpt first = model(5);
        Trainer t1 = new Trainer(first, ResumeTest.data, train(optimizer));
        List<Double> lossesResumed = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            lossesResumed.add(t1.step().loss());
        }
        Path ckpt = dir.resolve("latest.safetensors");
        Checkpoint.save(ckpt, first, t1, 0, Double.NaN, null);
        assertThat(Checkpoint.readMeta(ckpt).raw()).containsEntry("train.adamw_lr", "0.001");

        DenseGpt second = model(999); // different weights: everything must come from the file
        Trainer t2 = new Trainer(second, ResumeTest.data, train(optimizer));
        Checkpoint.load(ckpt, second, t2);
        assertThat(t2.step).isEqualTo(n);
        for (int i = 0; i < n; i++) {
            lossesResumed.add(t2.step().loss());
        }
        assertThat(lossesResumed).isEqualTo(lossesStraight);
        assertThat(second.params).isEqualTo(straight.params);
    }

    /** Under Muon, --adamw-lr moves only what AdamW owns (embedding, norms, head); the hidden matrices follow Muon's rate. */
    @org.junit.jupiter.api.Test
    void adamwRateAppliesToEmbeddingsNormsAndHeadOnly() {
        DenseGpt a = model(5), b = model(5);
        new Trainer(a, ResumeTest.data, train("muon")).step();
        TrainConfig other = new TrainConfig(2, 48, 2, 1e-2f, 1e-3f, 2, 8, "muon", 0.1f, 1.0f, 42, 0, 5e-3f);
        new Trainer(b, ResumeTest.data, other).step();
        for (var t : a.layout.tensors()) {
            float[] pa = java.util.Arrays.copyOfRange(a.params, t.off(), t.off() + (int) t.size());
            float[] pb = java.util.Arrays.copyOfRange(b.params, t.off(), t.off() + (int) t.size());
            boolean muon = t.kind() == io.ionllama.model.ParamLayout.Kind.MATRIX && !t.name().equals("head");
            if (muon) {
                assertThat(pb).as(t.name()).isEqualTo(pa);
            } else {
                assertThat(pb).as(t.name()).isNotEqualTo(pa);
            }
        }
    }
}
