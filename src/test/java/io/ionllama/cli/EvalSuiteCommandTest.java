package io.ionllama.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.ionllama.eval.JsonSchemaCheck;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code eval --tasks ... --results ... --report ...}: the suite through the CLI. */
class EvalSuiteCommandTest {

    @TempDir
    Path dir;

    @Test
    void anUnknownTaskIsOneLineAndExitTwoBeforeAnythingLoads() {
        // The checkpoint does not exist: the task name is checked first, so its error is the one shown.
        CliTest.Result r = CliTest.run("eval", "--checkpoint", dir.resolve("none").toString(), "--tasks", "lm,bogus");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip().lines()).hasSize(1);
        assertThat(r.err()).startsWith("ionllama: --tasks: unknown task 'bogus' (known: lm,").contains("all)");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void labelledFilesReportJsonAndHtml() throws Exception {
        Path ckpt = CliHarness.tinyCheckpoint(dir.resolve("m.safetensors"));
        Path en = Files.writeString(dir.resolve("en.txt"), "the cat sat on the mat. ".repeat(20));
        Path zh = Files.writeString(dir.resolve("zh.txt"), "小猫坐在垫子上。".repeat(20));
        Path json = dir.resolve("results.json"), html = dir.resolve("report.html");
        CliTest.Result r = CliTest.run("eval", "--checkpoint", ckpt.toString(), "--data", "en=" + en, "--data", "zh=" + zh,
                "--tasks", "lm,compression,multilingual", "--seq-len", "64", "--results", json.toString(), "--report", html.toString(),
                "--threads", "1");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("== lm", "== compression", "== multilingual", "en.txt", "p50", "results: ", "report: ");
        JsonObject doc = JsonParser.parseString(Files.readString(json)).getAsJsonObject();
        assertThat(JsonSchemaCheck.violations(JsonSchemaCheck.resultsSchema(), doc)).isEmpty();
        assertThat(doc.get("schema").getAsString()).isEqualTo("ionllama-eval/1");
        assertThat(doc.get("architecture").getAsString()).isEqualTo("ionllama");
        assertThat(doc.getAsJsonArray("data").get(1).getAsJsonObject().get("label").getAsString()).isEqualTo("zh");
        assertThat(doc.getAsJsonObject("tasks").getAsJsonArray("multilingual").toString()).contains("\"lang\":\"en\"", "\"lang\":\"zh\"");
        String page = Files.readString(html);
        assertThat(page).contains("data:image/png;base64,iVBORw0KGgo", "Bits per byte by language");
        assertThat(page.split("data:image/png;base64,", -1)).hasSize(3); // BPB by language, patch lengths

        // A folder --report fails before the evaluation.
        CliTest.Result onFolder = CliTest.run("eval", "--checkpoint", ckpt.toString(), "--report", dir.toString(), "--threads", "1");
        assertThat(onFolder.code()).isEqualTo(2);
        assertThat(onFolder.err()).startsWith("ionllama: --report ").contains("is a folder");
        assertThat(onFolder.out()).isEmpty();
    }

    @Test
    void dataLabelsAndLimitBounds() throws Exception {
        assertThat(EvalCommand.DataArg.parse("zh=data/zh.txt")).isEqualTo(new EvalCommand.DataArg("zh", Path.of("data/zh.txt")));
        assertThat(EvalCommand.DataArg.parse("data/zh.txt")).isEqualTo(new EvalCommand.DataArg("zh.txt", Path.of("data/zh.txt")));
        assertThat(EvalCommand.DataArg.parse("a/b=c.txt").label()).as("a path, not a label").isEqualTo("b=c.txt");

        CliTest.Result r = CliTest.run("eval", "--checkpoint", dir.resolve("none").toString(), "--limit", "-1");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip()).startsWith("ionllama: --limit must be between 0 and ");
    }
}
