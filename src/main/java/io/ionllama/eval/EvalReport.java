package io.ionllama.eval;

import java.awt.Color;
import java.awt.Font;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.CategoryLabelPositions;
import org.jfree.chart.labels.StandardCategoryItemLabelGenerator;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.data.category.DefaultCategoryDataset;

/**
 * The evaluation report: one self-contained HTML file (its figures are PNGs made with JFreeChart,
 * embedded as base64 data URIs, no script and no external file) drawn from the same figures as
 * results.json: BPB per language, accuracy by task and by digit count (seen vs held-out words and
 * operands, from the figures tagged {@code kind}, {@code split} and {@code digits}), the histogram
 * of patch lengths, and the table of every figure. A section whose figures the run did not measure
 * says which task would.
 */
public final class EvalReport {
    private EvalReport() {}

    static final int WIDTH = 880, HEIGHT = 380;
    private static final Color[] PALETTE = {new Color(0x1F77B4), new Color(0xFF7F0E), new Color(0x2CA02C), new Color(0xD62728),
        new Color(0x9467BD), new Color(0x8C564B), new Color(0xE377C2), new Color(0x7F7F7F)};

    public static void write(Path html, ResultsJson.RunInfo run, List<Metric> metrics) throws IOException {
        Path tmp = html.resolveSibling("." + html.getFileName() + ".tmp");
        Files.writeString(tmp, render(run, metrics), StandardCharsets.UTF_8);
        Files.move(tmp, html, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    public static String render(ResultsJson.RunInfo run, List<Metric> metrics) throws IOException {
        System.setProperty("java.awt.headless", "true");
        StringBuilder h = new StringBuilder();
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ionllama eval: ")
                .append(esc(run.checkpoint())).append("</title>\n<style>")
                .append("body{font-family:system-ui,sans-serif;margin:24px auto;max-width:960px;color:#222;background:#fff}")
                .append("h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}")
                .append("table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}")
                .append("td.n{text-align:right;font-variant-numeric:tabular-nums}.none{color:#777;font-style:italic}")
                .append("img{max-width:100%;border:1px solid #eee}dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px;font-size:14px}")
                .append("dt{color:#666}dd{margin:0}</style></head><body>\n");
        h.append("<h1>ionllama eval</h1>\n<dl>");
        info(h, "checkpoint", run.checkpoint());
        info(h, "model", run.architecture() + " " + run.model());
        info(h, "tasks", String.join(", ", run.tasks()));
        info(h, "version", run.version() + " (commit " + run.gitCommit() + ")");
        info(h, "date", run.date());
        info(h, "backend", run.backendDetail() + "; " + run.threads() + (run.threads() == 1 ? " thread" : " threads"));
        info(h, "seed", Long.toString(run.seed()));
        h.append("</dl>\n");

        h.append("<h2>Bits per byte by language</h2>\n");
        List<Metric> langs = select(metrics, m -> m.task().equals(MultilingualTask.NAME) && m.name().equals("bpb"));
        String langKey = "lang";
        if (langs.isEmpty()) {
            langs = select(metrics, m -> m.task().equals(LmTask.NAME) && m.name().equals("bpb"));
            langKey = "label";
        }
        if (langs.isEmpty()) {
            none(h, "lm or multilingual");
        } else {
            DefaultCategoryDataset d = new DefaultCategoryDataset();
            for (Metric m : langs) {
                d.addValue(m.value(), "BPB", m.tags().getOrDefault(langKey, "?"));
            }
            figure(h, bar("Bits per byte (lower is better)", langKey.equals("lang") ? "language" : "data", "bits per byte", d, false, "%.3f"),
                    "BPB by language");
        }

        h.append("<h2>Accuracy by task (seen vs held-out)</h2>\n");
        // A task's totals: no digit count, or the total over digit counts ("digits=all").
        List<Metric> byTask = select(metrics, m -> m.tags().containsKey("kind") && m.tags().containsKey("split")
                && m.tags().getOrDefault("digits", "all").equals("all") && isAccuracy(m));
        if (byTask.isEmpty()) {
            none(h, "chars or arith");
        } else {
            DefaultCategoryDataset d = new DefaultCategoryDataset();
            for (Metric m : byTask) {
                d.addValue(100 * m.value(), m.tags().get("split"), m.task() + ": " + m.tags().get("kind"));
            }
            figure(h, bar("Exact-match accuracy by task", "task", "accuracy (%)", d, true, "%.0f"), "accuracy by task");
        }

        h.append("<h2>Accuracy by number of digits</h2>\n");
        List<Metric> byDigits = select(metrics, m -> m.tags().containsKey("digits") && !m.tags().get("digits").equals("all")
                && isAccuracy(m));
        if (byDigits.isEmpty()) {
            none(h, "arith");
        } else {
            DefaultCategoryDataset d = new DefaultCategoryDataset();
            for (Metric m : byDigits) {
                String series = (m.tags().getOrDefault("kind", m.name()) + " " + m.tags().getOrDefault("split", "")).strip();
                d.addValue(100 * m.value(), series, m.tags().get("digits") + (m.tags().get("digits").equals("1") ? " digit" : " digits"));
            }
            figure(h, bar("Exact-match accuracy by operand digits", "operands", "accuracy (%)", d, true, "%.0f"), "accuracy by digits");
        }

        h.append("<h2>Patch lengths</h2>\n");
        List<Metric> lengths = select(metrics, m -> m.task().equals(CompressionTask.NAME) && m.name().equals("patches_of_length"));
        if (lengths.isEmpty()) {
            none(h, "compression (on a model that patches)");
        } else {
            Map<String, Double> totals = new LinkedHashMap<>();
            for (Metric m : lengths) {
                totals.merge(m.tags().get("label"), m.value(), Double::sum);
            }
            DefaultCategoryDataset d = new DefaultCategoryDataset();
            for (Metric m : lengths) {
                d.addValue(100 * m.value() / totals.get(m.tags().get("label")), m.tags().get("label"), m.tags().get("length"));
            }
            figure(h, bar("Share of patches by length (bytes)", "patch length (bytes)", "share of patches (%)", d, false, null),
                    "patch length histogram");
        }

        h.append("<h2>All figures</h2>\n<table><tr><th>task</th><th>figure</th><th>slice</th><th>value</th><th>± s.e.</th><th>samples</th></tr>\n");
        for (Metric m : metrics) {
            h.append("<tr><td>").append(esc(m.task())).append("</td><td>").append(esc(m.name())).append("</td><td>")
                    .append(esc(slice(m.tags()))).append("</td><td class=\"n\">").append(num(m.value())).append("</td><td class=\"n\">")
                    .append(num(m.stderr())).append("</td><td class=\"n\">").append(String.format(Locale.ROOT, "%,d", m.samples()))
                    .append("</td></tr>\n");
        }
        h.append("</table>\n</body></html>\n");
        return h.toString();
    }

    /** Exact-match accuracies (the chars and arith tasks' {@code exact_match}) and any figure named an accuracy. */
    private static boolean isAccuracy(Metric m) {
        return (m.name().equals("exact_match") || m.name().contains("acc")) && Double.isFinite(m.value());
    }

    private static List<Metric> select(List<Metric> metrics, Predicate<Metric> p) {
        List<Metric> out = new ArrayList<>();
        for (Metric m : metrics) {
            if (p.test(m) && Double.isFinite(m.value())) {
                out.add(m);
            }
        }
        return out;
    }

    /** The tags as shown in the table: the long protocol and backend descriptions left to results.json. */
    static String slice(Map<String, String> tags) {
        List<String> parts = new ArrayList<>();
        tags.forEach((k, v) -> {
            if (!k.equals("context") && !k.equals("backend_detail")) {
                parts.add(k + "=" + v);
            }
        });
        return String.join(", ", parts);
    }

    private static JFreeChart bar(String title, String x, String y, DefaultCategoryDataset d, boolean percent, String labels) {
        JFreeChart chart = ChartFactory.createBarChart(title, x, y, d, PlotOrientation.VERTICAL, d.getRowCount() > 1, false, false);
        chart.setBackgroundPaint(Color.WHITE);
        chart.getTitle().setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        CategoryPlot plot = chart.getCategoryPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(new Color(0xDDDDDD));
        plot.setOutlinePaint(Color.GRAY);
        if (percent) {
            plot.getRangeAxis().setRange(0, 100);
        }
        // Many or long category names would be cut to "char...": turned, they have the room.
        int longest = 0;
        for (Object c : d.getColumnKeys()) {
            longest = Math.max(longest, c.toString().length());
        }
        if (d.getColumnCount() > 8 || d.getColumnCount() * longest > 60) {
            plot.getDomainAxis().setCategoryLabelPositions(CategoryLabelPositions.UP_45);
            plot.getDomainAxis().setMaximumCategoryLabelWidthRatio(3f);
        }
        BarRenderer r = (BarRenderer) plot.getRenderer();
        r.setBarPainter(new StandardBarPainter());
        r.setShadowVisible(false);
        r.setItemMargin(0.05);
        r.setMaximumBarWidth(0.12);
        for (int i = 0; i < PALETTE.length; i++) {
            r.setSeriesPaint(i, PALETTE[i]);
        }
        if (labels != null) {
            r.setDefaultItemLabelGenerator(new StandardCategoryItemLabelGenerator("{2}", new java.text.DecimalFormat(
                    labels.equals("%.0f") ? "0" : "0.000", java.text.DecimalFormatSymbols.getInstance(Locale.ROOT))));
            r.setDefaultItemLabelsVisible(true);
        }
        return chart;
    }

    private static void figure(StringBuilder h, JFreeChart chart, String alt) throws IOException {
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ChartUtils.writeChartAsPNG(png, chart, WIDTH, HEIGHT);
        h.append("<img alt=\"").append(esc(alt)).append("\" width=\"").append(WIDTH).append("\" height=\"").append(HEIGHT)
                .append("\" src=\"data:image/png;base64,").append(Base64.getEncoder().encodeToString(png.toByteArray())).append("\">\n");
    }

    private static void none(StringBuilder h, String task) {
        h.append("<p class=\"none\">Not measured in this run (--tasks ").append(esc(task)).append(").</p>\n");
    }

    private static void info(StringBuilder h, String key, String value) {
        h.append("<dt>").append(esc(key)).append("</dt><dd>").append(esc(value)).append("</dd>");
    }

    private static String num(double v) {
        if (!Double.isFinite(v)) {
            return "";
        }
        double a = Math.abs(v);
        return String.format(Locale.ROOT, a != 0 && (a < 0.001 || a >= 1e7) ? "%.3g" : a >= 1000 ? "%,.0f" : "%.4f", v);
    }

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
