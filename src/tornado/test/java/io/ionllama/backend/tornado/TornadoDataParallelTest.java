package io.ionllama.backend.tornado;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.ForwardingBackend;
import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.data.ByteSource;
import io.ionllama.data.EmbeddedCorpus;
import io.ionllama.model.IonLlama;
import io.ionllama.testing.ThreadExchange;
import io.ionllama.train.GradientExchange;
import io.ionllama.train.TrainConfig;
import io.ionllama.train.Trainer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Data parallelism ({@link Trainer#dataParallel}, docs/distributed.md) with the TornadoVM backend:
 * two workers as threads of one JVM, each with its own model and its own {@link TornadoBackend}
 * (two backends on one device: TornadoVM keeps compiled code, command queues and events per
 * execution plan, and every graph here is its backend's own), summing their gradients through a
 * {@link ThreadExchange}, against one CPU trainer with grad-accum 2 summed
 * {@link Trainer.AccumSum#SEPARATE}; per-op (residency off) and with resident steps.
 *
 * <ul>
 *   <li>Losses, grad norms, moments and parameters match the CPU within the tolerances of
 *       {@link TornadoTrainingTest} ({@link DeviceChecks.AdamDrift} for the parameters); the two
 *       workers' parameters, losses and grad norms are equal bit for bit (they apply the same
 *       summed gradient).</li>
 *   <li>The exchanged gradient is the device's: in a resident step the hand-over
 *       ({@code toHost(grads)}) copies exactly the gradient back, each worker's contribution is
 *       neither zero nor the sum the host held from the step before, and the summed gradient of
 *       every step matches the CPU's. A missing {@code toHost} would exchange the last step's
 *       sum, a missing {@code hostChanged} would leave the device's norm and update on one
 *       worker's half: both fail the grad norm check.</li>
 *   <li>What the hand-over costs: each worker's bytes per step against one device trainer doing
 *       the same micro-batch without data parallelism (grad-accum 1), and the times. Per-op, the
 *       gradient is on the host already (every op copies its results back) and data parallelism
 *       must add no bytes (AdamW's resident moments used to be copied back and sent again, and
 *       its graph compiled again, every step); resident, it adds one gradient each way.</li>
 * </ul>
 * PoCL runs the "device" on the same CPU cores as everything else, so the times printed are not
 * a GPU's; the byte counts are what carries over.
 */
class TornadoDataParallelTest {

    static final int STEPS = 4;

    @BeforeEach
    void needsTornado() {
        Assumptions.assumeTrue(DeviceChecks.WHY == null, DeviceChecks.SKIP + " (" + DeviceChecks.WHY + ")");
    }

    /** One trainer's record of a step. */
    record Row(Trainer.Step step, long in, long out, long pullNanos, long pullBytes) {}

    @ParameterizedTest(name = "resident {0}")
    @ValueSource(booleans = {false, true})
    void twoDeviceWorkersMatchOneCpuTrainer(boolean resident) throws Exception {
        ByteSource data = ByteSource.of(EmbeddedCorpus.generate(EmbeddedCorpus.TRAIN_SEED, 20_000));
        TrainConfig cfg = new TrainConfig(3, 48, 2, 3e-3f, 3e-4f, 1, STEPS, "adamw", 0.1f, 1f, 7, 100);
        TrainConfig alone = new TrainConfig(3, 48, 1, 3e-3f, 3e-4f, 1, STEPS, "adamw", 0.1f, 1f, 7, 100);
        String mode = resident ? "resident" : "per-op";

        // The reference: one CPU trainer, two micro-batches summed separately.
        IonLlama onCpu;
        List<Trainer.Step> cpuSteps = new ArrayList<>();
        List<float[]> cpuGrads = new ArrayList<>();
        DeviceChecks.AdamDrift drift;
        Trainer tc;
        try (CpuBackend cpu = new CpuBackend(1)) {
            onCpu = TornadoTrainingTest.model(cpu, "entropy");
            tc = new Trainer(onCpu, data, cfg).accumSum(Trainer.AccumSum.SEPARATE);
            drift = new DeviceChecks.AdamDrift(onCpu.layout);
            for (int s = 0; s < STEPS; s++) {
                Trainer.Step sc = tc.step();
                cpuSteps.add(sc);
                cpuGrads.add(onCpu.grads.clone());
                drift.afterStep(tc.adamw(), sc.lr());
            }
        }
        long gradBytes = DeviceGraph.bytes(onCpu.grads);

        // Without data parallelism: one device trainer, one micro-batch of the same shape a step.
        List<Row> base = new ArrayList<>();
        try (TornadoBackend device = new TornadoBackend(-1, 1, true, 0, resident)) {
            IonLlama m = TornadoTrainingTest.model(device, "entropy");
            Trainer t = new Trainer(m, data, alone);
            for (int s = 0; s < STEPS; s++) {
                long in0 = device.bytesToDevice(), out0 = device.bytesToHost();
                Trainer.Step st = t.step();
                base.add(new Row(st, device.bytesToDevice() - in0, device.bytesToHost() - out0, 0, 0));
                System.out.printf("TornadoDataParallelTest %s alone step %d: %.1f ms, host->device %d B, device->host %d B%n",
                        mode, s, st.seconds() * 1e3, base.get(s).in(), base.get(s).out());
            }
        }

        // Two workers, each its own model and device backend, in threads.
        ThreadExchange.Group group = new ThreadExchange.Group(2);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        List<Worker> workers = new ArrayList<>();
        try {
            List<Future<Worker>> running = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                int rank = r;
                running.add(pool.submit(() -> {
                    try {
                        return Worker.run(new Recording(group.member(rank)), data, cfg, resident);
                    } catch (RuntimeException | Error e) {
                        group.abort();
                        throw e;
                    }
                }));
            }
            for (Future<Worker> f : running) {
                workers.add(f.get());
            }
        } finally {
            pool.shutdownNow();
        }

        Worker w0 = workers.get(0), w1 = workers.get(1);
        for (int s = 0; s < STEPS; s++) {
            Trainer.Step sc = cpuSteps.get(s);
            for (Worker w : workers) {
                Row r = w.rows.get(s);
                Trainer.Step sd = r.step();
                System.out.printf("TornadoDataParallelTest %s worker %d step %d: loss device %.8f cpu %.8f, grad norm %.6g / %.6g,"
                                + " %.1f ms (exchange %.1f ms, gradient to host %.2f ms), host->device %d B, device->host %d B"
                                + " (gradient %d B)%n", mode, w.exchange.rank(), s, sd.loss(), sc.loss(), sd.gradNorm(), sc.gradNorm(),
                        sd.seconds() * 1e3, sd.exchangeSeconds() * 1e3, r.pullNanos() / 1e6, r.in(), r.out(), gradBytes);
                assertThat(sd.skipped()).isFalse();
                assertThat(sd.loss()).as("loss at step %d", s).isCloseTo(sc.loss(), Offset.offset(1e-5 * sc.loss()));
                assertThat(sd.gradNorm()).as("grad norm at step %d", s).isCloseTo(sc.gradNorm(), Offset.offset(1e-4 * sc.gradNorm()));
            }
            assertThat(w1.rows.get(s).step().loss()).as("the workers' losses at step %d", s).isEqualTo(w0.rows.get(s).step().loss());
            assertThat(w1.rows.get(s).step().gradNorm()).as("the workers' grad norms at step %d", s)
                    .isEqualTo(w0.rows.get(s).step().gradNorm());

            // The gradient exchanged is the device's: each contribution new, and their sum the CPU's.
            float[] given0 = w0.exchange.given.get(s), given1 = w1.exchange.given.get(s), got = w0.exchange.got.get(s);
            assertThat(w1.exchange.got.get(s)).as("both workers got the same sum at step %d", s).isEqualTo(got);
            for (float[] given : List.of(given0, given1)) {
                assertThat(given).as("a contribution at step %d", s).isNotEqualTo(new float[given.length]);
                if (s > 0) {
                    assertThat(given).as("a contribution at step %d is not the last step's sum", s)
                            .isNotEqualTo(w0.exchange.got.get(s - 1));
                }
            }
            assertThat(given0).as("the workers' contributions at step %d", s).isNotEqualTo(given1);
            // Step 0 from equal parameters: to rounding; later steps from parameters that drifted by
            // rounding: looser, still far below the difference a stale or missing half would make.
            DeviceChecks.GradientCheck check = DeviceChecks.gradients(onCpu.layout, got, cpuGrads.get(s), s == 0 ? 1e-4 : 1e-2);
            System.out.printf("TornadoDataParallelTest %s step %d summed gradient: worst |dgrad| / max|grad| %.2e%n", mode, s,
                    check.worst());
            assertThat(check.failures()).as("summed gradient at step %d", s).isEmpty();

            // The hand-over: resident steps copy exactly the gradient back; per-op, it is on the host already.
            for (Worker w : workers) {
                long pulled = w.rows.get(s).pullBytes();
                if (resident && s > 0) {
                    assertThat(pulled).as("gradient brought back in resident step %d", s).isEqualTo(gradBytes);
                } else {
                    assertThat(pulled).as("gradient brought back in per-op step %d", s).isZero();
                }
            }
        }

        // Parameters: the workers' equal bit for bit, and the CPU's within AdamW's drift; moments to 1e-3.
        assertThat(w1.params).as("the two workers' parameters").isEqualTo(w0.params);
        assertThat(w1.stateMeta).as("the two workers' patch threshold").isEqualTo(w0.stateMeta);
        assertThat(drift.failures(w0.params, onCpu.params)).isEmpty();
        TornadoTrainingTest.assertMomentsMatch(onCpu.layout, "m", w0.m, tc.adamw().m);
        TornadoTrainingTest.assertMomentsMatch(onCpu.layout, "v", w0.v, tc.adamw().v);
        assertThat(w0.adamwGraphs).as("AdamW graphs built by a worker (per-op: one, kept)").isLessThanOrEqualTo(1);

        // What data parallelism adds per step, over the steps after the first two (resident: the
        // first records, the second compiles the plan), and how the step times compare.
        int from = 2;
        double dIn = 0, dOut = 0, msDp = 0, msAlone = 0, msExchange = 0, msPull = 0;
        int n = 0;
        for (int s = from; s < STEPS; s++) {
            for (Worker w : workers) {
                Row r = w.rows.get(s);
                dIn += r.in() - base.get(s).in();
                dOut += r.out() - base.get(s).out();
                msDp += r.step().seconds() * 1e3;
                msExchange += r.step().exchangeSeconds() * 1e3;
                msPull += r.pullNanos() / 1e6;
                n++;
            }
            msAlone += base.get(s).step().seconds() * 1e3 * 2; // counted once per worker
        }
        dIn /= n;
        dOut /= n;
        System.out.printf("TornadoDataParallelTest %s, steps %d..%d, per worker and step: data parallelism adds host->device %.0f B,"
                        + " device->host %.0f B (the gradient: %d B; parameters %d); step %.1f ms (2 workers sharing the device)"
                        + " vs %.1f ms alone; exchange (sum in threads, waiting included) %.1f ms, gradient to host %.2f ms%n",
                mode, from, STEPS - 1, dIn, dOut, gradBytes, onCpu.params.length, msDp / n, msAlone / n, msExchange / n, msPull / n);
        if (resident) {
            // One gradient each way, give or take the small arrays a worker's patch threshold moves.
            assertThat(dOut).as("extra device->host bytes of a resident step").isCloseTo(gradBytes, Offset.offset(gradBytes / 4.0));
            assertThat(dIn).as("extra host->device bytes of a resident step").isCloseTo(gradBytes, Offset.offset(gradBytes / 4.0));
        } else {
            assertThat(Math.abs(dOut)).as("extra device->host bytes of a per-op step").isLessThan(gradBytes / 4.0);
            assertThat(Math.abs(dIn)).as("extra host->device bytes of a per-op step").isLessThan(gradBytes / 4.0);
        }
        if (resident) {
            DeviceChecks.assertRanOnDevice(w0.device, LossGraphs.CE_BACKWARD, AttentionGraphs.DILATED_BACKWARD, Residency.STAGE);
        } else {
            DeviceChecks.assertRanOnDevice(w0.device, OptimGraphs.ADAMW_RESIDENT, OptimGraphs.SUM_SQUARES, LossGraphs.CE_BACKWARD,
                    AttentionGraphs.DILATED_BACKWARD);
        }
    }

    /** One worker: its backend, its steps, and what it held at the end. */
    static final class Worker {
        TornadoBackend device;
        Recording exchange;
        final List<Row> rows = new ArrayList<>();
        float[] params, m, v;
        java.util.Map<String, String> stateMeta;
        long adamwGraphs;

        static Worker run(Recording ex, ByteSource data, TrainConfig cfg, boolean resident) {
            Worker w = new Worker();
            w.exchange = ex;
            try (TornadoBackend device = new TornadoBackend(-1, 1, true, 0, resident)) {
                w.device = device;
                HandOver be = new HandOver(device);
                IonLlama m = TornadoTrainingTest.model(be, "entropy");
                be.grads = m.grads;
                Trainer t = new Trainer(m, data, cfg).dataParallel(ex);
                for (int s = 0; s < cfg.maxSteps(); s++) {
                    long in0 = device.bytesToDevice(), out0 = device.bytesToHost(), pn0 = be.pullNanos, pb0 = be.pullBytes;
                    Trainer.Step st = t.step();
                    w.rows.add(new Row(st, device.bytesToDevice() - in0, device.bytesToHost() - out0, be.pullNanos - pn0,
                            be.pullBytes - pb0));
                }
                device.toHost(m.params, t.adamw().m, t.adamw().v);
                w.params = m.params.clone();
                w.m = t.adamw().m.clone();
                w.v = t.adamw().v.clone();
                w.stateMeta = m.stateMeta();
                w.adamwGraphs = device.stats(OptimGraphs.ADAMW_RESIDENT).graphsBuilt();
            }
            return w;
        }
    }

    /**
     * The device backend as the model sees it, timing the gradient's hand-over: when the trainer
     * asks for the gradient, the calls taken so far (the backward pass) run first, untimed, then
     * the copy back alone is timed and its bytes counted.
     */
    static final class HandOver extends ForwardingBackend {
        final TornadoBackend device;
        float[] grads;
        long pullNanos, pullBytes;

        HandOver(TornadoBackend device) {
            super(device);
            this.device = device;
        }

        @Override
        public void toHost(float[]... arrays) {
            if (grads == null || arrays.length != 1 || arrays[0] != grads) {
                super.toHost(arrays);
                return;
            }
            super.toHost(new float[0][]);
            long t0 = System.nanoTime(), b0 = device.bytesToHost();
            super.toHost(arrays);
            pullNanos += System.nanoTime() - t0;
            pullBytes += device.bytesToHost() - b0;
        }
    }

    /** Keeps what a worker gave to the sum and got back, step by step. */
    static final class Recording extends GradientExchange.Forwarding {
        final List<float[]> given = new ArrayList<>(), got = new ArrayList<>();

        Recording(GradientExchange inner) {
            super(inner);
        }

        @Override
        public void sum(long step, float[] grads) throws IOException {
            given.add(grads.clone());
            inner.sum(step, grads);
            got.add(grads.clone());
        }
    }
}
