package io.ionllama.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed pool of worker threads that runs {@code [0, n)} split into one contiguous range per
 * thread. The caller's thread runs the first range itself, so a pool of 1 thread spawns nothing.
 *
 * <p>Why not a ForkJoinPool: the split must be fixed (unit u always lands in the same range for a
 * given thread count, never stolen) and a step launches thousands of small ops, so dispatch must
 * not allocate. Units write disjoint outputs, so the split never changes a result.
 */
public final class WorkerPool implements AutoCloseable {

    /** Body of a parallel loop: run units {@code [from, to)}. */
    @FunctionalInterface
    public interface RangeTask {
        void run(int from, int to);
    }

    private final int threads;
    private final Thread[] workers;
    private final AtomicInteger pending = new AtomicInteger();
    private volatile RangeTask task;
    private volatile int taskUnits;
    private volatile long generation;
    private volatile boolean closed;
    private volatile Throwable failure;
    private final Thread[] waiting = new Thread[1];

    public WorkerPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int k = 0; k < workers.length; k++) {
            final int slot = k + 1;
            Thread t = new Thread(() -> workLoop(slot), "ionllama-worker-" + slot);
            t.setDaemon(true);
            workers[k] = t;
            t.start();
        }
    }

    public int threads() {
        return threads;
    }

    /** Ids of the pool's own threads (not the caller's), e.g. for per-thread allocation counters. */
    public long[] workerThreadIds() {
        long[] ids = new long[workers.length];
        for (int k = 0; k < workers.length; k++) {
            ids[k] = workers[k].threadId();
        }
        return ids;
    }

    /** Splits {@code [0, n)} into at most {@code threads} contiguous ranges and waits for all. */
    public void parallelFor(int n, RangeTask body) {
        if (n <= 0) {
            return;
        }
        if (threads == 1 || n == 1) {
            body.run(0, n);
            return;
        }
        synchronized (this) {
            failure = null;
            task = body;
            taskUnits = n;
            pending.set(threads - 1);
            waiting[0] = Thread.currentThread();
            generation++;
            for (Thread w : workers) {
                LockSupport.unpark(w);
            }
            Throwable own = null;
            try {
                runSlot(0, n, body);
            } catch (Throwable t) {
                own = t;
            }
            int spins = 0;
            while (pending.get() > 0) {
                if (++spins < 20_000) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.parkNanos(this, 50_000);
                }
            }
            task = null;
            Throwable err = own != null ? own : failure;
            if (err instanceof RuntimeException re) {
                throw re;
            }
            if (err instanceof Error e) {
                throw e;
            }
        }
    }

    private void runSlot(int slot, int n, RangeTask body) {
        int from = (int) ((long) n * slot / threads);
        int to = (int) ((long) n * (slot + 1) / threads);
        if (from < to) {
            body.run(from, to);
        }
    }

    private void workLoop(int slot) {
        long seen = 0;
        while (!closed) {
            long g = generation;
            if (g == seen) {
                int spins = 0;
                while (generation == seen && !closed) {
                    if (++spins < 2_000) {
                        Thread.onSpinWait();
                    } else {
                        LockSupport.park(this);
                    }
                }
                continue;
            }
            seen = g;
            RangeTask body = task;
            try {
                if (body != null) {
                    runSlot(slot, taskUnits, body);
                }
            } catch (Throwable t) {
                failure = t;
            } finally {
                if (pending.decrementAndGet() == 0) {
                    LockSupport.unpark(waiting[0]);
                }
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
    }
}
