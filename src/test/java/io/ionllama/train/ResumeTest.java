package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ionllama.backend.Backend;
import io.ionllama.backend.ForwardingBackend;
import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.data.ByteSource;
import io.ionllama.data.EmbeddedCorpus;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import io.ionllama.testing.CpuBackendTest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** 2N steps straight equal N steps, a save, a load into fresh objects, and N more: bit for bit. */
class ResumeTest extends CpuBackendTest {

    static ByteSource data = ByteSource.of(EmbeddedCorpus.generate(1, 200_000));

    @TempDir
    Path dir;

    static ModelConfig config() {
        return new ModelConfig("nano", 24, 32, 1, 2, 1, 1, 16, 1, new int[] {3, 4}, 211, 48, 48, 4, 8, 3f).validate();
    }

    static IonLlama model() {
        return model(cpu);
    }

    static IonLlama model(Backend be) {
        ModelConfig c = config();
        IonLlama m = new IonLlama(c, be, Patcher.parse("entropy", c.maxPatch(), c.targetPatch()), false);
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

    /**
     * With dropout the masks come from (seed, step, micro-batch): a resumed run draws the same ones
     * as the straight run, bit for bit; dropout changes training (the losses differ from a run
     * without it) and is off again after every step (evaluation and generation never see it).
     */
    @org.junit.jupiter.api.Test
    void resumedRunWithDropoutEqualsStraightRun() throws IOException {
        TrainConfig cfg = train("adamw").withDropout(0.2f);
        IonLlama straight = model();
        Trainer ts = new Trainer(straight, data, cfg);
        List<Double> lossesStraight = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            lossesStraight.add(ts.step().loss());
            assertThat(straight.dropoutRate()).isZero();
        }
        Trainer plain = new Trainer(model(), data, train("adamw"));
        plain.step();
        assertThat(plain.step().loss()).isNotEqualTo(lossesStraight.get(1));

        IonLlama first = model();
        Trainer t1 = new Trainer(first, data, cfg);
        List<Double> lossesResumed = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            lossesResumed.add(t1.step().loss());
        }
        Path ckpt = dir.resolve("dropout.safetensors");
        Checkpoint.save(ckpt, first, t1, 0, Double.NaN, null);
        assertThat(Checkpoint.readMeta(ckpt).raw()).containsEntry("train.dropout", "0.2");
        IonLlama second = model();
        Trainer t2 = new Trainer(second, data, cfg);
        Checkpoint.load(ckpt, second, t2);
        for (int i = 0; i < 2; i++) {
            lossesResumed.add(t2.step().loss());
        }
        assertThat(lossesResumed).isEqualTo(lossesStraight);
        assertThat(second.params).isEqualTo(straight.params);
    }

    /**
     * With task lines mixed in ({@code --mix-tasks}), 2N steps straight equal N, a save, a load and N
     * more, and the checkpoint records the fraction; the mixed run trains on other bytes than the plain one.
     */
    @org.junit.jupiter.api.Test
    void resumedRunWithTaskLinesMixedInEqualsStraightRun() throws IOException {
        int n = 4;
        Trainer ts = new Trainer(model(), data, train("adamw")).mixTasks(0.5);
        List<Double> straight = new ArrayList<>(), resumed = new ArrayList<>();
        for (int i = 0; i < 2 * n; i++) {
            straight.add(ts.step().loss());
        }
        Trainer t1 = new Trainer(model(), data, train("adamw")).mixTasks(0.5);
        for (int i = 0; i < n; i++) {
            resumed.add(t1.step().loss());
        }
        Path ckpt = dir.resolve("mixed.safetensors");
        Checkpoint.save(ckpt, t1.model, t1, 0, Double.NaN, null);
        assertThat(Checkpoint.readMeta(ckpt).raw()).containsEntry("train.mix_tasks", "0.5");
        IonLlama second = model();
        second.init(999);
        Trainer t2 = new Trainer(second, data, train("adamw")).mixTasks(0.5);
        Checkpoint.load(ckpt, second, t2);
        for (int i = 0; i < n; i++) {
            resumed.add(t2.step().loss());
        }
        assertThat(resumed).isEqualTo(straight);
        assertThat(second.params).isEqualTo(ts.model.params());
        Trainer plain = new Trainer(model(), data, train("adamw"));
        assertThat(plain.mixTasks()).isZero();
        List<Double> plainLosses = new ArrayList<>();
        for (int i = 0; i < 2 * n; i++) {
            plainLosses.add(plain.step().loss());
        }
        assertThat(plainLosses).isNotEqualTo(straight);
    }

    /**
     * A backend that, like the TornadoVM one, keeps AdamW's moments and Muon's momentum in memory
     * of its own between steps and hands them to the host only through {@code toHost}, and takes
     * the host's again after {@code hostChanged}. Saving must ask for them (else the file holds zeros) and loading
     * must announce them (else the run continues from the old ones).
     */
    static final class MomentsElsewhere extends ForwardingBackend {
        final Map<float[], float[]> device = new IdentityHashMap<>();
        /** Arrays kept elsewhere: AdamW's moments, and what {@link #hide} names (Muon's momentum). */
        final Set<float[]> hidden = Collections.newSetFromMap(new IdentityHashMap<>());

        MomentsElsewhere() {
            super(new CpuBackend(1));
        }

        /** From now on ops see this backend's own copy of {@code a}, made from the host's at first use. */
        void hide(float[] a) {
            hidden.add(a);
        }

        private float[] d(float[] a) {
            return hidden.contains(a) ? device.computeIfAbsent(a, float[]::clone) : a;
        }

        @Override
        public void adamwTensors(float[] p, float[] g, float[] m, float[] v, int[] offs, int[] sizes, float[] wds, int count,
                                 float lr, float beta1, float beta2, float eps, float bc1, float bc2, float gradScale) {
            hide(m);
            hide(v);
            super.adamwTensors(p, g, d(m), d(v), offs, sizes, wds, count, lr, beta1, beta2, eps, bc1, bc2, gradScale);
        }

        @Override
        public void axpby(float[] y, int yOff, float alpha, float[] x, int xOff, float beta, int n) {
            super.axpby(d(y), yOff, alpha, d(x), xOff, beta, n);
        }

        @Override
        public void copy(float[] dst, int dstOff, float[] src, int srcOff, int n) {
            super.copy(d(dst), dstOff, d(src), srcOff, n);
        }

        @Override
        public void toHost(float[]... arrays) {
            for (float[] a : arrays) {
                float[] d = device.get(a);
                if (d != null) {
                    System.arraycopy(d, 0, a, 0, a.length);
                }
            }
        }

        @Override
        public void hostChanged(float[]... arrays) {
            for (float[] a : arrays) {
                device.remove(a);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"adamw", "muon"})
    void resumeWorksWhenTheBackendKeepsTheMomentsElsewhere(String optimizer) throws IOException {
        int n = 3;
        List<Double> straight = new ArrayList<>(), resumed = new ArrayList<>();
        IonLlama s;
        try (MomentsElsewhere be = new MomentsElsewhere()) {
            s = model(be);
            Trainer ts = new Trainer(s, data, train(optimizer));
            hideMuon(be, ts);
            for (int i = 0; i < 2 * n; i++) {
                straight.add(ts.step().loss());
            }
            assertThat(ts.adamw().m).as("the host's moments are not the backend's").containsOnly(0f);
            if (ts.muon() != null) {
                assertThat(ts.muon().momentum).as("the host's momentum is not the backend's").containsOnly(0f);
            }
        }
        Path ckpt = dir.resolve("latest.safetensors");
        try (MomentsElsewhere be = new MomentsElsewhere()) {
            IonLlama first = model(be);
            Trainer t1 = new Trainer(first, data, train(optimizer));
            hideMuon(be, t1);
            for (int i = 0; i < n; i++) {
                resumed.add(t1.step().loss());
            }
            Checkpoint.save(ckpt, first, t1, 0, Double.NaN, null);
            // The same backend goes on: after a step of its own, the moments it holds must give way to the file's.
            IonLlama second = model(be);
            Trainer t2 = new Trainer(second, data, train(optimizer));
            hideMuon(be, t2);
            t2.step();
            Checkpoint.load(ckpt, second, t2);
            for (int i = 0; i < n; i++) {
                resumed.add(t2.step().loss());
            }
            assertThat(resumed).isEqualTo(straight);
            assertThat(second.params).isEqualTo(s.params);
        }
    }

    private static void hideMuon(MomentsElsewhere be, Trainer t) {
        if (t.muon() != null) {
            be.hide(t.muon().momentum);
        }
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
