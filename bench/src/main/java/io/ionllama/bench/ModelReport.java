package io.ionllama.bench;

import io.ionllama.kernels.Attention;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Markdown tables from the JMH CSVs ({@code -rf csv}) of the model benchmarks, as
 * scripts/bench-model prints them: {@link AttentionBenchmark} (time per call and per position,
 * per position per key slot, dense/dilated ratio; dense at the largest P extrapolated from P^2 when
 * it was not run), {@link StepBenchmark} (bytes/s by threads), {@link GenerateBenchmark} and
 * {@link ReforwardBenchmark} (bytes/s by threads and context).
 *
 * <p>Usage: {@code java -cp benchmarks.jar io.ionllama.bench.ModelReport a.csv [b.csv ...]}
 */
public final class ModelReport {
    private ModelReport() {}

    /** One result row: benchmark method, parameters, score in ms/op or ops/s, error, unit. */
    record Row(String bench, Map<String, String> params, double score, double error, String unit) {
        int intParam(String name) {
            return Integer.parseInt(params.get(name));
        }

        /** Milliseconds per operation. */
        double ms() {
            return switch (unit) {
                case "ms/op" -> score;
                case "s/op" -> score * 1e3;
                case "us/op" -> score / 1e3;
                default -> throw new IllegalArgumentException("not a time: " + unit);
            };
        }
    }

    public static void main(String[] args) throws IOException {
        List<Row> rows = new ArrayList<>();
        for (String file : args) {
            rows.addAll(read(Path.of(file)));
        }
        attention(rows);
        simple(rows, "StepBenchmark.step", "Training step, tiny, batch 8 x 1024 bytes", "bytes/s");
        generation(rows);
    }

    static List<Row> read(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file);
        List<String> header = split(lines.get(0));
        List<Row> out = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            List<String> f = split(line);
            if (f.size() < header.size()) {
                continue;
            }
            Map<String, String> params = new TreeMap<>();
            for (int i = 0; i < header.size(); i++) {
                if (header.get(i).startsWith("Param: ")) {
                    params.put(header.get(i).substring(7), f.get(i));
                }
            }
            String err = f.get(header.indexOf("Score Error (99.9%)"));
            out.add(new Row(f.get(header.indexOf("Benchmark")), params, Double.parseDouble(f.get(header.indexOf("Score"))),
                    err.isEmpty() || err.equals("NaN") ? Double.NaN : Double.parseDouble(err), f.get(header.indexOf("Unit"))));
        }
        return out;
    }

    static void attention(List<Row> rows) {
        Map<Integer, Double> dilated = new TreeMap<>(), dense = new TreeMap<>();
        String threads = "?";
        for (Row r : rows) {
            if (r.bench.endsWith("AttentionBenchmark.forwardBackward")) {
                (r.params.get("mode").equals("dense") ? dense : dilated).put(r.intParam("P"), r.ms());
                threads = r.params.get("threads");
            }
        }
        if (dilated.isEmpty()) {
            return;
        }
        System.out.printf(Locale.ROOT, "%nGlobal attention forward + backward, d 256, 4 heads, window %d, %s thread(s)%n%n",
                AttentionBenchmark.WINDOW, threads);
        System.out.println("| P | key slots S | dilated (ms) | dilated per position (µs) | per position / S (ns) | dense (ms) | dense per position (µs) | dense / dilated |");
        System.out.println("|---:|---:|---:|---:|---:|---:|---:|---:|");
        TreeSet<Integer> ps = new TreeSet<>(dilated.keySet());
        ps.addAll(dense.keySet());
        Integer measuredMax = dense.isEmpty() ? null : ((TreeMap<Integer, Double>) dense).lastKey();
        for (int P : ps) {
            Double di = dilated.get(P), de = dense.get(P);
            String deNote = "";
            if (de == null && measuredMax != null && P > measuredMax) {
                de = dense.get(measuredMax) * ((double) P / measuredMax) * ((double) P / measuredMax);
                deNote = " (extrapolated, P^2)";
            }
            int S = Attention.dilatedSlots(AttentionBenchmark.WINDOW, P);
            System.out.printf(Locale.ROOT, "| %d | %d | %s | %s | %s | %s | %s | %s |%n", P, S,
                    di == null ? "-" : fmt(di), di == null ? "-" : fmt(di * 1e3 / P),
                    di == null ? "-" : fmt(di * 1e6 / P / S),
                    de == null ? "-" : fmt(de) + deNote, de == null ? "-" : fmt(de * 1e3 / P),
                    de == null || di == null ? "-" : String.format(Locale.ROOT, "%.0fx", de / di));
        }
    }

    static void simple(List<Row> rows, String bench, String title, String unit) {
        List<Row> mine = rows.stream().filter(r -> r.bench.endsWith(bench)).toList();
        if (mine.isEmpty()) {
            return;
        }
        System.out.printf(Locale.ROOT, "%n%s%n%n| threads | %s | ± (99.9%%) |%n|---:|---:|---:|%n", title, unit);
        for (Row r : mine) {
            System.out.printf(Locale.ROOT, "| %s | %.0f | %.0f |%n", r.params.get("threads"), r.score, r.error);
        }
    }

    static void generation(List<Row> rows) {
        List<Row> mine = rows.stream()
                .filter(r -> r.bench.endsWith("GenerateBenchmark.incremental") || r.bench.endsWith("ReforwardBenchmark.reforward"))
                .toList();
        if (mine.isEmpty()) {
            return;
        }
        System.out.printf(Locale.ROOT, "%nGeneration, tiny, fixed 4-byte patches, greedy (bytes/s)%n%n");
        System.out.println("| mode | threads | context | bytes/s | ± (99.9%) | ms/byte |");
        System.out.println("|---|---:|---:|---:|---:|---:|");
        for (Row r : mine) {
            String mode = r.bench.endsWith("incremental") ? "incremental" : "full re-forward";
            System.out.printf(Locale.ROOT, "| %s | %s | %s | %.0f | %.0f | %.2f |%n", mode, r.params.get("threads"),
                    r.params.get("context"), r.score, r.error, 1e3 / r.score);
        }
    }

    static String fmt(double v) {
        return v >= 100 ? String.format(Locale.ROOT, "%.0f", v) : v >= 1 ? String.format(Locale.ROOT, "%.2f", v)
                : String.format(Locale.ROOT, "%.3f", v);
    }

    static List<String> split(String line) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char ch = line.charAt(i);
            if (ch == '"') {
                quoted = !quoted;
            } else if (ch == ',' && !quoted) {
                out.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(ch);
            }
        }
        out.add(cur.toString());
        return out;
    }
}
