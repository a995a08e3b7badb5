package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.data.ByteSource;
import io.ionllama.data.EmbeddedCorpus;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** 2N steps straight equal N steps, a save, a load into fresh objects, and N more: bit for bit. */
class ResumeTest {

    static CpuBackend cpu;
    static ByteSource data = ByteSource.of(EmbeddedCorpus.generate(1, 200_000));

    @TempDir
    Path dir;

    @BeforeAll
    static void open() {
        cpu = new CpuBackend(2);
    }

    @AfterAll
    static void close() {
        cpu.close();
    }

    static ModelConfig config() {
        return new ModelConfig("nano", 24, 32, 1, 2, 1, 1, 16, 1, new int[] {3, 4}, 211, 48, 48, 4, 8, 3f).validate();
    }

    static IonLlama model() {
        ModelConfig c = config();
        IonLlama m = new IonLlama(c, cpu, Patcher.parse("entropy", c.maxPatch(), c.targetPatch()), false);
        m.init(5);
        return m;
    }

    static TrainConfig train(String optimizer) {
        return new TrainConfig(2, 48, 2, 3e-3f, 3e-4f, 2, 8, optimizer, 0.1f, 1.0f, 42, 4);
    }

    @ParameterizedTest
    @ValueSource(strings = {"adamw", "muon"})
    void resumedRunEqualsStraightRun(String optimizer) throws IOException {
        int n = 4;
        IonLlama straight = model();
        Trainer ts = new Trainer(straight, data, train(optimizer));
        List<Double> lossesStraight = new ArrayList<>();
        for (int i = 0; i < 2 * n; i++) {
            lossesStraight.add(ts.step().loss());
        }

        IonLlama first = model();
        Trainer t1 = new Trainer(first, data, train(optimizer));
        List<Double> lossesResumed = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            lossesResumed.add(t1.step().loss());
        }
        Path ckpt = dir.resolve("latest.safetensors");
        Checkpoint.save(ckpt, first, t1, 0, Double.NaN, null);

        IonLlama second = model();
        second.init(999); // different weights: everything must come from the file
        Trainer t2 = new Trainer(second, data, train(optimizer));
        Checkpoint.load(ckpt, second, t2);
        assertThat(t2.step).isEqualTo(n);
        for (int i = 0; i < n; i++) {
            lossesResumed.add(t2.step().loss());
        }
        assertThat(lossesResumed).isEqualTo(lossesStraight);
        assertThat(second.params).isEqualTo(straight.params);
        assertThat(second.patcher.theta).isEqualTo(straight.patcher.theta);
    }

    @org.junit.jupiter.api.Test
    void loadingIntoADifferentModelIsRefusedWithOneLine() throws IOException {
        IonLlama m = model();
        Path ckpt = dir.resolve("m.safetensors");
        Checkpoint.save(ckpt, m, null, 0, Double.NaN, null);
        ModelConfig other = ModelConfig.of("nano");
        IonLlama o = new IonLlama(other, cpu, Patcher.parse("entropy", 16, 4f), false);
        assertThatThrownBy(() -> Checkpoint.load(ckpt, o, null)).isInstanceOf(Checkpoint.CheckpointException.class)
                .hasMessageContaining("different model");
        Trainer t = new Trainer(model(), data, train("adamw"));
        assertThatThrownBy(() -> Checkpoint.load(ckpt, model(), t)).hasMessageContaining("weights only");
        assertThatThrownBy(() -> Checkpoint.load(dir.resolve("nope.safetensors"), model(), null)).hasMessageContaining("no checkpoint");
    }
}
