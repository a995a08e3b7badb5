package io.ionllama.train;

import com.google.gson.Gson;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Metrics as JSON Lines: one object per logged step ({@code "kind":"train"}) and per evaluation
 * ({@code "kind":"valid"}). Appends, flushing every record, so a crash loses nothing already
 * logged and a resumed run continues the same file. Also keeps the points for the plot
 * ({@code {step, bpb, bytes_seen, elapsed_s}}, NaN where an older file lacks a field) and, with a
 * {@link TensorBoardEvents}, writes the same records' numbers as TensorBoard scalars.
 */
public final class MetricsLog implements AutoCloseable {
    private static final Gson GSON = new Gson();
    private final BufferedWriter out;
    final List<double[]> train = new ArrayList<>();
    final List<double[]> valid = new ArrayList<>();
    private final TensorBoardEvents events;
    private double lastElapsed;

    public MetricsLog(Path file, long resumeStep) throws IOException {
        this(file, resumeStep, null);
    }

    /** As {@link #MetricsLog(Path, long)}, also writing each record's scalars to {@code events} (closed with this log). */
    public MetricsLog(Path file, long resumeStep, TensorBoardEvents events) throws IOException {
        this.events = events;
        // A resumed run keeps the records up to its checkpoint's step (both kinds are written before a
        // checkpoint at their step) and drops the rest, which the resumed run writes again.
        List<String> keep = new ArrayList<>();
        if (Files.exists(file)) {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                try {
                    @SuppressWarnings("unchecked")
                    Map<String, Object> rec = GSON.fromJson(line, Map.class);
                    double step = ((Number) rec.get("step")).doubleValue();
                    if (step <= resumeStep) {
                        keep.add(line);
                        remember(rec);
                    }
                } catch (RuntimeException e) {
                    // A torn last line from a crash: drop it.
                }
            }
        }
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.write(file, keep, StandardCharsets.UTF_8);
        out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }

    private void remember(Map<String, Object> rec) {
        double step = ((Number) rec.get("step")).doubleValue();
        double bytes = rec.get("bytes_seen") instanceof Number n ? n.doubleValue() : Double.NaN;
        double elapsed = rec.get("elapsed_s") instanceof Number n ? n.doubleValue() : Double.NaN;
        if (!Double.isNaN(elapsed)) {
            lastElapsed = Math.max(lastElapsed, elapsed);
        }
        if ("train".equals(rec.get("kind")) && rec.get("bpb") instanceof Number b) {
            train.add(new double[] {step, b.doubleValue(), bytes, elapsed});
        } else if ("valid".equals(rec.get("kind")) && rec.get("bpb") instanceof Number b) {
            valid.add(new double[] {step, b.doubleValue(), bytes, elapsed});
        }
    }

    /** The largest {@code elapsed_s} among the records kept or written: where a resumed run's clock continues. */
    public double lastElapsed() {
        return lastElapsed;
    }

    /** The metrics.jsonl fields that become TensorBoard scalars, as {@code <kind>/<name>} tags. */
    private static final Map<String, String> TAGS = Map.of("loss", "loss", "bpb", "bpb", "lr", "lr", "grad_norm",
            "grad_norm", "bytes_per_s", "bytes_per_sec", "bytes_per_patch", "bytes_per_patch", "accuracy", "accuracy");

    /** The scalars of one record, in the record's order: {@code train/bpb}, {@code valid/bpb}, ... */
    static Map<String, Double> scalars(Map<String, Object> record) {
        Map<String, Double> out = new LinkedHashMap<>();
        String kind = String.valueOf(record.get("kind"));
        for (Map.Entry<String, Object> e : record.entrySet()) {
            String name = TAGS.get(e.getKey());
            if (name != null && e.getValue() instanceof Number n) {
                out.put(kind + "/" + name, n.doubleValue());
            }
        }
        return out;
    }

    public void write(Map<String, Object> record) {
        Map<String, Object> rec = new LinkedHashMap<>(record);
        rec.replaceAll((k, v) -> v instanceof Double d && !Double.isFinite(d) ? d.toString() : v);
        try {
            out.write(GSON.toJson(rec));
            out.newLine();
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        remember(record);
        if (events != null && record.get("step") instanceof Number step) {
            double wall = record.get("time") instanceof Number t ? t.doubleValue() : System.currentTimeMillis() / 1000.0;
            events.scalars(step.longValue(), wall, scalars(record));
        }
    }

    @Override
    public void close() throws IOException {
        try (TensorBoardEvents e = events) {
            out.close();
        }
    }
}
