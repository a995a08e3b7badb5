package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ionllama.model.ByteModel;
import io.ionllama.model.ContextRnn;
import io.ionllama.model.DenseConfig;
import io.ionllama.model.DenseGpt;
import io.ionllama.model.IonLlama;
import io.ionllama.model.RnnConfig;
import io.ionllama.testing.CpuBackendTest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Context-vector RNN checkpoints: {@code model=rnn} and its dimensions in the metadata, a round
 * trip through {@link Checkpoint#loadAny}, the one-line refusal between every pair of
 * architectures, and an exact resume (2N steps straight equal N, save, load into fresh objects, N
 * more, bit for bit) under AdamW and Muon.
 */
class RnnCheckpointTest extends CpuBackendTest {

    @TempDir
    Path dir;

    static RnnConfig config() {
        return new RnnConfig(8, 16, 8, 2).validate();
    }

    static ContextRnn model(long seed) {
        ContextRnn m = new ContextRnn(config(), cpu);
        m.init(seed);
        return m;
    }

    static TrainConfig train(String optimizer) {
        return new TrainConfig(2, 48, 2, 1e-2f, 1e-3f, 2, 8, optimizer, 0.1f, 1.0f, 42, 0, 1e-3f);
    }

    @Test
    void roundTripRecordsTheArchitecture() throws IOException {
        ContextRnn m = model(5);
        Path ckpt = dir.resolve("m.safetensors");
        Checkpoint.save(ckpt, m, null, 0, Double.NaN, null);
        Checkpoint.Meta meta = Checkpoint.readMeta(ckpt);
        assertThat(meta.model()).isEqualTo("rnn");
        assertThat(meta.rnnConfig()).isEqualTo(config());
        assertThat(meta.raw()).containsEntry("model.d_embed", "8").containsEntry("model.d_hidden", "16")
                .containsEntry("model.d_context", "8").containsEntry("model.layers", "2");
        assertThat(meta.describe()).isEqualTo("rnn: d_embed 8, d_hidden 16, d_context 8, 2 layers");
        ByteModel back = Checkpoint.loadAny(ckpt, cpu);
        assertThat(back).isInstanceOf(ContextRnn.class);
        assertThat(back.params()).isEqualTo(m.params);
        assertThat(back.kind()).isEqualTo("rnn");
    }

    @Test
    void aCheckpointOfAnotherArchitectureIsRefusedInOneLineEveryWay() throws IOException {
        Path rnn = dir.resolve("rnn.safetensors");
        Checkpoint.save(rnn, model(5), null, 0, Double.NaN, null);
        IonLlama ion = ResumeTest.model();
        DenseGpt dense = new DenseGpt(new DenseConfig(16, 1, 2, 24, 64), cpu);
        Path ionFile = dir.resolve("ion.safetensors"), denseFile = dir.resolve("dense.safetensors");
        Checkpoint.save(ionFile, ion, null, 0, Double.NaN, null);
        Checkpoint.save(denseFile, dense, null, 0, Double.NaN, null);

        assertThatThrownBy(() -> Checkpoint.loadModel(rnn, cpu)).isInstanceOf(Checkpoint.CheckpointException.class)
                .hasMessageContaining("is a checkpoint of the rnn model, not of ionllama").hasMessageContaining("--model rnn")
                .hasMessageNotContaining("\n");
        assertThatThrownBy(() -> Checkpoint.load(rnn, ion, null))
                .hasMessageContaining("is a checkpoint of the rnn model, not of ionllama").hasMessageNotContaining("\n");
        assertThatThrownBy(() -> Checkpoint.load(rnn, dense, null))
                .hasMessageContaining("is a checkpoint of the rnn model, not of dense").hasMessageNotContaining("\n");
        assertThatThrownBy(() -> Checkpoint.load(ionFile, model(1), null))
                .hasMessageContaining("is a checkpoint of the ionllama model, not of rnn").hasMessageNotContaining("\n");
        assertThatThrownBy(() -> Checkpoint.load(denseFile, model(1), null))
                .hasMessageContaining("is a checkpoint of the dense model, not of rnn").hasMessageContaining("--model dense")
                .hasMessageNotContaining("\n");

        ContextRnn other = new ContextRnn(new RnnConfig(8, 16, 8, 1), cpu);
        assertThatThrownBy(() -> Checkpoint.load(rnn, other, null)).hasMessageContaining("different model")
                .hasMessageContaining("2 layers").hasMessageContaining("1 layers");
    }

    @ParameterizedTest
    @ValueSource(strings = {"adamw", "muon"})
    void resumedRunEqualsStraightRun(String optimizer) throws IOException {
        int n = 3;
        ContextRnn straight = model(5);
        Trainer ts = new Trainer(straight, ResumeTest.data, train(optimizer));
        List<Double> lossesStraight = new ArrayList<>();
        for (int i = 0; i < 2 * n; i++) {
            lossesStraight.add(ts.step().loss());
        }

        ContextRnn first = model(5);
        Trainer t1 = new Trainer(first, ResumeTest.data, train(optimizer));
        List<Double> lossesResumed = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            lossesResumed.add(t1.step().loss());
        }
        Path ckpt = dir.resolve("latest.safetensors");
        Checkpoint.save(ckpt, first, t1, 0, Double.NaN, null);
        assertThat(Checkpoint.readMeta(ckpt).raw()).containsEntry("model", "rnn").containsEntry("train.optimizer", optimizer);

        ContextRnn second = model(999); // different weights: everything must come from the file
        Trainer t2 = new Trainer(second, ResumeTest.data, train(optimizer));
        Checkpoint.load(ckpt, second, t2);
        assertThat(t2.step).isEqualTo(n);
        for (int i = 0; i < n; i++) {
            lossesResumed.add(t2.step().loss());
        }
        assertThat(lossesResumed).isEqualTo(lossesStraight);
        assertThat(second.params).isEqualTo(straight.params);
    }
}
