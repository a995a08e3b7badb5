package io.ionllama.eval;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code multilingual}: bits per byte and bytes per patch per language, from the labels of
 * {@code --data en=FILE zh=FILE ...} (a file without a label is its own language, named by its
 * file name; files sharing a label are pooled: their bits over their bytes). A byte-level model
 * pays per byte, so a script with more bytes per character costs more per character at the same
 * BPB; bytes per patch shows how far patching evens that out.
 */
public final class MultilingualTask implements EvalTask {
    public static final String NAME = "multilingual";
    private final ScoreCache scores;

    public MultilingualTask(ScoreCache scores) {
        this.scores = scores;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Metric> run(EvalContext ctx) {
        Map<String, List<FileScore>> byLang = new LinkedHashMap<>();
        for (EvalContext.Data d : ctx.data()) {
            byLang.computeIfAbsent(d.label(), k -> new ArrayList<>()).add(scores.score(ctx, d));
        }
        List<Metric> out = new ArrayList<>();
        ctx.log().printf(Locale.ROOT, "%-16s %6s %12s %8s %7s %10s%n", "language", "files", "bytes", "BPB", "± se", "bytes/pat");
        for (var e : byLang.entrySet()) {
            double bits = 0;
            long bytes = 0, patches = 0, patchBytes = 0;
            List<Double> windows = new ArrayList<>();
            boolean patching = false;
            for (FileScore s : e.getValue()) {
                bits += s.result.bpb() * s.result.bytes();
                bytes += s.result.bytes();
                for (double w : s.windowBpb) {
                    windows.add(w);
                }
                if (s.patchLengths != null) {
                    patching = true;
                    for (int k = 0; k < s.patchLengths.length; k++) {
                        patches += s.patchLengths[k];
                        patchBytes += k * s.patchLengths[k];
                    }
                }
            }
            double bpb = bytes == 0 ? Double.NaN : bits / bytes;
            double se = FileScore.stderr(windows.stream().mapToDouble(Double::doubleValue).toArray());
            double bpp = patches == 0 ? Double.NaN : (double) patchBytes / patches;
            Map<String, String> tags = new LinkedHashMap<>();
            tags.put("lang", e.getKey());
            tags.put("files", Integer.toString(e.getValue().size()));
            out.add(new Metric(NAME, "bpb", bpb, se, bytes, tags));
            if (patching) {
                out.add(new Metric(NAME, "bytes_per_patch", bpp, Double.NaN, patches, tags));
            }
            ctx.log().printf(Locale.ROOT, "%-16s %6d %,12d %8.4f %7.4f %10s%n", e.getKey(), e.getValue().size(), bytes, bpb, se,
                    patching ? String.format(Locale.ROOT, "%.2f", bpp) : "-");
        }
        return out;
    }
}
