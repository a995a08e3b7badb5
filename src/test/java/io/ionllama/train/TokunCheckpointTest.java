package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ionllama.data.ByteSource;
import io.ionllama.data.EmbeddedCorpus;
import io.ionllama.model.ContextRnn;
import io.ionllama.model.IonLlama;
import io.ionllama.model.RnnConfig;
import io.ionllama.model.Tokun;
import io.ionllama.model.TokunConfig;
import io.ionllama.testing.CpuBackendTest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * tokun checkpoints: {@code model=tokun} and its groups and width in the metadata, a round trip
 * through {@link Checkpoint#loadTokun}, the one-line refusal of a tokun file where a language model
 * is wanted and of a language model's file where tokun is, and an exact resume through the
 * {@link Trainer} drawing {@link TokunBatches}.
 */
class TokunCheckpointTest extends CpuBackendTest {

    @TempDir
    Path dir;

    static final ByteSource DATA = ByteSource.of(EmbeddedCorpus.generate(EmbeddedCorpus.TRAIN_SEED, 4096));

    static TokunConfig config() {
        return new TokunConfig(new int[] {4, 2}, 8, 2, 16).validate();
    }

    static Tokun model(long seed) {
        Tokun m = new Tokun(config(), cpu);
        m.init(seed);
        return m;
    }

    static Trainer trainer(Tokun m) {
        TrainConfig cfg = new TrainConfig(3, TokunBatches.seqLen(8), 1, 1e-2f, 1e-3f, 2, 8, "adamw", 0.1f, 1.0f, 42, 0);
        return new Trainer(m, DATA, cfg).batches(new TokunBatches(DATA, 42, 8));
    }

    @Test
    void roundTripRecordsTheArchitecture() throws IOException {
        Tokun m = model(5);
        Path ckpt = dir.resolve("t.safetensors");
        Checkpoint.save(ckpt, m, null, 0, Double.NaN, null);
        Checkpoint.Meta meta = Checkpoint.readMeta(ckpt);
        assertThat(meta.model()).isEqualTo("tokun");
        assertThat(meta.tokunConfig()).isEqualTo(config());
        assertThat(meta.raw()).containsEntry("model.groups", "4,2").containsEntry("model.dim", "8");
        assertThat(meta.describe()).isEqualTo("tokun: groups 4,2, dim 8, 2 heads, mlp 16");
        Tokun back = Checkpoint.loadTokun(ckpt, cpu);
        assertThat(back.params).isEqualTo(m.params);
        assertThat(back.config).isEqualTo(config());
    }

    @Test
    void languageModelsAndTokunRefuseEachOthersCheckpointsInOneLine() throws IOException {
        Path tok = dir.resolve("tokun.safetensors");
        Checkpoint.save(tok, model(5), null, 0, Double.NaN, null);
        assertThatThrownBy(() -> Checkpoint.loadAny(tok, cpu)).isInstanceOf(Checkpoint.CheckpointException.class)
                .hasMessageContaining("is a checkpoint of tokun, the byte-group autoencoder")
                .hasMessageContaining("ionllama tokun eval").hasMessageNotContaining("\n");
        assertThatThrownBy(() -> Checkpoint.loadModel(tok, cpu)).hasMessageContaining("checkpoint of tokun")
                .hasMessageNotContaining("\n");
        IonLlama ion = ResumeTest.model();
        assertThatThrownBy(() -> Checkpoint.load(tok, ion, null)).hasMessageContaining("checkpoint of tokun");

        Path rnn = dir.resolve("rnn.safetensors"), ionFile = dir.resolve("ion.safetensors");
        Checkpoint.save(rnn, new ContextRnn(new RnnConfig(8, 16, 8, 1), cpu), null, 0, Double.NaN, null);
        Checkpoint.save(ionFile, ion, null, 0, Double.NaN, null);
        assertThatThrownBy(() -> Checkpoint.loadTokun(rnn, cpu))
                .hasMessageContaining("is a checkpoint of the rnn language model, not of tokun").hasMessageNotContaining("\n");
        assertThatThrownBy(() -> Checkpoint.loadTokun(ionFile, cpu))
                .hasMessageContaining("is a checkpoint of the ionllama language model, not of tokun");

        Tokun other = new Tokun(new TokunConfig(new int[] {4, 4}, 8, 2, 16), cpu);
        assertThatThrownBy(() -> Checkpoint.load(tok, other, null)).hasMessageContaining("different model")
                .hasMessageContaining("groups 4,2").hasMessageContaining("groups 4,4");
    }

    @Test
    void resumedRunEqualsStraightRun() throws IOException {
        int n = 3;
        Tokun straight = model(5);
        Trainer ts = trainer(straight);
        List<Double> lossesStraight = new ArrayList<>();
        for (int i = 0; i < 2 * n; i++) {
            lossesStraight.add(ts.step().loss());
        }
        Tokun first = model(5);
        Trainer t1 = trainer(first);
        List<Double> lossesResumed = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            lossesResumed.add(t1.step().loss());
        }
        Path ckpt = dir.resolve("latest.safetensors");
        Checkpoint.save(ckpt, first, t1, 0, Double.NaN, null);
        Tokun second = model(999);
        Trainer t2 = trainer(second);
        Checkpoint.load(ckpt, second, t2);
        assertThat(t2.step).isEqualTo(n);
        for (int i = 0; i < n; i++) {
            lossesResumed.add(t2.step().loss());
        }
        assertThat(lossesResumed).isEqualTo(lossesStraight);
        assertThat(second.params).isEqualTo(straight.params);
    }
}
