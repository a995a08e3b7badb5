package io.ionllama.backend.tornado;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.data.ByteSource;
import io.ionllama.data.EmbeddedCorpus;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ParamLayout;
import io.ionllama.train.Evaluator;
import io.ionllama.train.TrainConfig;
import io.ionllama.train.Trainer;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Training with the step's arrays resident on the device ({@link Residency}) against the CPU:
 * the first step runs per-op and builds the plan, the next ones run it. Each step's loss and
 * gradient norm, the parameters and moments at the end; an evaluation pass between steps (outside
 * any step, so per-op, over the same arrays) must see the device's parameters and leave the next
 * step correct; and a resident step moves only its inputs, the small arrays the model exchanges
 * with the host and the per-call values of its calls, never the parameters, gradients or
 * activations.
 *
 * <p>Tolerances as in {@link TornadoTrainingTest}; the entropy warm-up keeps patches fixed so
 * rounding cannot move a boundary.
 */
class TornadoResidentTrainingTest {

    @BeforeEach
    void needsTornado() {
        Assumptions.assumeTrue(DeviceChecks.WHY == null, DeviceChecks.SKIP + " (" + DeviceChecks.WHY + ")");
    }

    @ParameterizedTest
    @ValueSource(strings = {"adamw", "muon"})
    void residentStepsMatchTheCpu(String optimizer) {
        int steps = optimizer.equals("adamw") ? 5 : 3;
        ByteSource data = ByteSource.of(EmbeddedCorpus.generate(EmbeddedCorpus.TRAIN_SEED, 20_000));
        TrainConfig cfg = new TrainConfig(3, 48, 2, 3e-3f, 3e-4f, 1, steps, optimizer, 0.1f, 1f, 7, 100);
        try (TornadoBackend device = new TornadoBackend(-1, 2, true, 0, true); CpuBackend cpu = new CpuBackend(2)) {
            IonLlama onDevice = TornadoTrainingTest.model(device, "entropy"), onCpu = TornadoTrainingTest.model(cpu, "entropy");
            Trainer td = new Trainer(onDevice, data, cfg), tc = new Trainer(onCpu, data, cfg);
            long paramBytes = 4L * onCpu.params.length, firstIn = 0, firstOut = 0;
            float lrMax = 0;
            DeviceChecks.AdamDrift drift = new DeviceChecks.AdamDrift(onCpu.layout);
            for (int s = 0; s < steps; s++) {
                long in0 = device.bytesToDevice(), out0 = device.bytesToHost(), runs0 = device.residency().runs();
                long packs0 = device.residency().packBytes(), launches0 = device.graphExecutions();
                long stages0 = device.residency().stageRuns();
                Trainer.Step sd = td.step(), sc = tc.step();
                long in = device.bytesToDevice() - in0, out = device.bytesToHost() - out0, runs = device.residency().runs() - runs0;
                long packs = device.residency().packBytes() - packs0, launches = device.graphExecutions() - launches0;
                long stages = device.residency().stageRuns() - stages0;
                System.out.printf("TornadoResidentTrainingTest %s step %d: loss device %.8f cpu %.8f, grad norm %.6g / %.6g,"
                        + " %d resident ops, host->device %d B (%d B of it per-call values), device->host %d B (parameters: %d B)%n",
                        optimizer, s, sd.loss(), sc.loss(), sd.gradNorm(), sc.gradNorm(), runs, in, packs, out, paramBytes);
                assertThat(sd.skipped()).isFalse();
                assertThat(sd.loss()).as("loss at step %d", s).isCloseTo(sc.loss(), Offset.offset(1e-5 * sc.loss()));
                assertThat(sd.gradNorm()).as("grad norm at step %d", s).isCloseTo(sc.gradNorm(), Offset.offset(1e-4 * sc.gradNorm()));
                lrMax = Math.max(lrMax, sc.lr());
                if (optimizer.equals("adamw")) {
                    drift.afterStep(tc.adamw(), sc.lr());
                }
                if (s == 0) {
                    assertThat(runs).as("the first step runs per-op").isZero();
                } else {
                    assertThat(runs).as("step %d runs the plan", s).isPositive();
                }
                if (s == 0) {
                    firstIn = in;
                    firstOut = out;
                } else if (s == 3) {
                    // After the evaluation: the activations it wrote on the host go up once.
                    assertThat(in).as("host->device bytes of the step after the evaluation").isLessThan(firstIn / 10);
                } else {
                    // In: the input bytes and targets, the loss scale, and the per-call values (sizes,
                    // offsets, learning rate, bias corrections) that go with every stage; out: the
                    // loss statistics, the sequence starts and counts and the gradient-norm partials.
                    // Besides the per-call values, under a fifth of one copy of the parameters each
                    // way (Muon's momentum and scratch stay on the device, and its normalisation
                    // reads nothing back). The per-call values are about 30 B a call: a few KB a step
                    // against megabytes of parameters for a model of real size, and under one copy
                    // of them even for this 23K-parameter test model with Muon's 2,366 calls.
                    assertThat(in - packs).as("host->device bytes of resident step %d besides per-call values", s)
                            .isLessThan(firstIn / 1000).isLessThan(paramBytes / 5);
                    assertThat(packs).as("per-call values of resident step %d", s).isPositive().isLessThan(paramBytes);
                    if (optimizer.equals("adamw")) {
                        // One execution per stage graph and, per micro-batch, one upload of the
                        // input bytes and targets and (with accumulation) two of the loss
                        // statistics the backward scales and restores: no call runs alone, no
                        // store graph runs before a host read.
                        long uploads = cfg.gradAccum() * (cfg.gradAccum() > 1 ? 3L : 1L);
                        assertThat(launches).as("graph executions of resident AdamW step %d (%d stage graphs)", s, stages)
                                .isEqualTo(stages + uploads);
                    }
                    assertThat(out).as("device->host bytes of resident step %d", s).isLessThan(firstOut / 1000).isLessThan(paramBytes / 5);
                }
                if (s == 2) {
                    // An evaluation pass between steps, outside any step: per-op over the same arrays.
                    int[] x = new int[3 * 48], y = new int[3 * 48];
                    for (int i = 0; i < x.length; i++) {
                        x[i] = "Once upon a time, a small fox ".charAt(i % 30);
                        y[i] = "Once upon a time, a small fox ".charAt((i + 1) % 30);
                    }
                    double ld = onDevice.forward(x, y, 3, 48).loss(), lc = onCpu.forward(x, y, 3, 48).loss();
                    assertThat(ld).as("evaluation between steps").isCloseTo(lc, Offset.offset(1e-5 * lc));
                }
            }
            assertThat(device.residency().rebuilds()).as("one plan, built after the first step").isEqualTo(1);
            device.toHost(onDevice.params, td.adamw().m, td.adamw().v);
            if (optimizer.equals("adamw")) {
                TornadoTrainingTest.assertMomentsMatch(onCpu.layout, "m", td.adamw().m, tc.adamw().m);
                TornadoTrainingTest.assertMomentsMatch(onCpu.layout, "v", td.adamw().v, tc.adamw().v);
                assertThat(drift.failures(onDevice.params, onCpu.params)).isEmpty();
                // The bound still sees a wrong update: 5% of lr on the best-conditioned element.
                float[] mutant = onDevice.params.clone();
                mutant[drift.tightest()] += 0.05f * lrMax;
                assertThat(drift.failures(mutant, onCpu.params)).as("a mutant 5%% of lr off").isNotEmpty();
            } else {
                for (ParamLayout.Tensor t : onCpu.layout.tensors()) {
                    for (int i = t.off(); i < t.off() + t.size(); i++) {
                        double d = Math.abs(onDevice.params[i] - onCpu.params[i]);
                        assertThat(d).as("%s[%d]", t.name(), i - t.off()).isLessThanOrEqualTo(1e-5 * Math.abs(onCpu.params[i]) + 2e-3 * lrMax);
                    }
                }
                device.toHost(td.muon().momentum);
                for (ParamLayout.Tensor t : td.muon().muonTensors()) {
                    double max = 0;
                    for (int i = t.off(); i < t.off() + t.size(); i++) {
                        max = Math.max(max, Math.abs(tc.muon().momentum[i]));
                    }
                    assertThat(max).as("momentum of %s moved", t.name()).isPositive();
                    for (int i = t.off(); i < t.off() + t.size(); i++) {
                        assertThat((double) td.muon().momentum[i]).as("momentum %s[%d]", t.name(), i - t.off())
                                .isCloseTo(tc.muon().momentum[i], Offset.offset(1e-3 * max));
                    }
                }
            }
        }
    }

    /**
     * Validation batches are backend steps too: the first evaluation runs op by op and records its
     * forward pass, later ones replay it on the device, with the CPU's results and a small part of
     * the bytes.
     */
    @Test
    void evaluationsReplayOnTheDevice() {
        ByteSource valid = ByteSource.of(EmbeddedCorpus.generate(EmbeddedCorpus.TRAIN_SEED + 1, 20_000));
        try (TornadoBackend device = new TornadoBackend(-1, 2, false, 0, true); CpuBackend cpu = new CpuBackend(2)) {
            IonLlama onDevice = TornadoTrainingTest.model(device, "entropy"), onCpu = TornadoTrainingTest.model(cpu, "entropy");
            Evaluator eval = new Evaluator(valid, 3, 48, 2);
            Evaluator.Result rc = eval.run(onCpu);
            // A run's only evaluation, after its last step: op by op, no plan built for it.
            Evaluator.Result once = new Evaluator(valid, 3, 48, 2).run(onDevice, true);
            assertThat(once.loss()).as("the only evaluation").isCloseTo(rc.loss(), Offset.offset(1e-5 * rc.loss()));
            assertThat(device.residency().rebuilds()).as("plans after a run's only evaluation").isZero();
            long[] in = new long[3], out = new long[3];
            for (int k = 0; k < 3; k++) {
                long in0 = device.bytesToDevice(), out0 = device.bytesToHost();
                Evaluator.Result rd = eval.run(onDevice);
                in[k] = device.bytesToDevice() - in0;
                out[k] = device.bytesToHost() - out0;
                System.out.printf("TornadoResidentTrainingTest evaluation %d: loss device %.8f cpu %.8f, host->device %d B,"
                        + " device->host %d B%n", k, rd.loss(), rc.loss(), in[k], out[k]);
                assertThat(rd.loss()).as("validation loss, evaluation %d", k).isCloseTo(rc.loss(), Offset.offset(1e-5 * rc.loss()));
                assertThat(rd.bytesPerPatch()).isEqualTo(rc.bytesPerPatch());
            }
            assertThat(device.residency().rebuilds()).as("one plan, after the first evaluation's first batch").isEqualTo(1);
            assertThat(in[2]).as("host->device bytes of a replayed evaluation").isLessThan(in[0] / 20);
            assertThat(out[2]).as("device->host bytes of a replayed evaluation").isLessThan(out[0] / 20);
        }
    }
}
