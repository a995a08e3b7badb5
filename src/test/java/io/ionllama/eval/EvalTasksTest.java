package io.ionllama.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.model.ByteModel;
import java.io.ByteArrayOutputStream;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Each task of the suite on a constructed model with a known answer and on tiny models of every kind. */
class EvalTasksTest {

    static Metric find(List<Metric> ms, String name) {
        return ms.stream().filter(m -> m.name().equals(name)).findFirst().orElseThrow(() -> new AssertionError("no " + name + " in " + ms));
    }

    /** All logits equal: every byte costs log2(256) = 8 bits, the first of the file included, with no spread between windows. */
    @Test
    void aUniformModelScoresExactlyEightBitsPerByte() throws Exception {
        try (CpuBackend cpu = new CpuBackend(1)) {
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            EvalContext ctx = TinyModels.context(new UniformModel(cpu), log, TinyModels.data("en", TinyModels.TEXT));
            List<Metric> ms = new LmTask(new ScoreCache(64, 4)).run(ctx);
            Metric bpb = find(ms, "bpb");
            // The model reports its loss as a float: ln 256 rounded to float is 8 bits to within 1e-8.
            assertThat(bpb.value()).isCloseTo(8.0, within(1e-6));
            assertThat(bpb.stderr()).isCloseTo(0.0, within(1e-9));
            assertThat(bpb.samples()).isEqualTo(TinyModels.TEXT.length());
            assertThat(find(ms, "perplexity").value()).isCloseTo(256.0, within(1e-3));
            assertThat(bpb.tags()).containsEntry("label", "en").containsKeys("data", "context");
            assertThat(bpb.tags().get("context")).contains("windows of 64 bytes", "first byte costs 8 bits");
            assertThat(ms).noneMatch(m -> m.name().equals("bytes_per_patch")); // it does not patch
            assertThat(log.toString()).contains("en.txt", "8.0000");

            List<Metric> lang = new MultilingualTask(new ScoreCache(64, 4)).run(ctx);
            assertThat(find(lang, "bpb").value()).isCloseTo(8.0, within(1e-6));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ionllama", "dense", "rnn"})
    void everyTaskRunsOnEveryModelKind(String kind) throws Exception {
        try (CpuBackend cpu = new CpuBackend(1)) {
            ByteModel m = TinyModels.of(kind, cpu);
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            EvalContext ctx = TinyModels.context(m, log, TinyModels.data("en", TinyModels.TEXT),
                    TinyModels.data("zh", "小猫坐在垫子上。".repeat(20)));
            Suite.Settings s = new Suite.Settings(64, 4);
            List<Metric> lm = new LmTask(s.scores()).run(ctx);
            assertThat(lm).filteredOn(x -> x.name().equals("bpb")).hasSize(2)
                    .allSatisfy(x -> assertThat(x.value()).isBetween(4.0, 12.0)); // an untrained model: near 8 bits
            assertThat(find(lm, "bpb").stderr()).isPositive();

            List<Metric> lang = new MultilingualTask(s.scores()).run(ctx);
            assertThat(lang).filteredOn(x -> x.name().equals("bpb")).extracting(x -> x.tags().get("lang")).containsExactly("en", "zh");
            // The same pass as lm's: the figures agree exactly.
            assertThat(find(lang, "bpb").value()).isCloseTo(find(lm, "bpb").value(), within(1e-12));

            List<Metric> comp = new CompressionTask(s.scores()).run(ctx);
            if (kind.equals("ionllama")) {
                Metric mean = find(comp, "bytes_per_patch_mean");
                assertThat(mean.value()).isBetween(1.0, 8.0);
                assertThat(find(comp, "bytes_per_patch_p10").value()).isLessThanOrEqualTo(find(comp, "bytes_per_patch_p50").value());
                assertThat(find(comp, "bytes_per_patch_p90").value()).isLessThanOrEqualTo(find(comp, "bytes_per_patch_p99").value());
                // "the cat sat on the mat. ": space patching closes "the " at its space: a length of 4 is common.
                assertThat(comp).anyMatch(x -> x.name().equals("patches_of_length") && x.tags().get("length").equals("4") && x.value() > 0);
            } else {
                assertThat(comp).allSatisfy(x -> {
                    assertThat(x.value()).isNaN();
                    assertThat(x.tags().get("note")).contains("does not patch");
                });
            }

            List<Metric> speed = new SpeedTask(64, 4).run(ctx);
            assertThat(find(speed, "score_bytes_per_s").value()).isPositive();
            assertThat(find(speed, "generate_bytes_per_s").value()).isPositive();
            assertThat(find(speed, "first_byte_ms").value()).isPositive();
            assertThat(find(speed, "first_byte_ms").tags()).containsEntry("threads", "1").containsEntry("backend", "cpu");

            List<Metric> mem = new MemoryTask(64, 4).run(ctx);
            assertThat(mem).extracting(x -> x.tags().get("phase") + "/" + x.name()).containsExactly(
                    "evaluate/peak_heap_mib", "evaluate/peak_rss_mib", "train_step/peak_heap_mib", "train_step/peak_rss_mib");
            assertThat(mem).filteredOn(x -> x.name().equals("peak_heap_mib")).allSatisfy(x -> assertThat(x.value()).isPositive());
            if (java.nio.file.Files.exists(java.nio.file.Path.of("/proc/self/status"))) {
                assertThat(mem).filteredOn(x -> x.name().equals("peak_rss_mib")).allSatisfy(x -> assertThat(x.value()).isPositive());
            }
            // The training step put the weights back: the model scores as before.
            List<Metric> again = new LmTask(new ScoreCache(64, 4)).run(ctx);
            assertThat(find(again, "bpb").value()).isEqualTo(find(lm, "bpb").value());
        }
    }

    @Test
    void patchLengthQuantilesAndStderr() {
        assertThat(FileScore.stderr(new double[] {1, 1, 1})).isZero();
        assertThat(FileScore.stderr(new double[] {1})).isNaN();
        assertThat(FileScore.stderr(new double[] {1, 3})).isCloseTo(1.0, within(1e-12)); // sd sqrt(2), over sqrt(2)
    }
}
