package io.ionllama.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ionllama.backend.cpu.CpuBackend;
import java.lang.management.ManagementFactory;

/**
 * Bytes a piece of CPU-backend work allocates, on the calling thread and the backend's workers
 * together, for the tests that dispatch stays allocation-free.
 *
 * <p>Measured round after round, warming up between rounds, until one round allocates less than
 * the bound: on a loaded machine C2 may compile the hot loops long after a fixed warm-up, and
 * until then C1 boxes vectors. Work that stays boxed under C2 still fails after the last round.
 */
public final class Allocations {
    private Allocations() {}

    private static final int ROUNDS = 40, WARMUP_BETWEEN = 20;
    private static final long PATIENCE_NANOS = 60_000_000_000L;

    /** The fewest bytes one run of {@code work} allocated, after {@code warmups} runs, stopping once under {@code bound}. */
    public static long leastPerRun(CpuBackend cpu, Runnable work, int warmups, long bound) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assumeTrue(mx.isThreadAllocatedMemorySupported(), "per-thread allocation counters unsupported");
        mx.setThreadAllocatedMemoryEnabled(true);
        long[] workers = cpu.pool().workerThreadIds();
        long[] ids = new long[workers.length + 1];
        ids[0] = Thread.currentThread().threadId();
        System.arraycopy(workers, 0, ids, 1, workers.length);
        for (int k = 0; k < warmups; k++) {
            work.run();
        }
        long best = Long.MAX_VALUE;
        // At least ROUNDS rounds, and on a machine so loaded that C2 is still compiling after them,
        // more until a minute has passed (a CI run beside three builds once ran out of rounds).
        long deadline = System.nanoTime() + PATIENCE_NANOS;
        for (int round = 0; best >= bound && (round < ROUNDS || System.nanoTime() < deadline); round++) {
            for (int k = 0; k < WARMUP_BETWEEN && round > 0; k++) {
                work.run();
            }
            long before = total(mx, ids);
            work.run();
            best = Math.min(best, total(mx, ids) - before);
        }
        return best;
    }

    private static long total(com.sun.management.ThreadMXBean mx, long[] ids) {
        long sum = 0;
        for (long b : mx.getThreadAllocatedBytes(ids)) {
            sum += b;
        }
        return sum;
    }
}
