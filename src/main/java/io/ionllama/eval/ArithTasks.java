package io.ionllama.eval;

import io.ionllama.data.Tasks;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * {@code eval --tasks arith}: addition and multiplication of two d-digit numbers, d = 1 to 5, exact
 * match, greedy. Each operation and digit count is scored on operand pairs the training generator may
 * emit ({@code split=seen}) and on pairs it never emits ({@code split=held-out}, the pairs
 * {@link Tasks#heldOutPair} selects, about one in ten).
 *
 * <p>Each slice holds {@code ctx.limitOr(50)} distinct ordered pairs drawn from {@code ctx.seed()},
 * or all of them where fewer exist (one digit has 100 pairs, about ten of them held out). "Seen"
 * means the training distribution: for one and two digits nearly every such pair is in the embedded
 * corpus, for more digits most are new to the model and only the held-out rule separates the splits.
 */
public final class ArithTasks implements EvalTask {
    /** The name {@code --tasks} selects it by. */
    public static final String NAME = "arith";

    /** Items per slice (operation × digits × split) unless {@code --limit} says otherwise. */
    public static final int DEFAULT_SAMPLES = 50;
    /** Up to this many digits every pair of a slice is listed and shuffled; above, pairs are drawn. */
    private static final int ENUMERATE_UP_TO_DIGITS = 2;
    /** Most pairs a drawn slice holds: well under the 81,000 held-out pairs of three digits. */
    private static final int MAX_DRAWN = 10_000;

    public ArithTasks() {}

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
        int n = ctx.limitOr(DEFAULT_SAMPLES);
        List<ExactMatch.Slice> slices = slices(ctx.seed(), n);
        List<ExactMatch.Scored> scored = ExactMatch.score(slices, answerer, ctx.log(), name());
        List<Metric> metrics = ExactMatch.metrics(name(), scored, List.of("kind", "split"), "digits");
        // Per operation: the digit counts, then their total.
        List<Metric> ordered = new ArrayList<>();
        for (Tasks.Kind op : Tasks.ARITHMETIC_KINDS) {
            metrics.stream().filter(m -> m.tags().get("kind").equals(op.label()) && !m.tags().get("digits").equals("all")).forEach(ordered::add);
            metrics.stream().filter(m -> m.tags().get("kind").equals(op.label()) && m.tags().get("digits").equals("all")).forEach(ordered::add);
        }
        ExactMatch.table(ctx.log(), "arith: exact match, greedy, up to " + n + " distinct pairs per slice, seed " + ctx.seed(), ordered,
                List.of("kind", "digits"));
        for (ExactMatch.Scored s : scored) {
            if (s.example() != null && "held-out".equals(s.slice().tags().get("split")) && s.slice().tags().get("digits").equals("2")) {
                ctx.log().printf("  e.g. %s%n", s.example());
            }
        }
        return ordered;
    }

    /** The items: per operation and digit count, up to {@code n} seen pairs then up to {@code n} held-out pairs, seeded. */
    public static List<ExactMatch.Slice> slices(long seed, int n) {
        List<ExactMatch.Slice> slices = new ArrayList<>();
        for (Tasks.Kind op : Tasks.ARITHMETIC_KINDS) {
            for (int d = 1; d <= Tasks.MAX_DIGITS; d++) {
                for (String split : new String[] {"seen", "held-out"}) {
                    boolean heldOut = split.equals("held-out");
                    SplittableRandom rnd = CharTasks.sliceRandom(seed, op.label() + "/" + d + "/" + split);
                    List<Tasks.Pair> items = new ArrayList<>();
                    for (long[] ab : pairs(op, d, heldOut, n, rnd)) {
                        items.add(Tasks.arithmetic(op, ab[0], ab[1]));
                    }
                    slices.add(new ExactMatch.Slice(ExactMatch.tags("kind", op.label(), "digits", Integer.toString(d), "split", split),
                            items));
                }
            }
        }
        return slices;
    }

    /** Up to {@code n} distinct ordered {@code digits}-digit pairs on the given side of the held-out rule. */
    static List<long[]> pairs(Tasks.Kind op, int digits, boolean heldOut, int n, SplittableRandom rnd) {
        if (digits <= ENUMERATE_UP_TO_DIGITS) {
            // Few enough to list: every pair of the split, in a seeded order.
            List<long[]> all = new ArrayList<>();
            long lo = Tasks.lowest(digits), hi = Tasks.lowest(digits + 1);
            for (long a = lo; a < hi; a++) {
                for (long b = lo; b < hi; b++) {
                    if (Tasks.heldOutPair(op, a, b) == heldOut) {
                        all.add(new long[] {a, b});
                    }
                }
            }
            List<long[]> order = CharTasks.shuffled(all, rnd);
            return order.subList(0, Math.min(n, order.size()));
        }
        // At least 810,000 pairs, 81,000 held out: draw until enough distinct ones (capped, so a
        // huge --limit cannot ask for more than the split holds).
        Set<List<Long>> seen = new LinkedHashSet<>();
        while (seen.size() < Math.min(n, MAX_DRAWN)) {
            long[] ab = Tasks.operands(op, digits, heldOut, rnd);
            seen.add(List.of(ab[0], ab[1]));
        }
        return seen.stream().map(p -> new long[] {p.get(0), p.get(1)}).toList();
    }
}
