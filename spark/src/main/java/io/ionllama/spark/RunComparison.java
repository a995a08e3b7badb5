package io.ionllama.spark;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.ionllama.train.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Compares two run folders (scripts/spark-cluster): whether their latest checkpoints hold the same
 * bits (every parameter and optimizer moment, the step and the patch threshold), whether every
 * train and validation record of metrics.jsonl logged the same figures (loss, BPB, accuracy,
 * gradient norm...), and the time per step each took, with the all-reduce's share where the run
 * was data-parallel.
 * {@code java -cp ionllama-spark.jar io.ionllama.spark.RunComparison ONE_PROCESS_RUN SPARK_RUN}
 */
public final class RunComparison {

    private RunComparison() {}

    /** The first difference between the latest checkpoints of two runs, or null when they are equal bit for bit. */
    public static String firstDifference(Path runA, Path runB) throws IOException {
        Safetensors.Reader a = Safetensors.open(runA.resolve("latest.safetensors"));
        Safetensors.Reader b = Safetensors.open(runB.resolve("latest.safetensors"));
        for (String key : List.of("step", "patch.theta", "patch.level", "train.grad_accum", "train.grad_accum_sum")) {
            if (!String.valueOf(a.metadata().get(key)).equals(String.valueOf(b.metadata().get(key)))) {
                return key + ": " + a.metadata().get(key) + " vs " + b.metadata().get(key);
            }
        }
        if (!a.entries().keySet().equals(b.entries().keySet())) {
            return "different tensors: " + a.entries().keySet() + " vs " + b.entries().keySet();
        }
        for (Map.Entry<String, Safetensors.Entry> e : a.entries().entrySet()) {
            if (!e.getValue().dtype().equals("F32")) {
                continue;
            }
            int count = (int) e.getValue().count();
            float[] x = new float[count], y = new float[count];
            a.readF32(e.getKey(), x, 0);
            b.readF32(e.getKey(), y, 0);
            if (!Arrays.equals(x, y)) {
                return e.getKey() + " differs";
            }
        }
        return null;
    }

    /** Fields of a metrics record that depend on the clock, the heap or the worker count, not on the numbers trained. */
    private static final Set<String> NOT_COMPARED =
            Set.of("time", "elapsed_s", "bytes_per_s", "peak_heap_mb", "workers", "step_s", "allreduce_s");

    /**
     * The first difference between two runs' metrics.jsonl (every record, each field except
     * {@link #NOT_COMPARED}, as logged: doubles to the last digit), or null when they match.
     */
    public static String firstMetricsDifference(Path runA, Path runB) throws IOException {
        List<String> a = Files.readAllLines(runA.resolve("metrics.jsonl")), b = Files.readAllLines(runB.resolve("metrics.jsonl"));
        if (a.size() != b.size()) {
            return "metrics.jsonl: " + a.size() + " vs " + b.size() + " records";
        }
        for (int i = 0; i < a.size(); i++) {
            JsonObject x = JsonParser.parseString(a.get(i)).getAsJsonObject(), y = JsonParser.parseString(b.get(i)).getAsJsonObject();
            Set<String> keys = new TreeSet<>(x.keySet());
            keys.addAll(y.keySet());
            keys.removeAll(NOT_COMPARED);
            for (String k : keys) {
                if (!String.valueOf(x.get(k)).equals(String.valueOf(y.get(k)))) {
                    return "metrics.jsonl record " + (i + 1) + " (" + x.get("kind") + " step " + x.get("step") + "), " + k + ": "
                            + x.get(k) + " vs " + y.get(k);
                }
            }
        }
        return null;
    }

    /** Mean seconds per step and all-reduce seconds per step over the train records after the first. */
    static double[] stepTimes(Path run) throws IOException {
        double prevElapsed = Double.NaN, prevStep = 0, seconds = 0, steps = 0, allreduce = 0, workerSteps = 0;
        for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
            JsonObject r = JsonParser.parseString(line).getAsJsonObject();
            if (!r.get("kind").getAsString().equals("train")) {
                continue;
            }
            double step = r.get("step").getAsDouble(), elapsed = r.get("elapsed_s").getAsDouble();
            if (!Double.isNaN(prevElapsed) && step > prevStep) {
                seconds += elapsed - prevElapsed;
                steps += step - prevStep;
                if (r.has("allreduce_s")) {
                    allreduce += r.get("allreduce_s").getAsDouble() * (step - prevStep);
                    workerSteps += step - prevStep;
                }
            }
            prevElapsed = elapsed;
            prevStep = step;
        }
        return new double[] {seconds / steps, workerSteps == 0 ? 0 : allreduce / workerSteps};
    }

    public static void main(String[] args) throws IOException {
        Path one = Path.of(args[0]), spark = Path.of(args[1]);
        String diff = firstDifference(one, spark);
        System.out.println(diff == null ? "latest checkpoints: equal bit for bit (parameters, optimizer moments, patch threshold)"
                : "latest checkpoints DIFFER: " + diff);
        String metricsDiff = firstMetricsDifference(one, spark);
        System.out.println(metricsDiff == null
                ? "metrics: every train and valid record equal (loss, BPB, accuracy, gradient norm, ... to the last digit)"
                : "metrics DIFFER: " + metricsDiff);
        double[] a = stepTimes(one), b = stepTimes(spark);
        System.out.printf("one process:   %.3f s/step (steps 2 to the last; evaluations and checkpoints between them included)%n", a[0]);
        System.out.printf("spark workers: %.3f s/step, of which all-reduce %.3f s (%.0f%%)%n", b[0], b[1], 100 * b[1] / b[0]);
        System.exit(diff == null && metricsDiff == null ? 0 : 1);
    }
}
