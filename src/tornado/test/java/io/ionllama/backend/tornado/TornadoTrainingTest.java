package io.ionllama.backend.tornado;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.Backend;
import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.data.ByteSource;
import io.ionllama.data.EmbeddedCorpus;
import io.ionllama.generate.Generator;
import io.ionllama.generate.Sampling;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.ParamLayout;
import io.ionllama.model.Patcher;
import io.ionllama.train.TrainConfig;
import io.ionllama.train.Trainer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Training and generation through the TornadoVM backend against the CPU backend: three optimizer
 * steps of the real {@link Trainer} (entropy model, patcher calibration, clipping, AdamW) and
 * greedy generation of 64 bytes.
 *
 * <p>Patches: the trainer's entropy warm-up keeps patches fixed for these steps (the entropy
 * model still runs, is trained and calibrated), so rounding cannot move a patch boundary; the
 * generation test uses the "fixed:3" patcher for the same reason.
 *
 * <p>Tolerances, after three steps: each step's loss within 1e-5 relative; the moments within 1e-3
 * of their tensor's largest; every parameter within {@code 1e-5 |p| + 2e-3 lr} of the CPU's plus
 * the drift AdamW can make of those moment differences ({@link DeviceChecks.AdamDrift}: dividing
 * m by sqrt(v) turns a rounding-sized gradient difference of an element whose gradients cancel
 * into an update difference of a fraction of lr), while a wrong kernel (an update off by anything
 * like lr) fails: a mutant 5% of lr off the best-conditioned element is caught. Grad norms agree to 1e-4.
 */
class TornadoTrainingTest {

    static TornadoBackend device;
    static CpuBackend cpu;

    @BeforeAll
    static void open() {
        if (DeviceChecks.WHY != null) {
            System.out.println("TornadoTrainingTest: every test skipped: " + DeviceChecks.WHY);
            return;
        }
        // Per-op transfers (residency off): TornadoResidentTrainingTest covers the resident steps.
        device = new TornadoBackend(-1, 2, true, 0, false);
        cpu = new CpuBackend(2);
    }

    @BeforeEach
    void needsTornado() {
        Assumptions.assumeTrue(DeviceChecks.WHY == null, DeviceChecks.SKIP + " (" + DeviceChecks.WHY + ")");
    }

    @AfterAll
    static void close() {
        if (device != null) {
            System.out.println("TornadoTrainingTest device stats: " + device.stats());
            device.close();
            cpu.close();
        }
    }

    static ModelConfig small() {
        return new ModelConfig("nano", 16, 16, 2, 2, 1, 1, 8, 1, new int[] {3, 4}, 13, 24, 24, 2, 6, 3f).validate();
    }

    static IonLlama model(Backend be, String patcher) {
        ModelConfig c = small();
        IonLlama m = new IonLlama(c, be, Patcher.parse(patcher, c.maxPatch(), c.targetPatch()), false);
        m.init(5);
        return m;
    }

    @Test
    void threeOptimizerStepsMatchTheCpu() {
        ByteSource data = ByteSource.of(EmbeddedCorpus.generate(EmbeddedCorpus.TRAIN_SEED, 20_000));
        TrainConfig cfg = new TrainConfig(3, 48, 1, 3e-3f, 3e-4f, 1, 3, "adamw", 0.1f, 1f, 7, 100);
        IonLlama onDevice = model(device, "entropy"), onCpu = model(cpu, "entropy");
        Trainer td = new Trainer(onDevice, data, cfg), tc = new Trainer(onCpu, data, cfg);
        DeviceChecks.AdamDrift drift = new DeviceChecks.AdamDrift(onCpu.layout);
        for (int s = 0; s < 3; s++) {
            Trainer.Step sd = td.step(), sc = tc.step();
            System.out.printf("TornadoTrainingTest step %d: loss device %.8f cpu %.8f, grad norm %.6g / %.6g%n",
                    s, sd.loss(), sc.loss(), sd.gradNorm(), sc.gradNorm());
            assertThat(sd.skipped()).isFalse();
            assertThat(sd.loss()).as("loss at step %d", s).isCloseTo(sc.loss(), org.assertj.core.data.Offset.offset(1e-5 * sc.loss()));
            assertThat(sd.gradNorm()).as("grad norm at step %d", s)
                    .isCloseTo(sc.gradNorm(), org.assertj.core.data.Offset.offset(1e-4 * sc.gradNorm()));
            drift.afterStep(tc.adamw(), sc.lr());
        }
        // AdamW's moments stayed on the device: the host's are still zero until asked for.
        assertThat(td.adamw().m).containsOnly(0f);
        device.toHost(td.adamw().m, td.adamw().v);
        assertMomentsMatch(onCpu.layout, "m", td.adamw().m, tc.adamw().m);
        assertMomentsMatch(onCpu.layout, "v", td.adamw().v, tc.adamw().v);
        assertThat(drift.failures(onDevice.params, onCpu.params)).isEmpty();
        float[] mutant = onDevice.params.clone();
        mutant[drift.tightest()] += 0.05f * drift.lrMax();
        assertThat(drift.failures(mutant, onCpu.params)).as("a mutant 5%% of lr off").isNotEmpty();
        // Something was learned, identically: the parameters moved from their initial values.
        assertThat(td.adamw().t).isEqualTo(3);
        DeviceChecks.assertRanOnDevice(device, OptimGraphs.ADAMW_RESIDENT, OptimGraphs.SUM_SQUARES, LossGraphs.CE_BACKWARD,
                AttentionGraphs.DILATED_BACKWARD);
    }

    /** Each moment within 1e-3 of its tensor's largest (gradients agree to rounding; a near-zero entry may differ relatively). */
    static void assertMomentsMatch(ParamLayout layout, String what, float[] device, float[] cpu) {
        for (ParamLayout.Tensor t : layout.tensors()) {
            double max = 0;
            for (int i = t.off(); i < t.off() + t.size(); i++) {
                max = Math.max(max, Math.abs(cpu[i]));
            }
            assertThat(max).as("%s of %s moved", what, t.name()).isPositive();
            for (int i = t.off(); i < t.off() + t.size(); i++) {
                assertThat((double) device[i]).as("%s %s[%d]", what, t.name(), i - t.off())
                        .isCloseTo(cpu[i], org.assertj.core.data.Offset.offset(1e-3 * max));
            }
        }
    }

    @Test
    void greedyGenerationGivesTheSameBytes() {
        IonLlama onDevice = model(device, "fixed:3"), onCpu = model(cpu, "fixed:3");
        int[] prompt = "Once upon a time".chars().toArray();
        List<Integer> bd = new ArrayList<>(), bc = new ArrayList<>();
        new Generator(onDevice, 1024).generate(prompt, 64, Sampling.greedy(), 1, bd::add);
        new Generator(onCpu, 1024).generate(prompt, 64, Sampling.greedy(), 1, bc::add);
        System.out.println("TornadoTrainingTest greedy bytes: " + bc);
        assertThat(bd).hasSize(64).isEqualTo(bc);
        // The reference path (the whole model re-run per byte) on the device gives them too.
        List<Integer> full = new ArrayList<>();
        new Generator(onDevice, 1024, false).generate(prompt, 64, Sampling.greedy(), 1, full::add);
        assertThat(full).isEqualTo(bc);
        DeviceChecks.assertRanOnDevice(device, MatmulGraphs.FORWARD, AttentionGraphs.ROPE_FORWARD, AttentionGraphs.QUERY,
                ScanGraphs.STEP);
    }
}
