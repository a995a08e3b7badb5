package io.ionllama.eval;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
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
 * tokun's robustness curves as a PNG (JFreeChart, headless): byte accuracy against the noise
 * level k, one colour per text, solid for Gaussian k·σ noise and dashed for the same norm along
 * random directions; the noise-free accuracy is the point at k = 0.
 */
public final class TokunPlot {
    private TokunPlot() {}

    static final Color[] COLOURS = {new Color(0x1F77B4), new Color(0xD62728), new Color(0x2CA02C), new Color(0x9467BD),
        new Color(0xFF7F0E), new Color(0x8C564B), new Color(0xE377C2), new Color(0x7F7F7F)};

    /** One text: its name, its noise-free score and its curve. */
    public record Curve(String name, TokunScore.Score clean, TokunScore.Noise[] noise) {}

    public static void write(Path png, String title, List<Curve> curves) throws IOException {
        System.setProperty("java.awt.headless", "true");
        XYSeriesCollection data = new XYSeriesCollection();
        for (Curve c : curves) {
            XYSeries g = new XYSeries(c.name() + ", gaussian k·σ"), d = new XYSeries(c.name() + ", random direction");
            g.add(0, 100 * c.clean().byteAccuracy());
            d.add(0, 100 * c.clean().byteAccuracy());
            for (TokunScore.Noise n : c.noise()) {
                g.add(n.k(), 100 * n.gaussian().byteAccuracy());
                d.add(n.k(), 100 * n.direction().byteAccuracy());
            }
            data.addSeries(g);
            data.addSeries(d);
        }
        JFreeChart chart = ChartFactory.createXYLineChart(title, "noise level k (× per-dimension std of the latent)",
                "byte accuracy (%)", data, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = io.ionllama.train.CurvePlot.whitePlot(chart);
        XYLineAndShapeRenderer r = new XYLineAndShapeRenderer();
        for (int i = 0; i < data.getSeriesCount(); i++) {
            r.setSeriesPaint(i, COLOURS[(i / 2) % COLOURS.length]);
            r.setSeriesStroke(i, i % 2 == 0 ? new BasicStroke(1.8f)
                    : new BasicStroke(1.8f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
            r.setSeriesShapesVisible(i, true);
        }
        plot.setRenderer(r);
        ((NumberAxis) plot.getRangeAxis()).setRange(0, 100.5);
        Path tmp = png.toAbsolutePath().resolveSibling("." + png.getFileName() + ".tmp");
        ChartUtils.saveChartAsPNG(tmp.toFile(), chart, 900, 500);
        Files.move(tmp, png.toAbsolutePath(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
