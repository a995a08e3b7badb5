package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.model.IonLlama;
import io.ionllama.testing.ThreadExchange;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * N data-parallel workers ({@link Trainer#dataParallel}, each its own model and backend) equal one
 * trainer summing N micro-batches with {@link Trainer.AccumSum#SEPARATE}, bit for bit: parameters,
 * losses and the patch threshold, through the entropy warm-up and past it (calibration on).
 * The exchange here ({@link ThreadExchange}) sums in threads; ionllama-spark's sums over TCP in the same order.
 */
class DataParallelTest {

    static final int STEPS = 7; // the config's entropy warm-up is 4: three steps calibrate

    @ParameterizedTest
    @CsvSource({"adamw, 2", "muon, 3"})
    void workersEqualSeparateAccumulation(String optimizer, int n) throws Exception {
        TrainConfig cfg = config(optimizer, n);
        IonLlama one;
        List<Double> lossesOne = new ArrayList<>();
        try (CpuBackend be = new CpuBackend(1)) {
            one = ResumeTest.model(be);
            Trainer t = new Trainer(one, ResumeTest.data, cfg).accumSum(Trainer.AccumSum.SEPARATE);
            for (int i = 0; i < STEPS; i++) {
                lossesOne.add(t.step().loss());
            }
        }
        ThreadExchange.Group group = new ThreadExchange.Group(n);
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<Object[]>> workers = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                int rank = r;
                workers.add(pool.submit(() -> {
                    try (CpuBackend be = new CpuBackend(1)) {
                        IonLlama m = ResumeTest.model(be);
                        Trainer t = new Trainer(m, ResumeTest.data, cfg).dataParallel(group.member(rank));
                        List<Double> losses = new ArrayList<>();
                        for (int i = 0; i < STEPS; i++) {
                            losses.add(t.step().loss());
                        }
                        return new Object[] {m, losses};
                    }
                }));
            }
            for (Future<Object[]> w : workers) {
                IonLlama m = (IonLlama) w.get()[0];
                assertThat(m.params()).as("parameters").isEqualTo(one.params());
                assertThat(w.get()[1]).as("losses").isEqualTo(lossesOne);
                assertThat(m.stateMeta()).as("patch threshold").isEqualTo(one.stateMeta());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * The check above can fail: summing in place (the default) gives other bits than summing
     * separately, so equality with the workers depends on the order of the sum.
     */
    @org.junit.jupiter.api.Test
    void inPlaceAccumulationGivesOtherBits() {
        TrainConfig cfg = config("adamw", 2);
        try (CpuBackend be = new CpuBackend(1)) {
            IonLlama inPlace = ResumeTest.model(be), separate = ResumeTest.model(be);
            Trainer a = new Trainer(inPlace, ResumeTest.data, cfg);
            Trainer b = new Trainer(separate, ResumeTest.data, cfg).accumSum(Trainer.AccumSum.SEPARATE);
            for (int i = 0; i < 2; i++) {
                a.step();
                b.step();
            }
            assertThat(inPlace.params()).isNotEqualTo(separate.params());
        }
    }

    static TrainConfig config(String optimizer, int accum) {
        TrainConfig c = ResumeTest.train(optimizer);
        return new TrainConfig(c.batch(), c.seqLen(), accum, c.lr(), c.minLr(), c.warmup(), c.maxSteps(), c.optimizer(),
                c.weightDecay(), c.clip(), c.seed(), c.entropyWarmup(), c.adamwLr());
    }
}
