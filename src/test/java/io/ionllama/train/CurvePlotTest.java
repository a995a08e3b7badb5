package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class CurvePlotTest {

    /** A run from 8.0 BPB down to 1.3, logged every 10 steps, validated every 50. */
    static List<double[]> curve(int from, int every, double offset) {
        List<double[]> pts = new ArrayList<>();
        for (int s = from; s <= 400; s += every) {
            double bpb = 1.3 + offset + 6.7 * Math.exp(-(s - 1) / 40.0);
            pts.add(new double[] {s, bpb, s * 2048.0, s * 0.9});
        }
        return pts;
    }

    @Test
    void yRangeShowsTheEndOfTheCurveNotTheFirstSteps() {
        List<double[]> train = curve(1, 10, 0);
        List<double[]> valid = curve(50, 50, 0.05);
        assertThat(train.get(0)[1]).isEqualTo(8.0);
        double[] y = CurvePlot.yRange(train, valid);
        assertThat(y[0]).isLessThan(train.get(train.size() - 1)[1]).isGreaterThan(1.0);
        assertThat(y[1]).isLessThan(5.0).isGreaterThan(1.6);
        // Every validation point is in view.
        assertThat(valid).allSatisfy(p -> assertThat(p[1]).isBetween(y[0], y[1]));
    }

    @Test
    void yRangeOfAFlatOrEmptyCurve() {
        double[] y = CurvePlot.yRange(List.of(new double[] {1, 2.0, 0, 0}, new double[] {2, 2.0, 0, 0}), List.of());
        assertThat(y[0]).isLessThan(2.0);
        assertThat(y[1]).isGreaterThan(2.0);
        assertThat(CurvePlot.yRange(List.of(), List.of())).isNull();
        assertThat(CurvePlot.yRange(List.of(new double[] {1, Double.NaN, 0, 0}), List.of())).isNull();
    }

    @ParameterizedTest
    @EnumSource(CurvePlot.XAxis.class)
    void writesAWhitePngForEachXAxis(CurvePlot.XAxis x, @TempDir Path dir) throws IOException {
        Path png = dir.resolve("curves.png");
        List<double[]> train = curve(1, 10, 0);
        // A record from an older metrics.jsonl, without bytes seen or time, is skipped on those axes.
        train.add(0, new double[] {0, 8.1, Double.NaN, Double.NaN});
        CurvePlot.write(png, "test", train, curve(50, 50, 0.05), x);
        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img.getWidth()).isEqualTo(900);
        assertThat(img.getRGB(2, 2) & 0xFFFFFF).isEqualTo(0xFFFFFF);
        assertThat(img.getRGB(450, 250) & 0xFFFFFF).isNotEqualTo(0);
        try (var s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactly("curves.png");
        }
    }

    @Test
    void xAxisNamesAndUnits() {
        assertThat(CurvePlot.XAxis.parse("bytes")).isEqualTo(CurvePlot.XAxis.BYTES);
        assertThat(CurvePlot.XAxis.parse("Time")).isEqualTo(CurvePlot.XAxis.TIME);
        assertThat(CurvePlot.unit(CurvePlot.XAxis.BYTES, 5e6)[0]).isEqualTo(" (MB)");
        assertThat(CurvePlot.unit(CurvePlot.XAxis.TIME, 600)[0]).isEqualTo(" (min)");
    }
}
