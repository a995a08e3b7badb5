package io.ionllama.backend.tornado;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.Backend;
import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.data.ByteSource;
import io.ionllama.data.EmbeddedCorpus;
import io.ionllama.generate.Generator;
import io.ionllama.generate.Sampling;
import io.ionllama.model.ContextRnn;
import io.ionllama.model.DenseConfig;
import io.ionllama.model.DenseGpt;
import io.ionllama.model.FlatModel;
import io.ionllama.model.ParamLayout;
import io.ionllama.model.RnnConfig;
import io.ionllama.model.Tokun;
import io.ionllama.model.TokunConfig;
import io.ionllama.train.TokunBatches;
import io.ionllama.train.TrainConfig;
import io.ionllama.train.Trainer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Assumptions;

/**
 * The models other than ionLlama (dense, rnn, tokun) trained through the TornadoVM backend against
 * the CPU backend, as {@code train --backend tornado} runs them (steps resident on the device from
 * the second on), and greedy generation of the two that generate (dense, rnn).
 *
 * <p>Tolerances: first, one forward and backward on a fixed batch, {@link TornadoModelTest}'s: the
 * loss within 1e-5 relative and every gradient entry within {@code 2e-5 * max|grad of its tensor|}.
 * Then three optimizer steps, {@link TornadoTrainingTest}'s: each step's loss within 1e-5 relative,
 * its gradient norm within 1e-4; every parameter within {@code 1e-5 |p| + 1e-2 lr} of the CPU's.
 * That last term is looser than TornadoTrainingTest's 2e-3 lr: AdamW's first steps move an entry
 * by about lr g / (|g| + eps), so a gradient entry near eps turns a rounding-sized difference into
 * a visible fraction of lr, and the dense model's key weights (whose gradient is a sum of
 * p (dp - D), which cancels) showed 2.6e-3 lr on PoCL. A wrong kernel moves a parameter by about
 * lr, and the gradient check above catches smaller errors. Greedy bytes must be the CPU's.
 */
class TornadoModelKindsTest {

    @BeforeEach
    void needsTornado() {
        Assumptions.assumeTrue(DeviceChecks.WHY == null, DeviceChecks.SKIP + " (" + DeviceChecks.WHY + ")");
    }

    static byte[] text() {
        return EmbeddedCorpus.generate(EmbeddedCorpus.TRAIN_SEED, 20_000);
    }

    static DenseGpt dense(Backend be) {
        DenseGpt m = new DenseGpt(new DenseConfig(16, 2, 2, 24, 32), be);
        m.init(5);
        return m;
    }

    /** Two layers: the second reads the first's hidden states, and the backward hands dh down. */
    static ContextRnn rnn(Backend be) {
        ContextRnn m = new ContextRnn(new RnnConfig(8, 16, 8, 2), be);
        m.init(5);
        return m;
    }

    /** Two stages (G = 4 then 2): group attention at two group sizes and row counts. */
    static Tokun tokun(Backend be) {
        Tokun m = new Tokun(new TokunConfig(new int[] {4, 2}, 16, 2, 32).validate(), be);
        m.init(5);
        return m;
    }

    /**
     * Three optimizer steps of {@code make}'s model on the device and on the CPU, compared step by
     * step and parameter by parameter; {@code batches} sets tokun's chunked batches (else identity).
     */
    static void threeStepsMatch(String what, Function<Backend, FlatModel> make, TrainConfig cfg,
                                Function<Trainer, Trainer> batches, String... deviceOps) {
        ByteSource data = ByteSource.of(text());
        try (TornadoBackend device = new TornadoBackend(-1, 2, true, 0, true); CpuBackend cpu = new CpuBackend(2)) {
            FlatModel onDevice = make.apply(device), onCpu = make.apply(cpu);
            gradientsMatch(what, onDevice, onCpu, cfg.batch(), cfg.seqLen());
            Trainer td = batches.apply(new Trainer(onDevice, data, cfg)), tc = batches.apply(new Trainer(onCpu, data, cfg));
            float lrMax = 0;
            for (int s = 0; s < 3; s++) {
                Trainer.Step sd = td.step(), sc = tc.step();
                System.out.printf("TornadoModelKindsTest %s step %d: loss device %.8f cpu %.8f, grad norm %.6g / %.6g%n",
                        what, s, sd.loss(), sc.loss(), sd.gradNorm(), sc.gradNorm());
                assertThat(sd.skipped()).isFalse();
                assertThat(sd.loss()).as("%s loss at step %d", what, s)
                        .isCloseTo(sc.loss(), org.assertj.core.data.Offset.offset(1e-5 * sc.loss()));
                assertThat(sd.gradNorm()).as("%s grad norm at step %d", what, s)
                        .isCloseTo(sc.gradNorm(), org.assertj.core.data.Offset.offset(1e-4 * sc.gradNorm()));
                lrMax = Math.max(lrMax, sc.lr());
            }
            device.toHost(onDevice.params);
            List<String> failures = new ArrayList<>();
            double worstLr = 0;
            for (ParamLayout.Tensor t : onCpu.layout.tensors()) {
                for (int i = t.off(); i < t.off() + t.size(); i++) {
                    double d = Math.abs(onDevice.params[i] - onCpu.params[i]);
                    worstLr = Math.max(worstLr, d / lrMax);
                    if (d > 1e-5 * Math.abs(onCpu.params[i]) + 1e-2 * lrMax) {
                        failures.add(String.format("%s[%d]: device %.9g cpu %.9g", t.name(), i - t.off(), onDevice.params[i],
                                onCpu.params[i]));
                        break;
                    }
                }
            }
            System.out.printf("TornadoModelKindsTest %s after 3 steps: worst |dp| = %.2e lr; resident plans %d, stage runs %d%n",
                    what, worstLr, device.residency().rebuilds(), device.residency().stageRuns());
            assertThat(failures).as(what).isEmpty();
            // From the second step on the step ran as the resident plan's stage graphs.
            assertThat(device.residency().rebuilds()).as("%s resident plans", what).isEqualTo(1);
            assertThat(device.residency().stageRuns()).as("%s stage graph runs", what).isPositive();
            DeviceChecks.assertRanOnDevice(device, deviceOps);
        }
    }

    /**
     * One forward and backward of both models on the same fixed batch (tokun's: whole chunks),
     * outside a step (op by op); the gradients are zeroed again after, so training starts as the
     * CPU's does.
     */
    static void gradientsMatch(String what, FlatModel onDevice, FlatModel onCpu, int B, int T) {
        int[][] xy = TornadoModelTest.batch(B, T, 11);
        if (onCpu instanceof Tokun) {
            xy[1] = xy[0].clone(); // an autoencoder reconstructs its input
        }
        java.util.Arrays.fill(onDevice.grads, 0f);
        java.util.Arrays.fill(onCpu.grads, 0f);
        float ld = onDevice.forward(xy[0], xy[1], B, T).loss(), lc = onCpu.forward(xy[0], xy[1], B, T).loss();
        assertThat((double) ld).as("%s loss", what).isCloseTo(lc, org.assertj.core.data.Offset.offset(1e-5 * Math.abs(lc)));
        onDevice.backward(1f);
        onCpu.backward(1f);
        onDevice.backend().toHost(onDevice.grads);
        DeviceChecks.GradientCheck check = DeviceChecks.gradients(onCpu.layout, onDevice.grads, onCpu.grads, 2e-5);
        System.out.printf("TornadoModelKindsTest %s gradients: loss device %.8f cpu %.8f; worst |dgrad| / max|grad| %.2e%n",
                what, ld, lc, check.worst());
        assertThat(check.failures()).as("%s gradients", what).isEmpty();
        java.util.Arrays.fill(onDevice.grads, 0f);
        java.util.Arrays.fill(onCpu.grads, 0f);
        onDevice.backend().hostChanged(onDevice.grads);
    }

    static TrainConfig steps(int batch, int seqLen) {
        return new TrainConfig(batch, seqLen, 1, 3e-3f, 3e-4f, 1, 3, "adamw", 0.1f, 1f, 7, 0);
    }

    @Test
    void denseTrainsAsOnTheCpu() {
        threeStepsMatch("dense", TornadoModelKindsTest::dense, steps(2, 16), t -> t,
                AttentionGraphs.DENSE_FORWARD, AttentionGraphs.DENSE_BACKWARD, NormGraphs.RMS_FORWARD, MatmulGraphs.FORWARD);
    }

    @Test
    void rnnTrainsAsOnTheCpu() {
        threeStepsMatch("rnn", TornadoModelKindsTest::rnn, steps(2, 8), t -> t,
                RnnGraphs.GATES_FORWARD, RnnGraphs.GATES_BACKWARD, LayerNormGraphs.FORWARD, LayerNormGraphs.BACKWARD,
                GlueGraphs.GELU_FORWARD, GlueGraphs.GELU_BACKWARD);
    }

    @Test
    void tokunTrainsAsOnTheCpu() {
        ByteSource data = ByteSource.of(text());
        threeStepsMatch("tokun", TornadoModelKindsTest::tokun, steps(2, TokunBatches.seqLen(8)),
                t -> t.batches(new TokunBatches(data, 5, 8)),
                AttentionGraphs.GROUP_FORWARD, AttentionGraphs.GROUP_BACKWARD, AttentionGraphs.ROPE_FORWARD);
    }

    /** Greedy bytes of {@code make}'s model (initialised, not trained) through the device and the CPU. */
    static void greedyMatches(String what, Function<Backend, FlatModel> make, String... deviceOps) {
        try (TornadoBackend device = new TornadoBackend(-1, 2, true, 0, true); CpuBackend cpu = new CpuBackend(2)) {
            // Prompt and bytes inside the dense model's 32-byte context.
            int[] prompt = "Once upon".chars().toArray();
            List<Integer> bd = new ArrayList<>(), bc = new ArrayList<>();
            new Generator(make.apply(device), 32).generate(prompt, 16, Sampling.greedy(), 1, bd::add);
            new Generator(make.apply(cpu), 32).generate(prompt, 16, Sampling.greedy(), 1, bc::add);
            System.out.println("TornadoModelKindsTest " + what + " greedy bytes: " + bc);
            assertThat(bd).as(what + " greedy bytes").hasSize(16).isEqualTo(bc);
            DeviceChecks.assertRanOnDevice(device, deviceOps);
        }
    }

    @Test
    void denseGeneratesTheCpusBytes() {
        greedyMatches("dense", TornadoModelKindsTest::dense, MatmulGraphs.FORWARD, AttentionGraphs.QUERY);
    }

    @Test
    void rnnGeneratesTheCpusBytes() {
        greedyMatches("rnn", TornadoModelKindsTest::rnn, RnnGraphs.GATES_FORWARD, LayerNormGraphs.FORWARD, GlueGraphs.GELU_FORWARD);
    }
}
