package io.ionllama.spark;

import java.util.Arrays;

/**
 * {@code ionllama-spark}: {@code train --spark MASTER_URL --workers N [--conf k=v]... [--max-restarts K]
 * <the flags of ionllama train>}. MASTER_URL is local[N] (N workers as threads in this JVM) or a
 * cluster's (spark://host:7077); or run this class through spark-submit (docs/distributed.md).
 */
public final class SparkMain {

    private SparkMain() {}

    public static void main(String[] args) {
        if (args.length == 0 || !args[0].equals("train")) {
            System.err.println("usage: ionllama-spark train --spark MASTER_URL --workers N [--conf key=value]... "
                    + "[--max-restarts K] <flags of ionllama train, --out required>");
            System.exit(2);
        }
        try {
            SparkTrain.run(SparkTrain.parse(Arrays.copyOfRange(args, 1, args.length)));
        } catch (IllegalArgumentException e) {
            System.err.println("ionllama-spark: " + e.getMessage());
            System.exit(2);
        } catch (Exception e) {
            System.err.println("ionllama-spark: the run failed: " + e.getMessage());
            System.exit(1);
        }
        System.exit(0);
    }
}
