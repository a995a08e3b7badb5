package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ionllama.backend.cpu.CpuBackend;
import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** As {@link StepAllocationTest}, for the dense model: a steady-state step allocates nothing but its result record. */
@Tag("allocation")
class DenseStepAllocationTest {

    @Test
    void steadyStateStepAllocatesAlmostNothing() {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assumeTrue(mx.isThreadAllocatedMemorySupported(), "per-thread allocation counters unsupported");
        mx.setThreadAllocatedMemoryEnabled(true);
        try (CpuBackend cpu = new CpuBackend(2)) {
            DenseGpt m = new DenseGpt(new DenseConfig(32, 2, 2, 64, 64), cpu);
            m.init(1);
            int B = 2, T = 64;
            int[] x = new int[B * T], y = new int[B * T];
            SplittableRandom r = new SplittableRandom(1);
            for (int i = 0; i < x.length; i++) {
                x[i] = 'a' + r.nextInt(26);
                y[i] = 'a' + r.nextInt(26);
            }
            long[] workers = cpu.pool().workerThreadIds();
            long[] ids = new long[workers.length + 1];
            ids[0] = Thread.currentThread().threadId();
            System.arraycopy(workers, 0, ids, 1, workers.length);
            for (int k = 0; k < 300; k++) {
                m.forward(x, y, B, T);
                m.backward(1f);
            }
            long best = Long.MAX_VALUE;
            for (int round = 0; round < 10; round++) {
                long before = total(mx, ids);
                for (int k = 0; k < 10; k++) {
                    m.forward(x, y, B, T);
                    m.backward(1f);
                }
                best = Math.min(best, total(mx, ids) - before);
            }
            assertThat(best / 10).as("bytes allocated per training step").isLessThan(2048);
        }
    }

    private static long total(com.sun.management.ThreadMXBean mx, long[] ids) {
        long sum = 0;
        for (long b : mx.getThreadAllocatedBytes(ids)) {
            sum += b;
        }
        return sum;
    }
}
