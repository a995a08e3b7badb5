package io.ionllama.spark;

import io.ionllama.cli.TrainWorker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import scala.reflect.ClassTag$;

/**
 * The driver of a data-parallel run ({@code ionllama-spark train --spark MASTER --workers N ...},
 * docs/distributed.md): one barrier stage of N tasks, each a whole {@code ionllama train} worker.
 * A failed stage (a worker died) is rerun from rank 0's latest checkpoint in {@code --out}; exact
 * resume makes the result that of an uninterrupted run.
 */
public final class SparkTrain {

    /** The driver's own flags; everything else goes to {@code ionllama train} on every worker. */
    public record Options(String master, int workers, int maxRestarts, String failOnce, List<String> conf,
                          List<String> trainArgs, Path out) {}

    private SparkTrain() {}

    /**
     * Why {@code --backend tornado} is refused: the workers run in Spark's executors, which would
     * need TornadoVM's JVM flags (its argfile: module path, exports, the runtime's properties) and
     * a jar with the TornadoVM backend; ionllama-spark.jar is built from the main sources only.
     */
    static final String TORNADO_REFUSED = "--backend tornado is not supported by ionllama-spark: its workers run in Spark "
            + "executors, which start without TornadoVM's JVM flags, and ionllama-spark.jar has no TornadoVM backend "
            + "(train on the cpu backend, or on one machine with scripts/ionllama train --backend tornado; docs/distributed.md)";

    public static Options parse(String[] args) {
        String master = null, failOnce = null;
        int workers = 0, maxRestarts = 3;
        Path out = null;
        boolean accumGiven = false;
        List<String> conf = new ArrayList<>(), train = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String v = i + 1 < args.length ? args[i + 1] : null;
            switch (a) {
                case "--spark" -> master = value(a, v, i++);
                case "--workers" -> workers = Integer.parseInt(value(a, v, i++));
                case "--max-restarts" -> maxRestarts = Integer.parseInt(value(a, v, i++));
                case "--conf" -> conf.add(value(a, v, i++));
                case "--test-fail-once" -> failOnce = value(a, v, i++);
                default -> {
                    if ((a.equals("--backend") && "tornado".equals(v)) || a.equals("--backend=tornado")) {
                        throw new IllegalArgumentException(TORNADO_REFUSED);
                    }
                    train.add(a);
                    if (a.equals("--out")) {
                        out = Path.of(value(a, v, i));
                    }
                    accumGiven |= a.equals("--grad-accum");
                }
            }
        }
        if (master == null || workers < 1) {
            throw new IllegalArgumentException("ionllama-spark train needs --spark MASTER_URL and --workers N (N >= 1)");
        }
        if (out == null) {
            throw new IllegalArgumentException("ionllama-spark train needs --out: a folder every worker can read (rank 0 "
                    + "writes the checkpoints there, and after a failure every worker resumes from them)");
        }
        if (!accumGiven) {
            train.add("--grad-accum");
            train.add(Integer.toString(workers));
        }
        return new Options(master, workers, maxRestarts, failOnce, conf, train, out);
    }

    private static String value(String flag, String v, int i) {
        if (v == null) {
            throw new IllegalArgumentException(flag + " needs a value");
        }
        return v;
    }

    /** Runs the job, rerunning it from the latest checkpoint after a worker fails (at most maxRestarts times). */
    public static void run(Options o) throws Exception {
        SparkConf conf = new SparkConf().setAppName("ionllama-train").setMaster(o.master())
                // A failed worker fails the job at once: this driver resumes it from the checkpoint
                // (Spark's own retry would restart the barrier stage from the flags, from step 0).
                .set("spark.task.maxFailures", "1")
                .set("spark.ui.enabled", "false");
        for (String kv : o.conf()) {
            int eq = kv.indexOf('=');
            conf.set(kv.substring(0, eq), kv.substring(eq + 1));
        }
        try (JavaSparkContext sc = new JavaSparkContext(conf)) {
            sc.setLogLevel("WARN");
            for (int attempt = 0; ; attempt++) {
                List<String> args = new ArrayList<>(o.trainArgs());
                Path latest = o.out().resolve("latest.safetensors");
                if (attempt > 0 && Files.exists(latest)) {
                    int r = args.indexOf("--resume");
                    if (r >= 0) {
                        args.remove(r);
                        if (r < args.size() && !args.get(r).startsWith("--")) {
                            args.remove(r);
                        }
                    }
                    args.add("--resume");
                    args.add(latest.toString());
                }
                List<Integer> ranks = IntStream.range(0, o.workers()).boxed().toList();
                try {
                    sc.parallelize(ranks, o.workers()).rdd().barrier()
                            .mapPartitions(new BarrierWorker(args.toArray(String[]::new), o.failOnce(), o.out().toString()),
                                    false, ClassTag$.MODULE$.apply(String.class))
                            .collect();
                    return;
                } catch (Exception e) {
                    if (TrainWorker.isUserError(e) || String.valueOf(e.getMessage()).contains("Errors$UserError")
                            || attempt >= o.maxRestarts()) {
                        throw e;
                    }
                    System.out.printf("a worker failed (%s); rerunning from %s (restart %d of %d)%n", firstLine(e),
                            Files.exists(latest) ? latest : "the start", attempt + 1, o.maxRestarts());
                }
            }
        }
    }

    private static String firstLine(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        String m = String.valueOf(root.getMessage());
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
