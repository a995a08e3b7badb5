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
 * logged and a resumed run continues the same file. Also keeps the points for the plot.
 */
public final class MetricsLog implements AutoCloseable {
    private static final Gson GSON = new Gson();
    private final BufferedWriter out;
    final List<double[]> train = new ArrayList<>();
    final List<double[]> valid = new ArrayList<>();

    public MetricsLog(Path file, long resumeStep) throws IOException {
        // A resumed run keeps the records up to its checkpoint's step and drops the rest.
        List<String> keep = new ArrayList<>();
        if (Files.exists(file)) {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                try {
                    @SuppressWarnings("unchecked")
                    Map<String, Object> rec = GSON.fromJson(line, Map.class);
                    double step = ((Number) rec.get("step")).doubleValue();
                    if (step < resumeStep || (step == resumeStep && "valid".equals(rec.get("kind")))) {
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
        if ("train".equals(rec.get("kind")) && rec.get("bpb") instanceof Number b) {
            train.add(new double[] {step, b.doubleValue()});
        } else if ("valid".equals(rec.get("kind")) && rec.get("bpb") instanceof Number b) {
            valid.add(new double[] {step, b.doubleValue()});
        }
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
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}
