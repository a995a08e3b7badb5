package io.ionllama.eval;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes results.json, schema {@value #SCHEMA} (a JSON Schema of it ships as
 * {@code io/ionllama/eval/results.schema.json}; README, "The results file"). In the shape of
 * lm-evaluation-harness's results files: the run's identity and settings at the top, then per task
 * its list of figures.
 *
 * <pre>
 * {
 *   "schema": "ionllama-eval/1",
 *   "date": "2025-06-01T12:00:00Z",          ISO-8601, UTC
 *   "version": "0.1.0",                      ionllama's version ("dev" from classes)
 *   "git_commit": "8c25719" | "unknown",
 *   "checkpoint": "runs/tiny/best.safetensors",
 *   "architecture": "ionllama" | "dense" | "rnn",   the model kind
 *   "model": { "size": "tiny", ... },        the model's configuration (ByteModel.configMap), strings
 *   "seed": 0, "threads": 2, "backend": "cpu", "backend_detail": "cpu: 2 threads, ...",
 *   "eval": { "tasks": ["lm", ...], "seq_len": 1024, "batch_size": 8, "limit": 0 },
 *   "data": [ { "label": "en", "path": "en.txt", "bytes": 123456 } ],
 *   "tasks": {
 *     "lm": [ { "name": "bpb", "value": 1.83, "stderr": 0.012, "samples": 123456,
 *               "tags": { "data": "en.txt", "label": "en", "context": "windows of 1024 bytes; ..." } } ],
 *     ...                                     one key per task run, in the order run
 *   },
 *   "results": [ { "data": "en.txt", "bytes": 123456, "bpb": 1.83, "loss_nats": 1.27, "perplexity": 3.56,
 *                  "accuracy": 0.61, "bytes_per_patch": 4.1, "bytes_per_s": 52000 } ]
 * }
 * </pre>
 *
 * {@code value} and {@code stderr} are null where a figure has none (NaN: a standard error of one
 * sample, bytes per patch of a model without patches). {@code results} is the lm task's rows in the
 * form {@code eval --results} wrote before the schema (kept for the scripts that read it; empty
 * without lm).
 */
public final class ResultsJson {
    private ResultsJson() {}

    public static final String SCHEMA = "ionllama-eval/1";

    /** Who ran what: everything results.json records besides the figures. */
    public record RunInfo(String checkpoint, String architecture, Map<String, String> model, String version, String gitCommit,
                          String date, long seed, int threads, String backend, String backendDetail, List<String> tasks,
                          int seqLen, int batch, int limit, List<EvalContext.Data> data) {}

    public static void write(Path file, RunInfo run, List<Metric> metrics) throws IOException {
        Files.writeString(file, new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(toJson(run, metrics)) + "\n",
                StandardCharsets.UTF_8);
    }

    public static JsonObject toJson(RunInfo run, List<Metric> metrics) {
        JsonObject o = new JsonObject();
        o.addProperty("schema", SCHEMA);
        o.addProperty("date", run.date());
        o.addProperty("version", run.version());
        o.addProperty("git_commit", run.gitCommit());
        o.addProperty("checkpoint", run.checkpoint());
        o.addProperty("architecture", run.architecture());
        JsonObject model = new JsonObject();
        run.model().forEach(model::addProperty);
        o.add("model", model);
        o.addProperty("seed", run.seed());
        o.addProperty("threads", run.threads());
        o.addProperty("backend", run.backend());
        o.addProperty("backend_detail", run.backendDetail());
        JsonObject eval = new JsonObject();
        JsonArray names = new JsonArray();
        run.tasks().forEach(names::add);
        eval.add("tasks", names);
        eval.addProperty("seq_len", run.seqLen());
        eval.addProperty("batch_size", run.batch());
        eval.addProperty("limit", run.limit());
        o.add("eval", eval);
        JsonArray data = new JsonArray();
        for (EvalContext.Data d : run.data()) {
            JsonObject f = new JsonObject();
            f.addProperty("label", d.label());
            f.addProperty("path", d.path());
            f.addProperty("bytes", d.bytes().size());
            data.add(f);
        }
        o.add("data", data);
        JsonObject tasks = new JsonObject();
        for (String t : run.tasks()) {
            tasks.add(t, new JsonArray());
        }
        for (Metric m : metrics) {
            if (!tasks.has(m.task())) {
                tasks.add(m.task(), new JsonArray());
            }
            tasks.getAsJsonArray(m.task()).add(metric(m));
        }
        o.add("tasks", tasks);
        o.add("results", legacyRows(metrics));
        return o;
    }

    private static JsonObject metric(Metric m) {
        JsonObject o = new JsonObject();
        o.addProperty("name", m.name());
        o.add("value", number(m.value()));
        o.add("stderr", number(m.stderr()));
        o.addProperty("samples", m.samples());
        JsonObject tags = new JsonObject();
        m.tags().forEach(tags::addProperty);
        o.add("tags", tags);
        return o;
    }

    /** A finite number, else null (JSON has no NaN or infinity). */
    static JsonElement number(double v) {
        return Double.isFinite(v) ? new JsonPrimitive(v) : JsonNull.INSTANCE;
    }

    /** The lm task's figures as one row per file, in the form eval wrote before the schema. */
    static JsonArray legacyRows(List<Metric> metrics) {
        Map<String, JsonObject> rows = new LinkedHashMap<>();
        for (Metric m : metrics) {
            if (!m.task().equals(LmTask.NAME) || !m.tags().containsKey("data")) {
                continue;
            }
            JsonObject row = rows.computeIfAbsent(m.tags().get("data"), d -> {
                JsonObject r = new JsonObject();
                r.addProperty("data", d);
                r.addProperty("bytes", m.samples());
                r.addProperty("bytes_per_patch", 0);
                return r;
            });
            row.add(m.name(), number(m.value()));
        }
        JsonArray out = new JsonArray();
        for (JsonObject r : rows.values()) {
            JsonObject ordered = new JsonObject();
            for (String k : List.of("data", "bytes", "bpb", "loss_nats", "perplexity", "accuracy", "bytes_per_patch", "bytes_per_s")) {
                if (r.has(k)) {
                    ordered.add(k, r.get(k));
                }
            }
            out.add(ordered);
        }
        return out;
    }
}
