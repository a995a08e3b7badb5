package io.ionllama.train;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.ionllama.model.Architecture;
import io.ionllama.model.DenseConfig;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.RnnConfig;
import io.ionllama.model.StepFlops;
import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * The equal-compute comparison's report ({@code scripts/compare} runs it): reads the run folders
 * of a comparison and writes {@code summary.md} (one row per run: flags, parameters, training
 * FLOPs per byte, bytes/s, validation BPB over the whole file, bytes per patch, the learning rates
 * tried) and {@code valid-bpb-vs-time.png} (every run's validation BPB against training time).
 *
 * <pre>
 *   java -cp target/ionllama.jar io.ionllama.train.CompareReport OUT RUN...
 * </pre>
 *
 * A run folder {@code OUT/RUN} holds the training run (latest.safetensors, metrics.jsonl),
 * {@code flags.txt} (the model's flags), {@code lr.txt} (the peak rate used) and {@code eval.json}
 * ({@code ionllama eval --results}); the sweep's runs are {@code OUT/sweep/RUN/lr-X} with their
 * metrics.jsonl. A run without its files is listed as missing.
 */
public final class CompareReport {
    private CompareReport() {}

    /** One run's figures (NaN: unknown). */
    record Row(String run, String flags, String lr, long params, double flopsPerByte, double bytesPerSecond, double validBpb,
               double bytesPerPatch, double seconds, long steps, String lrsTried, List<double[]> curve, String note) {}

    public static void main(String[] args) throws IOException {
        if (args.length < 2) {
            System.err.println("usage: CompareReport OUT RUN...");
            System.exit(2);
        }
        Path out = Path.of(args[0]);
        List<Row> rows = new ArrayList<>();
        for (String run : Arrays.copyOfRange(args, 1, args.length)) {
            rows.add(row(out, run));
        }
        Path md = out.resolve("summary.md");
        Files.writeString(md, table(out, rows), StandardCharsets.UTF_8);
        Path png = out.resolve("valid-bpb-vs-time.png");
        plot(png, rows);
        System.out.print(Files.readString(md));
        System.out.println("\nsummary: " + md + "\nplot:    " + png);
    }

    static Row row(Path out, String run) throws IOException {
        Path dir = out.resolve(run);
        String flags = read(dir.resolve("flags.txt"));
        String lr = read(dir.resolve("lr.txt"));
        String tried = sweep(out.resolve("sweep").resolve(run));
        Path ckpt = dir.resolve("latest.safetensors");
        Path evalFile = dir.resolve("eval.json");
        if (!Files.exists(ckpt) || !Files.exists(evalFile)) {
            String note = Files.exists(dir.resolve("skipped.txt")) ? read(dir.resolve("skipped.txt")) : "not run (no eval.json)";
            return new Row(run, flags, lr, 0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0, tried, List.of(), note);
        }
        JsonObject eval = JsonParser.parseString(Files.readString(evalFile)).getAsJsonObject();
        JsonObject res = eval.getAsJsonArray("results").get(0).getAsJsonObject();
        double bpb = res.get("bpb").getAsDouble();
        double bpp = res.get("bytes_per_patch").getAsDouble();
        Checkpoint.Meta meta = Checkpoint.readMeta(ckpt);
        int batch = Integer.parseInt(meta.raw().getOrDefault("train.batch", "8"));
        int seqLen = Integer.parseInt(meta.raw().getOrDefault("train.seq_len", "256"));
        long params;
        double flops = Double.NaN;
        if (meta.config() != null) {
            ModelConfig c = meta.config();
            params = meta.layout().total(); // a tokun patcher's tokun.proj included, its frozen tokun not
            // Training FLOPs (forward + backward) per byte at the training shape, with the mean patch
            // length measured on the validation file (a frozen tokun's encoder forward included).
            int[] patches = new int[batch];
            Arrays.fill(patches, (int) Math.max(1, Math.round(seqLen / Math.max(1.0, bpp))));
            flops = StepFlops.perStep(c, (long) batch * seqLen, patches, meta.dense(), meta.patchTokun() ? meta.tokunConfig() : null)
                    / ((double) batch * seqLen);
        } else if (meta.denseConfig() != null) {
            DenseConfig c = meta.denseConfig();
            params = Architecture.dense(c).total();
            flops = StepFlops.perStepDense(c, batch, seqLen) / ((double) batch * seqLen);
        } else {
            RnnConfig c = meta.rnnConfig();
            params = Architecture.rnn(c).total();
            flops = StepFlops.perStepRnn(c, (long) batch * seqLen) / ((double) batch * seqLen);
        }
        List<double[]> curve = new ArrayList<>();
        double rate = Double.NaN, seconds = Double.NaN;
        long steps = 0;
        Path metrics = dir.resolve("metrics.jsonl");
        if (Files.exists(metrics)) {
            for (String line : Files.readAllLines(metrics)) {
                if (line.isBlank()) {
                    continue;
                }
                JsonObject r = JsonParser.parseString(line).getAsJsonObject();
                String kind = str(r, "kind");
                double elapsed = num(r, "elapsed_s");
                if ("valid".equals(kind) && Double.isFinite(elapsed)) {
                    curve.add(new double[] {elapsed, num(r, "bpb")});
                }
                double seen = num(r, "bytes_seen");
                if (Double.isFinite(seen) && elapsed > 0) {
                    rate = seen / elapsed; // bytes trained per second of the run's training clock so far
                }
                if (Double.isFinite(elapsed)) {
                    seconds = elapsed;
                    steps = (long) num(r, "step");
                }
            }
        }
        return new Row(run, flags, lr, params, flops, rate, bpb, bpp, seconds, steps, tried, curve, "");
    }

    /** The sweep's rates and each one's last validation BPB, the kept one starred ({@code best.txt}). */
    static String sweep(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return "-";
        }
        String best = read(dir.resolve("best.txt"));
        List<String> parts = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(Files::isDirectory).sorted().toList()) {
                String name = p.getFileName().toString();
                if (!name.startsWith("lr-")) {
                    continue;
                }
                String lr = name.substring(3);
                double v = lastValid(p.resolve("metrics.jsonl"));
                parts.add(lr + (Double.isFinite(v) ? String.format(Locale.ROOT, ": %.3f", v) : ": -") + (lr.equals(best) ? "*" : ""));
            }
        }
        return parts.isEmpty() ? "-" : String.join(", ", parts);
    }

    /** The last validation BPB of a run's metrics.jsonl (NaN: none). */
    public static double lastValid(Path metrics) throws IOException {
        double v = Double.NaN;
        if (Files.exists(metrics)) {
            for (String line : Files.readAllLines(metrics)) {
                if (line.contains("\"valid\"")) {
                    JsonObject r = JsonParser.parseString(line).getAsJsonObject();
                    if ("valid".equals(str(r, "kind"))) {
                        v = num(r, "bpb");
                    }
                }
            }
        }
        return v;
    }

    static String table(Path out, List<Row> rows) {
        StringBuilder b = new StringBuilder();
        b.append("| run | model flags | peak lr | params | train FLOPs/byte | bytes/s | valid BPB (whole file) | bytes/patch "
                + "| steps | time | LRs tried (last valid BPB; * kept) |\n");
        b.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
        for (Row r : rows) {
            if (!r.note().isEmpty()) {
                b.append(String.format(Locale.ROOT, "| %s | `%s` | %s | | | | %s | | | | %s |%n", r.run(), r.flags(), r.lr(), r.note(),
                        r.lrsTried()));
                continue;
            }
            b.append(String.format(Locale.ROOT, "| %s | `%s` | %s | %s | %s | %,.0f | **%.4f** | %s | %d | %s | %s |%n", r.run(),
                    r.flags(), r.lr(), r.params() > 0 ? String.format(Locale.ROOT, "%,d", r.params()) : "?",
                    Double.isFinite(r.flopsPerByte()) ? String.format(Locale.ROOT, "%.2f M", r.flopsPerByte() / 1e6) : "?",
                    r.bytesPerSecond(), r.validBpb(), r.bytesPerPatch() > 0 ? String.format(Locale.ROOT, "%.2f", r.bytesPerPatch()) : "- (no patches)",
                    r.steps(), TrainRun.duration(r.seconds()), r.lrsTried()));
        }
        b.append("\nbytes/s: bytes trained per second of training time as the run measured it (its --clock; scripts/compare uses cpu, "
                + "the process's CPU time, evaluations included): the last "
                + "metrics.jsonl record's bytes_seen / elapsed_s; train FLOPs/byte: forward + backward matmul and attention FLOPs per training byte "
                + "(StepFlops, ionLlama at the measured mean patch length); valid BPB: `ionllama eval` over the whole validation file.\n");
        return b.toString();
    }

    static void plot(Path png, List<Row> rows) throws IOException {
        System.setProperty("java.awt.headless", "true");
        double tMax = rows.stream().flatMap(r -> r.curve().stream()).mapToDouble(p -> p[0]).max().orElse(0);
        boolean minutes = tMax > 180;
        XYSeriesCollection data = new XYSeriesCollection();
        List<Double> ys = new ArrayList<>();
        double lastTop = Double.NEGATIVE_INFINITY;
        for (Row r : rows) {
            if (r.curve().isEmpty()) {
                continue;
            }
            XYSeries s = new XYSeries(r.run());
            for (double[] p : r.curve()) {
                if (Double.isFinite(p[1])) {
                    s.add(minutes ? p[0] / 60 : p[0], p[1]);
                    ys.add(p[1]);
                }
            }
            double last = r.curve().get(r.curve().size() - 1)[1];
            if (Double.isFinite(last)) {
                lastTop = Math.max(lastTop, last);
            }
            data.addSeries(s);
        }
        JFreeChart chart = ChartFactory.createXYLineChart("validation BPB against training time (equal compute)",
                "training time (" + (minutes ? "minutes" : "seconds") + ")", "validation bits per byte", data,
                PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = CurvePlot.whitePlot(chart);
        XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, true);
        Color[] palette = {new Color(0x1F77B4), new Color(0xD62728), new Color(0x2CA02C), new Color(0xFF7F0E), new Color(0x9467BD),
            new Color(0x8C564B), new Color(0xE377C2), new Color(0x7F7F7F), new Color(0x17BECF)};
        for (int i = 0; i < data.getSeriesCount(); i++) {
            r.setSeriesPaint(i, palette[i % palette.length]);
            r.setSeriesStroke(i, new BasicStroke(1.8f));
        }
        plot.setRenderer(r);
        if (ys.size() >= 10) {
            // The first evaluations (an untrained model, ~8 BPB) would flatten the rest: the top is the
            // 85th percentile of all points, or higher to show every run's last point.
            List<Double> sorted = ys.stream().sorted().toList();
            double yMin = sorted.get(0);
            double top = Math.max(sorted.get((int) Math.floor(0.85 * (sorted.size() - 1))), lastTop);
            NumberAxis range = (NumberAxis) plot.getRangeAxis();
            range.setRange(Math.max(0, yMin - 0.05 * (top - yMin) - 0.01), top + 0.05 * (top - yMin) + 0.01);
        } else {
            ((NumberAxis) plot.getRangeAxis()).setAutoRangeIncludesZero(false);
        }
        ((NumberAxis) plot.getDomainAxis()).setAutoRangeIncludesZero(true);
        Path tmp = png.resolveSibling("." + png.getFileName() + ".tmp");
        ChartUtils.saveChartAsPNG(tmp.toFile(), chart, 1000, 560);
        Files.move(tmp, png, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static String read(Path p) throws IOException {
        return Files.exists(p) ? Files.readString(p).strip() : "";
    }

    private static String str(JsonObject o, String k) {
        JsonElement e = o.get(k);
        return e == null || e.isJsonNull() ? null : e.getAsString();
    }

    private static double num(JsonObject o, String k) {
        JsonElement e = o.get(k);
        return e == null || e.isJsonNull() || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber() ? Double.NaN : e.getAsDouble();
    }
}
