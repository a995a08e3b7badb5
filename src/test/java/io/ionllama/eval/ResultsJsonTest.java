package io.ionllama.eval;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.model.ByteModel;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** results.json against its documented schema (results.schema.json, shipped in the jar), and the report beside it. */
class ResultsJsonTest {

    @TempDir
    Path dir;

    static JsonObject schema() throws Exception {
        return JsonSchemaCheck.resultsSchema();
    }

    /** A run of every task on a tiny model, as the command records it. */
    static ResultsJson.RunInfo run(ByteModel m, EvalContext ctx, List<String> tasks) {
        return new ResultsJson.RunInfo("m.safetensors", m.kind(), m.configMap(), "test", "unknown", "2025-01-02T03:04:05Z", 1, 1,
                "cpu", m.backend().describe(), tasks, 64, 4, 0, ctx.data());
    }

    @Test
    void aRunOfEveryTaskValidatesAgainstTheSchema() throws Exception {
        try (CpuBackend cpu = new CpuBackend(1)) {
            ByteModel m = TinyModels.of("ionllama", cpu);
            EvalContext ctx = TinyModels.context(m, new ByteArrayOutputStream(), TinyModels.data("en", TinyModels.TEXT));
            List<Metric> metrics = new ArrayList<>();
            List<EvalTask> tasks = Suite.select("all", new Suite.Settings(64, 4));
            for (EvalTask t : tasks) {
                metrics.addAll(t.run(ctx));
            }
            // A figure with no value (a model that does not patch) is null in JSON, and valid.
            metrics.add(new Metric("compression", "bytes_per_patch_mean", Double.NaN, Double.NaN, 0, java.util.Map.of("note", "x")));
            ResultsJson.RunInfo run = run(m, ctx, tasks.stream().map(EvalTask::name).toList());
            Path file = dir.resolve("results.json");
            ResultsJson.write(file, run, metrics);
            JsonObject doc = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
            assertThat(JsonSchemaCheck.violations(schema(), doc)).isEmpty();
            assertThat(doc.get("schema").getAsString()).isEqualTo(ResultsJson.SCHEMA);
            assertThat(doc.getAsJsonObject("tasks").keySet()).containsExactlyElementsOf(Suite.names());
            JsonObject bpb = doc.getAsJsonObject("tasks").getAsJsonArray("lm").get(0).getAsJsonObject();
            assertThat(bpb.get("name").getAsString()).isEqualTo("bpb");
            assertThat(bpb.get("samples").getAsLong()).isEqualTo(TinyModels.TEXT.length());
            assertThat(doc.getAsJsonArray("results").get(0).getAsJsonObject().get("bytes").getAsLong()).isEqualTo(TinyModels.TEXT.length());

            // The check has teeth: a document missing a field, or with a wrong type, fails.
            JsonObject broken = doc.deepCopy();
            broken.remove("schema");
            broken.addProperty("threads", "two");
            assertThat(JsonSchemaCheck.violations(schema(), broken)).hasSize(2);

            Path html = dir.resolve("report.html");
            EvalReport.write(html, run, metrics);
            String page = Files.readString(html);
            assertThat(page).startsWith("<!DOCTYPE html>").contains("data:image/png;base64,iVBORw0KGgo", "Patch lengths", "All figures")
                    .doesNotContain("<script", "src=\"http");
            // BPB by language and the patch histogram; accuracy by task when chars or arith is registered, by digits with arith.
            boolean chars = Suite.names().contains("chars"), arith = Suite.names().contains("arith");
            int figures = 2 + (chars || arith ? 1 : 0) + (arith ? 1 : 0);
            assertThat(page.split("data:image/png;base64,", -1)).hasSize(figures + 1);
        }
    }
}
