package io.ionllama.eval;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.data.TaskWords;
import io.ionllama.data.Tasks;
import io.ionllama.model.ByteModel;
import io.ionllama.model.ContextRnn;
import io.ionllama.model.DenseConfig;
import io.ionllama.model.DenseGpt;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import io.ionllama.model.RnnConfig;
import io.ionllama.testing.CpuBackendTest;
import io.ionllama.testing.TaskOracle;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The exact-match scorers of {@code eval --tasks chars,arith}: an oracle that works every answer
 * out from the prompt scores exactly 100% in every slice, an answerer wrong in one byte exactly 0%,
 * the held-out slices ask only about held-out words and pairs, and a real model of each kind runs
 * through every slice.
 */
class TaskScorersTest extends CpuBackendTest {

    private final ByteArrayOutputStream log = new ByteArrayOutputStream();

    private EvalContext context(ByteModel model, int limit, long seed) {
        return new EvalContext(model, model == null ? null : model.backend(), List.of(), limit, seed, 2,
                new PrintStream(log, true, StandardCharsets.UTF_8));
    }

    private static final ExactMatch.Answerer ORACLE = (prompt, max) -> {
        String a = TaskOracle.solve(prompt);
        assertThat(a).as("a task prompt: %s", prompt).isNotNull();
        assertThat(max).as("room for the answer to %s", prompt).isGreaterThanOrEqualTo(a.length());
        return a;
    };

    /** The right answer with its last byte changed: exact match must count it wrong. */
    private static final ExactMatch.Answerer WRONG_IN_ONE_BYTE = (prompt, max) -> {
        String a = TaskOracle.solve(prompt);
        char last = a.charAt(a.length() - 1);
        return a.substring(0, a.length() - 1) + (last == 'x' ? 'y' : 'x');
    };

    private static List<EvalTask> tasks() {
        return List.of(new CharTasks(), new ArithTasks());
    }

    private static List<Metric> run(EvalTask task, EvalContext ctx, ExactMatch.Answerer answerer) {
        return task instanceof CharTasks c ? c.run(ctx, answerer) : ((ArithTasks) task).run(ctx, answerer);
    }

    @Test
    void anOracleScoresOneHundredPercentInEverySlice() {
        for (EvalTask task : tasks()) {
            List<Metric> all = run(task, context(null, 20, 7), ORACLE);
            List<Metric> metrics = all.stream().filter(m -> m.name().equals("exact_match")).toList();
            // chars: 5 kinds x 2 splits + a total per split; arith: 2 operations x 5 digit counts x 2 splits + a total per operation and split.
            assertThat(metrics).hasSize(task instanceof CharTasks ? 12 : 24);
            // Beside each, the best constant reply's score on the same items.
            assertThat(all).hasSize(2 * metrics.size());
            for (Metric m : metrics) {
                assertThat(m.task()).isEqualTo(task.name());
                assertThat(m.name()).isEqualTo("exact_match");
                assertThat(m.value()).as("%s", m).isEqualTo(1.0);
                assertThat(m.stderr()).isZero();
                assertThat(m.samples()).isPositive();
                assertThat(m.tags()).containsKeys("kind", "split");
            }
        }
        String out = log.toString(StandardCharsets.UTF_8);
        assertThat(out).contains("chars: exact match", "arith: exact match", "seen", "held-out", "replace", "multiply",
                "1.000 ± 0.000 (20)");
    }

    @Test
    void aWrongAnswererScoresZero() {
        for (EvalTask task : tasks()) {
            for (Metric m : run(task, context(null, 20, 7), WRONG_IN_ONE_BYTE)) {
                if (m.name().equals(ExactMatch.CONSTANT_BASELINE)) {
                    continue; // a property of the items, not of the answerer
                }
                assertThat(m.value()).as("%s", m).isZero();
                assertThat(m.samples()).isPositive();
            }
        }
        assertThat(log.toString(StandardCharsets.UTF_8)).contains("(want ");
    }

    @Test
    void slicesAreSeededAndHeldOutSlicesAskOnlyAboutHeldOutItems() {
        List<ExactMatch.Slice> chars = CharTasks.slices(3, 60);
        assertThat(chars).hasSize(10);
        for (ExactMatch.Slice s : chars) {
            boolean heldOut = s.tags().get("split").equals("held-out");
            assertThat(s.items()).hasSize(60);
            assertThat(s.items().stream().map(p -> p.prompt()).distinct().count()).as("distinct words").isEqualTo(60);
            for (Tasks.Pair p : s.items()) {
                String word = TaskOracle.parse(p.prompt()).parts().group(p.kind() == Tasks.Kind.REPLACE ? 3
                        : p.kind() == Tasks.Kind.COUNT || p.kind() == Tasks.Kind.CONTAINS ? 2 : 1);
                assertThat(heldOut ? TaskWords.HELD_OUT : TaskWords.TRAIN).as(p.prompt()).contains(word);
                assertThat(p.kind().label()).isEqualTo(s.tags().get("kind"));
            }
        }
        List<ExactMatch.Slice> arith = ArithTasks.slices(3, 60);
        assertThat(arith).hasSize(20);
        for (ExactMatch.Slice s : arith) {
            boolean heldOut = s.tags().get("split").equals("held-out");
            int digits = Integer.parseInt(s.tags().get("digits"));
            assertThat(s.items().stream().map(p -> p.prompt()).distinct().count()).isEqualTo(s.items().size());
            // One digit has 100 ordered pairs, about ten held out: every one of them, then.
            assertThat(s.items()).hasSizeBetween(digits == 1 && heldOut ? 4 : 60, 60);
            for (Tasks.Pair p : s.items()) {
                var parts = TaskOracle.parse(p.prompt()).parts();
                long a = Long.parseLong(parts.group(1)), b = Long.parseLong(parts.group(2));
                assertThat(Tasks.heldOutPair(p.kind(), a, b)).as(p.prompt()).isEqualTo(heldOut);
                assertThat(parts.group(1)).hasSize(digits);
                assertThat(parts.group(2)).hasSize(digits);
            }
        }
        // The same seed asks the same questions; another seed others.
        assertThat(prompts(CharTasks.slices(3, 60))).isEqualTo(prompts(chars));
        assertThat(prompts(ArithTasks.slices(3, 60))).isEqualTo(prompts(arith));
        assertThat(prompts(CharTasks.slices(4, 60))).isNotEqualTo(prompts(chars));
        assertThat(prompts(ArithTasks.slices(4, 60))).isNotEqualTo(prompts(arith));
    }

    private static List<String> prompts(List<ExactMatch.Slice> slices) {
        return slices.stream().flatMap(s -> s.items().stream()).map(Tasks.Pair::prompt).toList();
    }

    /** A tiny untrained model of each kind goes through every slice greedily (any accuracy: it only has to run and count). */
    @ParameterizedTest
    @ValueSource(strings = {"ionllama", "dense", "rnn"})
    void aRealModelOfEveryKindRunsThroughEverySlice(String kind) throws Exception {
        ByteModel model = switch (kind) {
            case "ionllama" -> {
                ModelConfig c = new ModelConfig("nano", 32, 32, 2, 2, 1, 1, 16, 1, new int[] {3, 4}, 97, 48, 48, 3, 8, 3f).validate();
                yield new IonLlama(c, cpu, Patcher.parse("fixed:3", c.maxPatch(), c.targetPatch()), false);
            }
            case "dense" -> new DenseGpt(new DenseConfig(16, 2, 2, 24, 48).validate(), cpu);
            default -> new ContextRnn(new RnnConfig(8, 16, 8, 2), cpu);
        };
        model.init(11);
        AtomicInteger asked = new AtomicInteger();
        ExactMatch.Answerer greedy = ExactMatch.greedy(model);
        ExactMatch.Answerer counting = (prompt, max) -> {
            asked.incrementAndGet();
            String reply = greedy.answer(prompt, max);
            assertThat(reply.length()).isLessThanOrEqualTo(max);
            assertThat(reply).doesNotContain("\n");
            return reply;
        };
        for (EvalTask task : tasks()) {
            List<Metric> metrics = run(task, context(model, 2, 1), counting);
            for (Metric m : metrics) {
                assertThat(m.value()).isBetween(0.0, 1.0);
                if (!m.tags().containsValue("all")) {
                    assertThat(m.samples()).as("%s", m).isEqualTo(2);
                }
            }
        }
        assertThat(asked.get()).isEqualTo(5 * 2 * 2 + 2 * 5 * 2 * 2);
        // The EvalTask entry point builds the same greedy answerer itself.
        Map<String, String> tags = new CharTasks().run(context(model, 1, 1)).get(0).tags();
        assertThat(tags).containsEntry("kind", "spell").containsEntry("split", "seen");
    }

    /**
     * The constant baseline is what the best single reply scores: always answering a slice's most
     * common answer gets exactly it, and no other constant reply gets more.
     */
    @Test
    void theConstantBaselineIsWhatTheBestSingleReplyScores() {
        List<ExactMatch.Slice> slices = CharTasks.slices(0, 20);
        List<Metric> metrics = ExactMatch.metrics("chars", ExactMatch.score(slices, ORACLE, null, "chars"), List.of("split"), "kind");
        for (ExactMatch.Slice s : slices) {
            Metric baseline = metrics.stream().filter(m -> m.name().equals(ExactMatch.CONSTANT_BASELINE) && m.tags().equals(s.tags()))
                    .findFirst().orElseThrow();
            double best = 0;
            for (String reply : s.items().stream().map(p -> p.answer()).distinct().toList()) {
                int right = ExactMatch.score(List.of(s), (prompt, max) -> reply, null, "chars").get(0).correct();
                best = Math.max(best, right / (double) s.items().size());
            }
            assertThat(baseline.value()).as("%s", s.tags()).isEqualTo(best);
        }
        // Counting letters is mostly "1": the held-out slice's constant baseline is far above zero.
        Metric count = metrics.stream().filter(m -> m.name().equals(ExactMatch.CONSTANT_BASELINE)
                && "count".equals(m.tags().get("kind")) && "held-out".equals(m.tags().get("split"))).findFirst().orElseThrow();
        assertThat(count.value()).isGreaterThan(0.5);
    }
}
