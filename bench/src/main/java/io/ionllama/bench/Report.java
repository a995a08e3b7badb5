package io.ionllama.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns {@link MatmulBenchmark}'s JMH CSV ({@code -rf csv}) into Markdown tables: GFLOP/s of the
 * Java matmul and of OpenBLAS per product, their ratio, and the 1 -> 2 thread scaling; for
 * sample-time results one table from the median call and one from the best call.
 *
 * <p>Usage: {@code java -cp benchmarks.jar io.ionllama.bench.Report results.csv}
 */
public final class Report {
    private Report() {}

    record Key(String size, String shape, String op, String impl, int threads) {}

    public static void main(String[] args) throws IOException {
        List<String> lines = Files.readAllLines(Path.of(args[0]));
        List<String> header = split(lines.get(0));
        int cBench = header.indexOf("Benchmark"), cScore = header.indexOf("Score"), cUnit = header.indexOf("Unit");
        int cImpl = header.indexOf("Param: impl"), cRows = header.indexOf("Param: rows"), cShape = header.indexOf("Param: shape");
        int cSize = header.indexOf("Param: size"), cThreads = header.indexOf("Param: threads");
        // statistic ("mean", "p0.00", "p0.50", ...) -> GFLOP/s per key
        Map<String, Map<Key, Double>> stats = new HashMap<>();
        int rows = 0;
        for (String line : lines.subList(1, lines.size())) {
            List<String> f = split(line);
            if (f.size() < header.size()) {
                continue;
            }
            String bench = f.get(cBench);
            String stat = "mean";
            int colon = bench.indexOf(':');
            if (colon >= 0) {
                stat = bench.substring(colon + 1);
                stat = stat.substring(stat.indexOf('\u00b7') + 1);  // older JMH: "forward\u00b7p0.00"
                bench = bench.substring(0, colon);
            }
            String op = bench.substring(bench.lastIndexOf('.') + 1);
            rows = Integer.parseInt(f.get(cRows));
            int[] io = MatmulBenchmark.dims(f.get(cShape), MatmulBenchmark.width(f.get(cSize)));
            double flops = 2.0 * rows * io[0] * io[1];
            double score = Double.parseDouble(f.get(cScore));
            String unit = f.get(cUnit);
            double gflops = switch (unit) {
                case "ms/op" -> flops / (score * 1e6);
                case "s/op" -> flops / (score * 1e9);
                case "ops/s" -> score * flops / 1e9;
                case "ops/ms" -> score * flops / 1e6;
                default -> throw new IllegalArgumentException("unit " + unit);
            };
            stats.computeIfAbsent(stat, k -> new HashMap<>())
                    .put(new Key(f.get(cSize), f.get(cShape), op, f.get(cImpl), Integer.parseInt(f.get(cThreads))), gflops);
        }
        if (stats.containsKey("p0.50")) {
            table("Median call (p50 of per-call time)", stats.get("p0.50"), rows);
            table("Best call (minimum per-call time: the uncontended speed on a shared machine)", stats.get("p0.00"), rows);
        } else {
            table("Mean", stats.get("mean"), rows);
        }
    }

    static void table(String title, Map<Key, Double> gflops, int rows) {
        StringBuilder out = new StringBuilder();
        out.append("### ").append(title).append(", GFLOP/s\n\n");
        out.append("| size | layer | rows x in -> out | product | Java 1T | OpenBLAS 1T | Java/OpenBLAS 1T"
                + " | Java 2T | OpenBLAS 2T | Java/OpenBLAS 2T | Java 2T/1T | OpenBLAS 2T/1T |\n");
        out.append("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        List<Double> r1 = new ArrayList<>(), r2 = new ArrayList<>(), sj = new ArrayList<>(), sb = new ArrayList<>();
        for (String size : new String[] {"tiny", "small"}) {
            for (String shape : new String[] {"d_d", "d_3d", "d_4d", "4d_d", "d_256"}) {
                int[] io = MatmulBenchmark.dims(shape, MatmulBenchmark.width(size));
                for (String op : new String[] {"forward", "dx", "dw"}) {
                    double j1 = get(gflops, size, shape, op, "java", 1), b1 = get(gflops, size, shape, op, "openblas", 1);
                    double j2 = get(gflops, size, shape, op, "java", 2), b2 = get(gflops, size, shape, op, "openblas", 2);
                    if (Double.isNaN(j1) && Double.isNaN(j2) && Double.isNaN(b1) && Double.isNaN(b2)) {
                        continue;
                    }
                    add(r1, j1 / b1);
                    add(r2, j2 / b2);
                    add(sj, j2 / j1);
                    add(sb, b2 / b1);
                    out.append(String.format(Locale.ROOT, "| %s | %s | %dx%d->%d | %s | %s | %s | %s | %s | %s | %s | %s | %s |%n",
                            size, shape.replace("_", "->"), rows, io[0], io[1], op,
                            num(j1, "%.1f"), num(b1, "%.1f"), num(j1 / b1, "%.2f"),
                            num(j2, "%.1f"), num(b2, "%.1f"), num(j2 / b2, "%.2f"),
                            num(j2 / j1, "%.2fx"), num(b2 / b1, "%.2fx")));
                }
            }
        }
        out.append(String.format(Locale.ROOT, "%nJava/OpenBLAS, geometric mean (min): 1 thread %s (%s), 2 threads %s (%s).  %n",
                num(geomean(r1), "%.2f"), num(min(r1), "%.2f"), num(geomean(r2), "%.2f"), num(min(r2), "%.2f")));
        out.append(String.format(Locale.ROOT, "1 -> 2 thread scaling, geometric mean (min): Java %s (%s), OpenBLAS %s (%s).%n%n",
                num(geomean(sj), "%.2fx"), num(min(sj), "%.2fx"), num(geomean(sb), "%.2fx"), num(min(sb), "%.2fx")));
        System.out.print(out);
    }

    private static double get(Map<Key, Double> m, String size, String shape, String op, String impl, int threads) {
        Double v = m.get(new Key(size, shape, op, impl, threads));
        return v == null ? Double.NaN : v;
    }

    private static void add(List<Double> l, double v) {
        if (!Double.isNaN(v) && !Double.isInfinite(v)) {
            l.add(v);
        }
    }

    private static double geomean(List<Double> l) {
        if (l.isEmpty()) {
            return Double.NaN;
        }
        double s = 0;
        for (double v : l) {
            s += Math.log(v);
        }
        return Math.exp(s / l.size());
    }

    private static double min(List<Double> l) {
        return l.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
    }

    private static String num(double v, String fmt) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, fmt, v);
    }

    /** One CSV line as JMH writes it: fields quoted when they hold commas or quotes. */
    static List<String> split(String line) {
        List<String> f = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char ch = line.charAt(i);
            if (quoted) {
                if (ch == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
                    cur.append('"');
                    i++;
                } else if (ch == '"') {
                    quoted = false;
                } else {
                    cur.append(ch);
                }
            } else if (ch == '"') {
                quoted = true;
            } else if (ch == ',') {
                f.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(ch);
            }
        }
        f.add(cur.toString());
        return f;
    }
}
