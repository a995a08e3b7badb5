package io.ionllama.spark;

import io.ionllama.cli.TrainWorker;
import io.ionllama.train.GradientExchange;
import java.io.IOException;
import java.io.Serializable;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.SparkEnv;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.AbstractFunction1;

/**
 * One barrier task of a data-parallel run: opens a listening socket, swaps addresses with the other
 * tasks through {@link BarrierTaskContext#allGather}, connects the {@link MeshAllReduce}, and trains
 * as worker {@code partitionId} ({@link TrainWorker}). Any exception fails the barrier stage.
 */
final class BarrierWorker extends AbstractFunction1<Iterator<Integer>, Iterator<String>> implements Serializable {

    private static final long serialVersionUID = 1L;

    private final String[] trainArgs;
    /** The test hook: "RANK:STEP", worker RANK throws at step STEP once per run folder (null: none). */
    private final String failOnce;
    private final String out;

    BarrierWorker(String[] trainArgs, String failOnce, String out) {
        this.trainArgs = trainArgs;
        this.failOnce = failOnce;
        this.out = out;
    }

    @Override
    public Iterator<String> apply(Iterator<Integer> partition) {
        BarrierTaskContext ctx = BarrierTaskContext.get();
        int rank = ctx.partitionId();
        // The address other executors reach this one at (Spark's own, SPARK_LOCAL_IP or the host name).
        String host = SparkEnv.get().blockManager().blockManagerId().host();
        try {
            ServerSocketChannel server = MeshAllReduce.listen(host);
            String[] addresses = ctx.allGather(MeshAllReduce.address(host, server));
            try (MeshAllReduce mesh = MeshAllReduce.connect(rank, addresses, server)) {
                GradientExchange ex = failOnce == null ? mesh : new FailOnce(mesh, failOnce, Path.of(out));
                TrainWorker.run(trainArgs, ex, System.out);
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("worker " + rank + ": " + e, e);
        }
        return CollectionConverters.asScala(List.of("worker " + rank + " done").iterator());
    }

    /** The test hook: throws in one worker at one step, once (a marker file in the run folder remembers). */
    static final class FailOnce extends GradientExchange.Forwarding {
        private final String spec;
        private final Path out;

        FailOnce(GradientExchange inner, String spec, Path out) {
            super(inner);
            this.spec = spec;
            this.out = out;
        }

        @Override
        public void sum(long step, float[] grads) throws IOException {
            int colon = spec.indexOf(':');
            int failRank = Integer.parseInt(spec.substring(0, colon));
            long failStep = Long.parseLong(spec.substring(colon + 1));
            Path marker = out.resolve(".test-failed-once");
            if (rank() == failRank && step == failStep && !Files.exists(marker)) {
                Files.writeString(marker, spec);
                throw new IllegalStateException("test hook: worker " + failRank + " fails at step " + failStep);
            }
            inner.sum(step, grads);
        }
    }
}
