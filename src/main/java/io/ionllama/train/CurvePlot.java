package io.ionllama.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** The training and validation bits-per-byte curves as a PNG (JFreeChart, headless). */
public final class CurvePlot {
    private CurvePlot() {}

    public static void write(Path png, String title, List<double[]> train, List<double[]> valid) throws IOException {
        System.setProperty("java.awt.headless", "true");
        XYSeries t = new XYSeries("train BPB");
        for (double[] p : train) {
            t.add(p[0], p[1]);
        }
        XYSeries v = new XYSeries("validation BPB");
        for (double[] p : valid) {
            v.add(p[0], p[1]);
        }
        XYSeriesCollection data = new XYSeriesCollection();
        data.addSeries(t);
        data.addSeries(v);
        JFreeChart chart = ChartFactory.createXYLineChart(title, "step", "bits per byte", data,
                PlotOrientation.VERTICAL, true, false, false);
        Path tmp = png.resolveSibling("." + png.getFileName() + ".tmp");
        ChartUtils.saveChartAsPNG(tmp.toFile(), chart, 900, 500);
        Files.move(tmp, png, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
