package io.ionllama.eval;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The report draws the figures whose tags it knows (kind, split, digits) whatever task made them. */
class EvalReportTest {

    @Test
    void accuracyFiguresComeFromTaggedMetricsAndEveryImageIsAPng() throws Exception {
        List<Metric> ms = new ArrayList<>();
        for (String split : List.of("seen", "held-out")) {
            ms.add(Metric.accuracy("chars", "exact_match", split.equals("seen") ? 9 : 3, 10, Map.of("kind", "count", "split", split)));
            ms.add(Metric.accuracy("chars", "exact_match", 5, 10, Map.of("kind", "reverse", "split", split)));
            for (int d = 1; d <= 5; d++) {
                ms.add(Metric.accuracy("arith", "exact_match", 10 - 2 * d, 10,
                        Map.of("kind", "add", "digits", Integer.toString(d), "split", split)));
            }
            // The arithmetic task's total over digit counts goes with the per-task figure.
            ms.add(Metric.accuracy("arith", "exact_match", 30, 50, Map.of("kind", "add", "digits", "all", "split", split)));
        }
        ResultsJson.RunInfo run = new ResultsJson.RunInfo("m<1>.safetensors", "ionllama", Map.of("size", "nano"), "test", "unknown",
                "2025-01-02T03:04:05Z", 1, 1, "cpu", "cpu", List.of("chars", "arith"), 64, 4, 0, List.of());
        String page = EvalReport.render(run, ms);
        assertThat(page).contains("m&lt;1&gt;.safetensors", "alt=\"accuracy by task\"", "alt=\"accuracy by digits\"",
                "Not measured in this run (--tasks lm or multilingual)");
        Matcher img = Pattern.compile("data:image/png;base64,([A-Za-z0-9+/=]+)\"").matcher(page);
        int images = 0;
        while (img.find()) {
            byte[] png = Base64.getDecoder().decode(img.group(1));
            assertThat(javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(png)).getWidth()).isEqualTo(EvalReport.WIDTH);
            images++;
        }
        assertThat(images).isEqualTo(2);
        // Every figure is a row of the table.
        assertThat(page.split("<tr><td>", -1)).hasSize(ms.size() + 1);
    }
}
