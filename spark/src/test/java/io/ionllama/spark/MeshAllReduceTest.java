package io.ionllama.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.channels.ServerSocketChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** The TCP mesh sums in rank order, bit for bit, whatever the chunking; a dead peer fails the others. */
class MeshAllReduceTest {

    /** Workers as threads on the loopback, connected as Spark's tasks connect them. */
    static <T> List<T> onWorkers(int n, WorkerBody<T> body) throws Exception {
        ServerSocketChannel[] servers = new ServerSocketChannel[n];
        String[] addresses = new String[n];
        for (int r = 0; r < n; r++) {
            servers[r] = MeshAllReduce.listen("127.0.0.1");
            addresses[r] = MeshAllReduce.address("127.0.0.1", servers[r]);
        }
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<T>> running = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                int rank = r;
                running.add(pool.submit((Callable<T>) () -> {
                    try (MeshAllReduce mesh = MeshAllReduce.connect(rank, addresses, servers[rank])) {
                        return body.run(mesh);
                    }
                }));
            }
            List<T> results = new ArrayList<>();
            for (Future<T> f : running) {
                results.add(f.get());
            }
            return results;
        } finally {
            pool.shutdownNow();
        }
    }

    interface WorkerBody<T> {
        T run(MeshAllReduce mesh) throws Exception;
    }

    /** Values of many magnitudes, so that another order of the sum gives other bits. */
    static float[] gradient(int rank, int length) {
        Random rnd = new Random(100 + rank);
        float[] g = new float[length];
        for (int i = 0; i < length; i++) {
            g[i] = (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(7) - 3));
        }
        return g;
    }

    static float[] rankOrderSum(int n, int length) {
        float[] sum = gradient(0, length);
        for (int q = 1; q < n; q++) {
            float[] g = gradient(q, length);
            for (int i = 0; i < length; i++) {
                sum[i] += g[i];
            }
        }
        return sum;
    }

    @Test
    void sumsInRankOrderBitForBit() throws Exception {
        // 600_001 floats: chunks of unequal size, several 1 MiB pieces each; two steps reuse the buffers.
        for (int n : new int[] {2, 3, 4}) {
            int length = 600_001;
            float[] expected = rankOrderSum(n, length);
            List<float[]> results = onWorkers(n, mesh -> {
                float[] g = null;
                for (int step = 0; step < 2; step++) {
                    g = gradient(mesh.rank(), length);
                    mesh.sum(step, g);
                }
                return g;
            });
            for (float[] r : results) {
                assertArrayEquals(expected, r, "n=" + n);
            }
        }
        // The check can fail: the reverse order gives other bits.
        float[] reverse = gradient(3, 600_001);
        for (int q = 2; q >= 0; q--) {
            float[] g = gradient(q, 600_001);
            for (int i = 0; i < g.length; i++) {
                reverse[i] += g[i];
            }
        }
        assertFalse(Arrays.equals(reverse, rankOrderSum(4, 600_001)));
    }

    @Test
    void gathersEveryWorkersMessage() throws Exception {
        List<byte[][]> results = onWorkers(3, mesh -> mesh.allGather(("w" + mesh.rank()).getBytes()));
        for (byte[][] all : results) {
            assertArrayEquals(new byte[][] {"w0".getBytes(), "w1".getBytes(), "w2".getBytes()}, all);
        }
    }

    @Test
    void aWorkerThatDiesFailsTheOthers() {
        ExecutionException e = assertThrows(ExecutionException.class, () -> onWorkers(3, mesh -> {
            if (mesh.rank() == 1) {
                throw new IllegalStateException("worker 1 dies");
            }
            mesh.sum(0, new float[1000]);
            return null;
        }));
        // Whichever failure is reported first, no worker hangs: this returns.
        assertFalse(e.getCause() == null);
    }

}
