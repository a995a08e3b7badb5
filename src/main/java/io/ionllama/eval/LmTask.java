package io.ionllama.eval;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code lm}: language modelling over each whole file, as {@code ionllama eval} has always measured it:
 * bits per byte (with its per-window standard error, {@link FileScore#bpbStderr}), per-byte
 * perplexity, next-byte accuracy (greedy), bytes per patch and scoring speed, with the number of
 * bytes scored: every byte, the first of each file included (charged 8 bits: it has no context).
 * The context protocol is a tag of every figure: consecutive windows of {@code --seq-len} bytes,
 * each byte scored once with the bytes before it in its window as its context.
 */
public final class LmTask implements EvalTask {
    public static final String NAME = "lm";
    private final ScoreCache scores;

    public LmTask(ScoreCache scores) {
        this.scores = scores;
    }

    @Override
    public String name() {
        return NAME;
    }

    /** The protocol tag's text for windows of {@code window} bytes. */
    static String protocol(int window) {
        return "windows of " + window + " bytes; each byte scored once, with the bytes before it in its window; "
                + "a file's first byte costs 8 bits";
    }

    /** Tags of one file's figures: which file, its label, the protocol. */
    static Map<String, String> fileTags(FileScore s) {
        Map<String, String> tags = new LinkedHashMap<>();
        tags.put("data", s.data.path());
        tags.put("label", s.data.label());
        tags.put("context", protocol(s.window));
        return tags;
    }

    @Override
    public List<Metric> run(EvalContext ctx) {
        List<Metric> out = new ArrayList<>();
        ctx.log().printf(Locale.ROOT, "%-48s %10s %8s %7s %8s %8s %10s %10s%n", "data", "bytes", "BPB", "± se", "ppl", "acc",
                "bytes/pat", "bytes/s");
        for (EvalContext.Data d : ctx.data()) {
            FileScore s = scores.score(ctx, d);
            var r = s.result;
            double speed = r.bytes() / s.seconds;
            ctx.log().printf(Locale.ROOT, "%-48s %,10d %8.4f %7.4f %8.3f %8.4f %10.2f %,10.0f%n", shorten(d.path()), r.bytes(),
                    r.bpb(), s.bpbStderr(), r.perplexity(), r.accuracy(), r.bytesPerPatch(), speed);
            Map<String, String> tags = fileTags(s);
            out.add(new Metric(NAME, "bpb", r.bpb(), s.bpbStderr(), r.bytes(), tags));
            out.add(new Metric(NAME, "perplexity", r.perplexity(), Double.NaN, r.bytes(), tags));
            out.add(new Metric(NAME, "loss_nats", r.loss(), s.bpbStderr() * Math.log(2), r.bytes(), tags));
            out.add(Metric.accuracy(NAME, "accuracy", Math.round(r.accuracy() * r.bytes()), r.bytes(), tags));
            if (s.patchLengths != null) {
                out.add(new Metric(NAME, "bytes_per_patch", r.bytesPerPatch(), Double.NaN, s.patchCount(), tags));
            }
            out.add(new Metric(NAME, "bytes_per_s", speed, Double.NaN, r.bytes(), tags));
        }
        return out;
    }

    static String shorten(String s) {
        return s.length() <= 48 ? s : "..." + s.substring(s.length() - 45);
    }
}
