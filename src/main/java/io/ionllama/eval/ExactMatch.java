package io.ionllama.eval;

import io.ionllama.data.Tasks;
import io.ionllama.generate.Generator;
import io.ionllama.generate.Sampling;
import io.ionllama.model.ByteModel;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Exact-match scoring of prompt/answer tasks ({@link CharTasks}, {@link ArithTasks}): each item's
 * prompt goes to an {@link Answerer}, whose reply must equal the answer byte for byte. The scoring
 * is separate from the model so that it can be checked with stubs (an oracle scores 100%, a wrong
 * answerer 0%); {@link #greedy} is the answerer for a real model.
 */
public final class ExactMatch {
    private ExactMatch() {}

    /** Bytes a reply may run past the expected answer's length before it is cut: room for a longer wrong answer. */
    public static final int SLACK = 8;
    /** Context window of the greedy answerer: a prompt and its answer are well under it. */
    static final int CONTEXT = 256;

    /** Answers one prompt: the bytes that follow it up to (not including) a newline, at most {@code maxBytes} of them. */
    @FunctionalInterface
    public interface Answerer {
        String answer(String prompt, int maxBytes);
    }

    /** Items of one slice of a task, and the tags that name the slice ({@code kind}, {@code split}, {@code digits}). */
    public record Slice(Map<String, String> tags, List<Tasks.Pair> items) {}

    /** How a slice did: {@code correct} of {@code items.size()} right, and the first wrong reply as an example. */
    public record Scored(Slice slice, int correct, String example) {}

    /**
     * Greedy decoding with {@code model}, for any model kind (incremental through its
     * {@link ByteModel.Decoder}). The prompt is preceded by a newline, so the model sees it at the
     * start of a line as every task line is in training; generation stops at a newline.
     */
    public static Answerer greedy(ByteModel model) {
        Generator generator = new Generator(model, CONTEXT);
        Sampling greedy = Sampling.greedy();
        return (prompt, maxBytes) -> {
            byte[] p = ("\n" + prompt).getBytes(StandardCharsets.UTF_8);
            int[] ctx = new int[p.length];
            for (int i = 0; i < p.length; i++) {
                ctx[i] = p[i] & 0xFF;
            }
            StringBuilder reply = new StringBuilder();
            generator.generate(ctx, maxBytes + 1, greedy, 0, b -> {
                if (b == '\n') {
                    return false;
                }
                reply.append((char) b); // byte for byte: any non-ASCII byte is a wrong answer anyway
                return reply.length() < maxBytes;
            });
            return reply.toString();
        };
    }

    /** Asks {@code answerer} every item of every slice; {@code progress} gets a line per slice. */
    public static List<Scored> score(List<Slice> slices, Answerer answerer, PrintStream progress, String task) {
        List<Scored> out = new ArrayList<>();
        for (Slice s : slices) {
            long t0 = System.nanoTime();
            int correct = 0;
            String example = null;
            for (Tasks.Pair item : s.items()) {
                String reply = answerer.answer(item.prompt(), item.answer().length() + SLACK);
                if (reply.equals(item.answer())) {
                    correct++;
                } else if (example == null) {
                    example = item.prompt() + printable(reply) + "   (want " + item.answer() + ")";
                }
            }
            out.add(new Scored(s, correct, example));
            if (progress != null) {
                progress.printf(Locale.ROOT, "%s: %-40s %4d/%-4d right (%.1f s)%n", task, label(s.tags()), correct, s.items().size(),
                        (System.nanoTime() - t0) / 1e9);
            }
        }
        return out;
    }

    /**
     * The metrics of scored slices: one per slice, and one per group of slices that agree on
     * {@code groupBy}'s tags (the totals), each an exact-match accuracy with its standard error.
     * Group totals are tagged with {@code total}'s tag replaced by "all".
     */
    public static List<Metric> metrics(String task, List<Scored> scored, List<String> groupBy, String total) {
        List<Metric> out = new ArrayList<>(), baselines = new ArrayList<>();
        Map<Map<String, String>, long[]> groups = new LinkedHashMap<>();
        for (Scored s : scored) {
            int n = s.slice().items().size(), constant = bestConstant(s.slice());
            out.add(Metric.accuracy(task, "exact_match", s.correct(), n, s.slice().tags()));
            baselines.add(Metric.accuracy(task, CONSTANT_BASELINE, constant, n, s.slice().tags()));
            Map<String, String> key = new LinkedHashMap<>();
            for (String g : groupBy) {
                key.put(g, s.slice().tags().get(g));
            }
            key.put(total, "all");
            long[] c = groups.computeIfAbsent(key, k -> new long[3]);
            c[0] += s.correct();
            c[1] += n;
            c[2] += constant;
        }
        groups.forEach((tags, c) -> out.add(Metric.accuracy(task, "exact_match", c[0], c[1], tags)));
        groups.forEach((tags, c) -> baselines.add(Metric.accuracy(task, CONSTANT_BASELINE, c[2], c[1], tags)));
        out.addAll(baselines);
        return out;
    }

    /**
     * The metric that says what a reply needs no skill for: the share of a slice's items whose
     * answer is the slice's most common one, what always giving that one reply scores (a group's:
     * each slice's best constant, summed). Counting letters is mostly "1" and containment "yes" or
     * "no", so an exact match is skill only where it is above this.
     */
    public static final String CONSTANT_BASELINE = "constant_baseline";

    /** Items of {@code slice} whose answer is its most common answer. */
    static int bestConstant(Slice slice) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        int best = 0;
        for (Tasks.Pair item : slice.items()) {
            best = Math.max(best, counts.merge(item.answer(), 1, Integer::sum));
        }
        return best;
    }

    /**
     * Prints metrics as a table: a row per value of {@code rowKeys} (in first-seen order), a column
     * per split (seen, held-out), each cell accuracy ± standard error (samples).
     */
    public static void table(PrintStream out, String title, List<Metric> metrics, List<String> rowKeys) {
        Map<String, Map<String, Metric>> rows = new LinkedHashMap<>();
        for (Metric m : metrics) {
            StringBuilder row = new StringBuilder();
            for (String k : rowKeys) {
                row.append(String.format("%-10s", m.tags().getOrDefault(k, "")));
            }
            String column = m.tags().get("split") + (m.name().equals(CONSTANT_BASELINE) ? " constant" : "");
            rows.computeIfAbsent(row.toString(), r -> new LinkedHashMap<>()).put(column, m);
        }
        out.println(title);
        StringBuilder head = new StringBuilder("  ");
        for (String k : rowKeys) {
            head.append(String.format("%-10s", k));
        }
        out.println(head.append(String.format("%-22s%-22s%s", "seen", "held-out", "held-out, best constant reply")).toString()
                .stripTrailing());
        rows.forEach((row, byColumn) -> out.println(("  " + row + cell(byColumn.get("seen")) + cell(byColumn.get("held-out"))
                + constantCell(byColumn.get("held-out constant"))).stripTrailing()));
    }

    private static String constantCell(Metric m) {
        return m == null || m.samples() == 0 ? "-" : String.format(Locale.ROOT, "%.3f", m.value());
    }

    private static String cell(Metric m) {
        if (m == null || m.samples() == 0) {
            return String.format("%-22s", "-");
        }
        return String.format(Locale.ROOT, "%-22s", String.format(Locale.ROOT, "%.3f ± %.3f (%d)", m.value(), m.stderr(), m.samples()));
    }

    /** A reply as a log can show it: bytes outside printable ASCII as \xNN. */
    static String printable(String reply) {
        StringBuilder b = new StringBuilder();
        for (char c : reply.toCharArray()) {
            if (c >= 32 && c < 127) {
                b.append(c);
            } else {
                b.append(String.format("\\x%02x", (int) c));
            }
        }
        return b.toString();
    }

    /** "kind=spell split=held-out", in the slice's tag order. */
    static String label(Map<String, String> tags) {
        StringBuilder b = new StringBuilder();
        tags.forEach((k, v) -> b.append(b.isEmpty() ? "" : " ").append(k).append('=').append(v));
        return b.toString();
    }

    /** Tags in the given order (Metric keeps a copy; the slice keeps this order for its progress line). */
    static Map<String, String> tags(String... keyValues) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put(keyValues[i], keyValues[i + 1]);
        }
        return m;
    }
}
