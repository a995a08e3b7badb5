package io.ionllama.train;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.geom.Ellipse2D;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.TextTitle;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * The training and validation bits-per-byte curves as a PNG (JFreeChart, headless): white
 * background, validation points marked, x axis in steps, bytes seen or training time, and a y axis
 * scaled to where the curves end up rather than to the first steps' 8 BPB (see {@link #yRange}).
 * Points are {@code {step, bpb, bytes_seen, elapsed_s}} as {@link MetricsLog} keeps them.
 */
public final class CurvePlot {
    private CurvePlot() {}

    /** What the x axis shows: a column of the points and its label. */
    public enum XAxis {
        STEP(0, "step"), BYTES(2, "bytes seen"), TIME(3, "training time");

        final int column;
        final String label;

        XAxis(int column, String label) {
            this.column = column;
            this.label = label;
        }

        /** {@code step}, {@code bytes} or {@code time}. */
        public static XAxis parse(String s) {
            return switch (s.strip().toLowerCase(Locale.ROOT)) {
                case "step", "steps" -> STEP;
                case "bytes" -> BYTES;
                case "time" -> TIME;
                default -> throw new IllegalArgumentException("--plot-x must be step, bytes or time, not '" + s + "'");
            };
        }
    }

    /** The share of training points the y axis must show in full; the highest (earliest) ones may run off the top. */
    static final double TRAIN_QUANTILE = 0.85;

    public static void write(Path png, String title, List<double[]> train, List<double[]> valid) throws IOException {
        write(png, title, train, valid, XAxis.STEP);
    }

    public static void write(Path png, String title, List<double[]> train, List<double[]> valid, XAxis x) throws IOException {
        System.setProperty("java.awt.headless", "true");
        double xMax = 0;
        for (List<double[]> pts : List.of(train, valid)) {
            for (double[] p : pts) {
                if (p.length > x.column && Double.isFinite(p[x.column])) {
                    xMax = Math.max(xMax, p[x.column]);
                }
            }
        }
        String[] unit = unit(x, xMax);
        double scale = Double.parseDouble(unit[1]);
        XYSeries t = series("train BPB", train, x, scale);
        XYSeries v = series("validation BPB", valid, x, scale);
        XYSeriesCollection data = new XYSeriesCollection();
        data.addSeries(t);
        data.addSeries(v);
        JFreeChart chart = ChartFactory.createXYLineChart(title, x.label + unit[0], "bits per byte", data,
                PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = whitePlot(chart);
        XYLineAndShapeRenderer r = new XYLineAndShapeRenderer();
        r.setSeriesPaint(0, new Color(0x1F77B4));
        r.setSeriesStroke(0, new BasicStroke(1.5f));
        r.setSeriesShapesVisible(0, false);
        r.setSeriesPaint(1, new Color(0xD62728));
        r.setSeriesStroke(1, new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
        r.setSeriesShapesVisible(1, true);
        r.setSeriesShape(1, new Ellipse2D.Double(-4, -4, 8, 8));
        r.setSeriesShapesFilled(1, true);
        plot.setRenderer(r);
        double[] y = yRange(train, valid);
        if (y != null) {
            NumberAxis range = (NumberAxis) plot.getRangeAxis();
            range.setAutoRangeIncludesZero(false);
            range.setRange(y[0], y[1]);
            long above = train.stream().filter(p -> p[1] > y[1]).count();
            double top = train.stream().mapToDouble(p -> p[1]).filter(Double::isFinite).max().orElse(0);
            if (above > 0) {
                TextTitle note = new TextTitle(String.format(Locale.ROOT,
                        "%d early training point%s above the top (up to %.2f BPB)", above, above == 1 ? "" : "s", top));
                note.setPaint(Color.DARK_GRAY);
                chart.addSubtitle(note);
            }
        }
        ((NumberAxis) plot.getDomainAxis()).setAutoRangeIncludesZero(false);
        Path tmp = png.resolveSibling("." + png.getFileName() + ".tmp");
        ChartUtils.saveChartAsPNG(tmp.toFile(), chart, 900, 500);
        Files.move(tmp, png, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static XYSeries series(String name, List<double[]> pts, XAxis x, double scale) {
        XYSeries s = new XYSeries(name);
        for (double[] p : pts) {
            // Records from before a field existed (older metrics.jsonl) have no x for bytes or time.
            if (p.length > x.column && Double.isFinite(p[x.column]) && Double.isFinite(p[1])) {
                s.add(p[x.column] / scale, p[1]);
            }
        }
        return s;
    }

    /** The axis label's unit and the divisor for the values: bytes in K/M/G, time in s/min/h. */
    static String[] unit(XAxis x, double max) {
        return switch (x) {
            case STEP -> new String[] {"", "1"};
            case BYTES -> max >= 1e9 ? new String[] {" (GB)", "1e9"} : max >= 1e6 ? new String[] {" (MB)", "1e6"}
                    : max >= 1e3 ? new String[] {" (KB)", "1e3"} : new String[] {"", "1"};
            case TIME -> max >= 3 * 3600 ? new String[] {" (h)", "3600"} : max >= 180 ? new String[] {" (min)", "60"}
                    : new String[] {" (s)", "1"};
        };
    }

    /**
     * The y axis's range: from the lowest point (training or validation) to the
     * {@link #TRAIN_QUANTILE} quantile of the training points (or the highest validation point, if
     * higher), with a 5% margin each side. A run starts near 8 BPB and spends most of its steps
     * within a fraction of a bit of where it ends, so a range over all points (or a log axis, which
     * barely compresses 1.3..8) leaves the informative part a flat line; here the first steps run
     * off the top instead. Null when there are no finite points.
     */
    static double[] yRange(List<double[]> train, List<double[]> valid) {
        double[] t = train.stream().mapToDouble(p -> p[1]).filter(Double::isFinite).sorted().toArray();
        double[] v = valid.stream().mapToDouble(p -> p[1]).filter(Double::isFinite).toArray();
        if (t.length == 0 && v.length == 0) {
            return null;
        }
        double lo = Math.min(t.length > 0 ? t[0] : Double.POSITIVE_INFINITY, Arrays.stream(v).min().orElse(Double.POSITIVE_INFINITY));
        double hi = t.length > 0 ? t[(int) Math.ceil(TRAIN_QUANTILE * t.length) - 1] : Double.NEGATIVE_INFINITY;
        // Validation points are few; all but an early one far above the training quantile are kept in view.
        for (double b : v) {
            if (b <= hi + 0.5 * (hi - lo) || t.length == 0) {
                hi = Math.max(hi, b);
            }
        }
        double span = Math.max(hi - lo, 0.05);
        return new double[] {Math.max(0, lo - 0.05 * span), hi + 0.05 * span};
    }

    /** The project's chart look, shared by every PNG it writes: white, anti-aliased, light grey grid. Returns the plot. */
    public static XYPlot whitePlot(JFreeChart chart) {
        chart.setBackgroundPaint(Color.WHITE);
        chart.setAntiAlias(true);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(new Color(0xDDDDDD));
        plot.setRangeGridlinePaint(new Color(0xDDDDDD));
        plot.setOutlinePaint(Color.GRAY);
        return plot;
    }
}
