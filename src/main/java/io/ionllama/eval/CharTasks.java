package io.ionllama.eval;

import io.ionllama.data.TaskWords;
import io.ionllama.data.Tasks;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * {@code eval --tasks chars}: the character tasks of {@link Tasks} (spell, count, reverse, and
 * CUTE's contains and replace), exact match, greedy. Each kind is scored on words the training
 * text's task lines use ({@code split=seen}, {@link TaskWords#TRAIN}) and on held-out words no task
 * line of it ever uses ({@code split=held-out}, {@link TaskWords#HELD_OUT}): memorised words are not
 * character skill, the held-out column is the one that counts.
 *
 * <p>Each slice holds {@code ctx.limitOr(50)} items on distinct words (words repeat, with other
 * letters asked about, only past the list's length), drawn from {@code ctx.seed()}: the same seed
 * asks the same questions of every model.
 */
public final class CharTasks implements EvalTask {
    /** The name {@code --tasks} selects it by. */
    public static final String NAME = "chars";

    /** Items per slice (kind × split) unless {@code --limit} says otherwise. */
    public static final int DEFAULT_SAMPLES = 50;

    public CharTasks() {}

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Metric> run(EvalContext ctx) {
        return run(ctx, ExactMatch.greedy(ctx.model()));
    }

    /** Scores {@code answerer} (a model's greedy replies, or a test's stub) on the slices of {@link #slices}. */
    public List<Metric> run(EvalContext ctx, ExactMatch.Answerer answerer) {
        List<ExactMatch.Slice> slices = slices(ctx.seed(), ctx.limitOr(DEFAULT_SAMPLES));
        List<ExactMatch.Scored> scored = ExactMatch.score(slices, answerer, ctx.log(), name());
        List<Metric> metrics = ExactMatch.metrics(name(), scored, List.of("split"), "kind");
        ExactMatch.table(ctx.log(), "chars: exact match, greedy, " + slices.get(0).items().size() + " items per slice, seed "
                + ctx.seed(), metrics, List.of("kind"));
        for (ExactMatch.Scored s : scored) {
            if (s.example() != null && "held-out".equals(s.slice().tags().get("split"))) {
                ctx.log().printf("  e.g. %s%n", s.example());
            }
        }
        return metrics;
    }

    /** The items: per kind, {@code n} on training words then {@code n} on held-out words, seeded. */
    public static List<ExactMatch.Slice> slices(long seed, int n) {
        List<ExactMatch.Slice> slices = new ArrayList<>();
        for (Tasks.Kind kind : Tasks.CHARACTER_KINDS) {
            for (String split : new String[] {"seen", "held-out"}) {
                List<String> words = split.equals("seen") ? TaskWords.TRAIN : TaskWords.HELD_OUT;
                SplittableRandom rnd = sliceRandom(seed, kind.label() + "/" + split);
                List<String> order = shuffled(words, rnd);
                List<Tasks.Pair> items = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    items.add(Tasks.onWord(kind, order.get(i % order.size()), rnd));
                }
                slices.add(new ExactMatch.Slice(ExactMatch.tags("kind", kind.label(), "split", split), items));
            }
        }
        return slices;
    }

    /** A generator for one slice, independent of the other slices and of how many items each holds. */
    static SplittableRandom sliceRandom(long seed, String slice) {
        return new SplittableRandom(seed * 0x9E3779B97F4A7C15L + slice.hashCode());
    }

    /** {@code list} in a seeded random order (Fisher–Yates). */
    static <T> List<T> shuffled(List<T> list, SplittableRandom rnd) {
        List<T> a = new ArrayList<>(list);
        for (int i = a.size() - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            T t = a.get(i);
            a.set(i, a.get(j));
            a.set(j, t);
        }
        return a;
    }
}
