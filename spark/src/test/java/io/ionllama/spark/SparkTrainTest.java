package io.ionllama.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ionllama.cli.Main;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * N Spark workers (local[N], threads in this JVM) equal one process with --grad-accum N
 * --grad-accum-sum separate, bit for bit: every parameter and optimizer moment of the last
 * checkpoint, the patch threshold, and every figure metrics.jsonl logs. Past the entropy warm-up, so calibration is covered.
 */
class SparkTrainTest {

    @TempDir
    Path dir;

    static final List<String> FLAGS = List.of("--size", "nano", "--threads", "1", "--batch-size", "2", "--seq-len", "64",
            "--max-steps", "6", "--warmup", "2", "--entropy-warmup", "2", "--eval-every", "2", "--eval-batches", "1",
            "--sample-bytes", "0", "--log-every", "1", "--save-every", "0", "--no-progress");

    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void workersEqualGradAccum(int n) throws Exception {
        Path one = onePass(n);
        Path spark = dir.resolve("spark");
        SparkTrain.run(SparkTrain.parse(sparkArgs(n, spark, null)));
        assertSameState(one, spark);
        assertNull(RunComparison.firstMetricsDifference(one, spark), "every logged loss, BPB, gradient norm...");
    }

    /** Worker 1 throws at step 3: the job reruns from step 2's checkpoint and ends where an uninterrupted run ends. */
    @Test
    void aKilledWorkerResumesToTheSameResult() throws Exception {
        Path one = onePass(2);
        Path spark = dir.resolve("spark-killed");
        SparkTrain.run(SparkTrain.parse(sparkArgs(2, spark, "1:3")));
        assertTrue(Files.exists(spark.resolve(".test-failed-once")), "the test hook fired");
        assertSameState(one, spark);
    }

    /** The TornadoVM backend is refused in one line, before Spark starts (its executors would need TornadoVM's JVM flags). */
    @Test
    void theTornadoBackendIsRefusedInOneLine() {
        for (String[] backend : List.of(new String[] {"--backend", "tornado"}, new String[] {"--backend=tornado"})) {
            List<String> args = new ArrayList<>(List.of("--spark", "local[2]", "--workers", "2", "--out", dir.toString()));
            args.addAll(List.of(backend));
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> SparkTrain.parse(args.toArray(String[]::new)));
            assertTrue(e.getMessage().startsWith("--backend tornado is not supported") && !e.getMessage().contains("\n"),
                    e.getMessage());
        }
        // The CPU backend passes through to every worker's ionllama train.
        SparkTrain.Options o = SparkTrain.parse(new String[] {"--spark", "local[2]", "--workers", "2", "--out", dir.toString(),
                "--backend", "cpu"});
        assertTrue(o.trainArgs().containsAll(List.of("--backend", "cpu")), o.trainArgs().toString());
    }

    private Path onePass(int n) {
        Path out = dir.resolve("one-" + n);
        List<String> args = new ArrayList<>(List.of("train"));
        args.addAll(FLAGS);
        args.addAll(List.of("--grad-accum", Integer.toString(n), "--grad-accum-sum", "separate", "--out", out.toString()));
        assertEquals(0, Main.run(args.toArray(String[]::new)));
        return out;
    }

    private static String[] sparkArgs(int n, Path out, String failOnce) {
        List<String> args = new ArrayList<>(List.of("--spark", "local[" + n + "]", "--workers", Integer.toString(n),
                "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1"));
        if (failOnce != null) {
            args.addAll(List.of("--test-fail-once", failOnce));
        }
        args.addAll(FLAGS);
        args.addAll(List.of("--out", out.toString()));
        return args.toArray(String[]::new);
    }

    static void assertSameState(Path expectedRun, Path actualRun) throws Exception {
        assertNull(RunComparison.firstDifference(expectedRun, actualRun));
    }
}
