package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ionllama.model.Architecture;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import io.ionllama.model.Tokun;
import io.ionllama.testing.CpuBackendTest;
import io.ionllama.testing.TokunPatched;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A model patched by a frozen tokun ({@code --patcher tokun:PATH}) in training and checkpoints:
 * training steps move {@code tokun.proj} and never the tokun; the checkpoint records the patcher
 * and carries the tokun, so a model loads from it alone (no tokun file) with the same outputs;
 * resume is exact (ResumeTest's shape); a file patched otherwise is refused in one line.
 */
class TokunPatcherCheckpointTest extends CpuBackendTest {

    @TempDir
    Path dir;

    static TrainConfig train(String optimizer) {
        return new TrainConfig(2, 48, 2, 3e-3f, 3e-4f, 2, 8, optimizer, 0.1f, 1.0f, 42, 4);
    }

    @ParameterizedTest
    @ValueSource(strings = {"adamw", "muon"})
    void trainingMovesTheProjectionAndNeverTheTokun(String optimizer) {
        IonLlama m = TokunPatched.model(cpu, 1);
        float[] tokunBefore = m.patchEncoder.params.clone();
        ProjSlice proj = new ProjSlice(m);
        float[] projBefore = proj.slice(m.params);
        Trainer t = new Trainer(m, ResumeTest.data, train(optimizer));
        for (int i = 0; i < 3; i++) {
            t.step();
        }
        assertThat(m.patchEncoder.params).isEqualTo(tokunBefore);
        assertThat(m.patchEncoder.grads).containsOnly(0f);
        assertThat(proj.slice(m.params)).isNotEqualTo(projBefore);
    }

    /** tokun.proj's slice of a parameter array. */
    private record ProjSlice(int off, int size) {
        ProjSlice(IonLlama m) {
            this(m.layout.get(Architecture.TOKUN_PROJ).off(), (int) m.layout.get(Architecture.TOKUN_PROJ).size());
        }

        float[] slice(float[] a) {
            return java.util.Arrays.copyOfRange(a, off, off + size);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"adamw", "muon"})
    void resumedRunEqualsStraightRunFromTheFileAlone(String optimizer) throws IOException {
        int n = 3;
        IonLlama straight = TokunPatched.model(cpu, 2);
        Trainer ts = new Trainer(straight, ResumeTest.data, train(optimizer));
        List<Double> lossesStraight = new ArrayList<>();
        for (int i = 0; i < 2 * n; i++) {
            lossesStraight.add(ts.step().loss());
        }

        IonLlama first = TokunPatched.model(cpu, 2);
        Trainer t1 = new Trainer(first, ResumeTest.data, train(optimizer));
        List<Double> lossesResumed = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            lossesResumed.add(t1.step().loss());
        }
        Path ckpt = dir.resolve("latest.safetensors");
        Checkpoint.save(ckpt, first, t1, 0, Double.NaN, null);

        // Built from the file's metadata: the tokun is an empty shell until load fills it.
        Checkpoint.Meta meta = Checkpoint.readMeta(ckpt);
        assertThat(meta.patcher()).isEqualTo("tokun:tokun-test.safetensors");
        assertThat(meta.patchTokun()).isTrue();
        assertThat(meta.raw()).containsEntry(IonLlama.TOKUN_PREFIX + "groups", "2,2");
        IonLlama second = Checkpoint.newModel(meta, cpu);
        assertThat(second.patchEncoder.params).containsOnly(0f);
        second.init(999);
        Trainer t2 = new Trainer(second, ResumeTest.data, train(optimizer));
        Checkpoint.load(ckpt, second, t2);
        assertThat(t2.step).isEqualTo(n);
        for (int i = 0; i < n; i++) {
            lossesResumed.add(t2.step().loss());
        }
        assertThat(lossesResumed).isEqualTo(lossesStraight);
        assertThat(second.params).isEqualTo(straight.params);
        assertThat(second.patchEncoder.params).isEqualTo(straight.patchEncoder.params);
    }

    @org.junit.jupiter.api.Test
    void aWeightsOnlyFileLoadsAloneWithTheSameOutputs() throws IOException {
        IonLlama m = TokunPatched.model(cpu, 3);
        Path ckpt = dir.resolve("w.safetensors");
        Checkpoint.save(ckpt, m, null, 0, Double.NaN, null);
        IonLlama loaded = Checkpoint.loadModel(ckpt, cpu);
        assertThat(Checkpoint.loadAny(ckpt, cpu)).isInstanceOf(IonLlama.class);
        assertThat(loaded.patcher.spec()).isEqualTo(m.patcher.spec());
        int[] x = TokunPatched.text(2 * 30, 3), y = new int[2 * 30];
        m.forward(x, y, 2, 30);
        float[] a = m.logits().clone();
        loaded.forward(x, y, 2, 30);
        assertThat(loaded.logits()).isEqualTo(a);
    }

    @org.junit.jupiter.api.Test
    void aFilePatchedOtherwiseIsRefusedInOneLine() throws IOException {
        IonLlama m = TokunPatched.model(cpu, 4);
        Path tokunPatched = dir.resolve("t.safetensors");
        Checkpoint.save(tokunPatched, m, null, 0, Double.NaN, null);
        ModelConfig c = TokunPatched.config();
        IonLlama fixed = new IonLlama(c, cpu, Patcher.parse("fixed:4", c.maxPatch(), c.targetPatch()), false);
        assertThatThrownBy(() -> Checkpoint.load(tokunPatched, fixed, null)).isInstanceOf(Checkpoint.CheckpointException.class)
                .hasMessageContaining("patched by a tokun").hasMessageNotContaining("\n");
        Path fixedFile = dir.resolve("f.safetensors");
        Checkpoint.save(fixedFile, fixed, null, 0, Double.NaN, null);
        assertThatThrownBy(() -> Checkpoint.load(fixedFile, TokunPatched.model(cpu, 4), null))
                .isInstanceOf(Checkpoint.CheckpointException.class).hasMessageContaining("patched by --patcher fixed:4");
        // Another tokun (other width) under the same model: refused by name, not loaded into the wrong shape.
        Tokun wide = new Tokun(io.ionllama.model.TokunConfig.of(new int[] {2, 2}, 16), cpu);
        assertThatThrownBy(() -> Checkpoint.load(tokunPatched, TokunPatched.model(c, cpu, wide, 4), null))
                .isInstanceOf(Checkpoint.CheckpointException.class).hasMessageNotContaining("\n");
        // A tokun patch encoder is a tokun checkpoint, and the model file is not one.
        assertThatThrownBy(() -> Checkpoint.loadTokun(tokunPatched, cpu)).hasMessageContaining("not of tokun");
    }
}
