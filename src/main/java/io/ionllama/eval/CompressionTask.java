package io.ionllama.eval;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code compression}: how many bytes an ionLlama model folds into one patch (one step of its
 * global transformer), per file: the mean and the 10th, 50th, 90th and 99th percentiles of the
 * lengths of the patches the patcher closed, and the count of patches of each length (the report's
 * histogram). A patch left open at the end of a window was cut by the window and is not counted.
 * A model that does not patch (dense, rnn) has no such figure: it gets one NaN figure per file
 * tagged with the reason, so results.json says so instead of leaving the task out.
 */
public final class CompressionTask implements EvalTask {
    public static final String NAME = "compression";
    static final double[] QUANTILES = {0.10, 0.50, 0.90, 0.99};
    private final ScoreCache scores;

    public CompressionTask(ScoreCache scores) {
        this.scores = scores;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Metric> run(EvalContext ctx) {
        List<Metric> out = new ArrayList<>();
        if (ctx.model().patcher() == null) {
            ctx.log().printf("compression: the %s model does not patch its bytes: no bytes per patch%n", ctx.model().kind());
            for (EvalContext.Data d : ctx.data()) {
                Map<String, String> tags = tags(d);
                tags.put("note", "the " + ctx.model().kind() + " model does not patch");
                out.add(new Metric(NAME, "bytes_per_patch_mean", Double.NaN, Double.NaN, 0, tags));
            }
            return out;
        }
        ctx.log().printf(Locale.ROOT, "%-48s %10s %8s %6s %6s %6s %6s%n", "data", "patches", "mean", "p10", "p50", "p90", "p99");
        for (EvalContext.Data d : ctx.data()) {
            FileScore s = scores.score(ctx, d);
            Map<String, String> tags = tags(d);
            long n = s.patchCount();
            out.add(new Metric(NAME, "bytes_per_patch_mean", s.meanPatchLength(), patchStderr(s), n, tags));
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-48s %,10d %8.2f", LmTask.shorten(d.path()), n,
                    s.meanPatchLength()));
            for (double q : QUANTILES) {
                double v = s.patchLengthQuantile(q);
                out.add(new Metric(NAME, "bytes_per_patch_p" + Math.round(q * 100), v, Double.NaN, n, tags));
                row.append(String.format(Locale.ROOT, " %6.0f", v));
            }
            for (int k = 1; k < s.patchLengths.length; k++) {
                Map<String, String> lt = new LinkedHashMap<>(tags);
                lt.put("length", Integer.toString(k));
                out.add(new Metric(NAME, "patches_of_length", s.patchLengths[k], Double.NaN, n, lt));
            }
            ctx.log().println(row);
        }
        return out;
    }

    private static Map<String, String> tags(EvalContext.Data d) {
        Map<String, String> tags = new LinkedHashMap<>();
        tags.put("data", d.path());
        tags.put("label", d.label());
        return tags;
    }

    /** Standard error of the mean patch length: the lengths' standard deviation over the square root of their count. */
    static double patchStderr(FileScore s) {
        long n = s.patchCount();
        if (n < 2) {
            return Double.NaN;
        }
        double mean = s.meanPatchLength(), ss = 0;
        for (int k = 0; k < s.patchLengths.length; k++) {
            ss += s.patchLengths[k] * (k - mean) * (k - mean);
        }
        return Math.sqrt(ss / (n - 1) / n);
    }
}
