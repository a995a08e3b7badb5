package io.ionllama.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed pool of worker threads that runs {@code [0, n)} split into one contiguous range per
 * thread ("slot"). The caller's thread runs the first range and takes part in the rest, so a pool of 1 thread spawns nothing.
 *
 * <p>Why not a ForkJoinPool: the split must be fixed (unit u always lands in the same slot for a
 * given thread count) and a step launches thousands of small ops, so dispatch must not allocate.
 * Units write disjoint outputs, so the split never changes a result.
 *
 * <p>Slots are claimed, not assigned: the caller and the workers take the next unclaimed slot
 * until none is left, and the caller then waits only for slots a worker is still running. On a
 * loaded machine (more runnable threads than cores) a worker that is descheduled or still
 * waking up simply claims nothing, and the caller runs its slot instead of waiting for it. Which
 * thread runs a slot never matters: the slot's range is fixed, so results are unchanged.
 *
 * <p>Idle workers spin briefly (ops of a step come back to back), then park. Spinning is short
 * and bounded in time so that, on a machine with as many busy threads as cores, a waiting
 * worker gives the core back quickly.
 */
public final class WorkerPool implements AutoCloseable {

    /** Body of a parallel loop: run units {@code [from, to)}. */
    @FunctionalInterface
    public interface RangeTask {
        void run(int from, int to);
    }

    /** How long an idle worker spins before parking. */
    private static final long WORKER_SPIN_NANOS = 50_000;
    /** How long the caller spins for a running slot before parking between checks. */
    private static final long CALLER_SPIN_NANOS = 200_000;

    private final int threads;
    private final Thread[] workers;
    /** (generation << 32) | next unclaimed slot: one CAS claims a slot of the current dispatch only. */
    private final AtomicLong claim = new AtomicLong();
    private final AtomicInteger done = new AtomicInteger();
    private volatile RangeTask task;
    private volatile int taskUnits;
    private volatile boolean closed;
    /** The dispatch's first failure (a compare-and-set, so two failing ranges keep the first). */
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile Thread caller;
    private long generation;

    public WorkerPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int k = 0; k < workers.length; k++) {
            Thread t = new Thread(this::workLoop, "ionllama-worker-" + (k + 1));
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
            failure.set(null);
            task = body;
            taskUnits = n;
            caller = Thread.currentThread();
            done.set(0);
            long g = ++generation & 0x7fff_ffffL;
            // Slot 0 is the caller's, so with 2 threads each half of the rows stays on one core from
            // op to op (cache locality); the others go to whoever claims them first.
            claim.set(g << 32 | 1); // publishes task and taskUnits to any worker that sees generation g
            for (Thread w : workers) {
                LockSupport.unpark(w);
            }
            runClaimed(g, n, body, true);
            if (done.get() < threads) {
                long t0 = System.nanoTime();
                while (done.get() < threads) {
                    if (System.nanoTime() - t0 < CALLER_SPIN_NANOS) {
                        Thread.onSpinWait();
                    } else {
                        LockSupport.parkNanos(this, 20_000);
                    }
                }
            }
            task = null;
            Throwable err = failure.get();
            if (err instanceof RuntimeException re) {
                throw re;
            }
            if (err instanceof Error e) {
                throw e;
            }
        }
    }

    /** Claims the next slot of generation {@code g}, or returns -1 when none is left or g is over. */
    private int claimSlot(long g) {
        while (true) {
            long c = claim.get();
            int slot = (int) c;
            if ((c >>> 32) != g || slot >= threads) {
                return -1;
            }
            if (claim.compareAndSet(c, c + 1)) {
                return slot;
            }
        }
    }

    /**
     * Runs slots of generation {@code g} until none is left: slot 0 first when {@code callerSlot}.
     * A failure is recorded before its slot counts as finished, so once every slot is finished
     * the caller sees every failure of its dispatch, and no failure outlives it. After a failure
     * this thread claims the remaining slots without running them, so the dispatch ends soon.
     */
    private void runClaimed(long g, int n, RangeTask body, boolean callerSlot) {
        int slot = callerSlot ? 0 : claimSlot(g);
        while (slot >= 0) {
            try {
                runSlot(slot, n, body);
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
                finish();
                drain(g);
                return;
            }
            finish();
            slot = claimSlot(g);
        }
    }

    private void runSlot(int slot, int n, RangeTask body) {
        int from = (int) ((long) n * slot / threads);
        int to = (int) ((long) n * (slot + 1) / threads);
        if (from < to) {
            body.run(from, to);
        }
    }

    /** After a failure: claims every remaining slot without running it, so the dispatch ends. */
    private void drain(long g) {
        while (claimSlot(g) >= 0) {
            finish();
        }
    }

    private void finish() {
        if (done.incrementAndGet() == threads) {
            Thread c = caller;
            if (c != Thread.currentThread()) {
                LockSupport.unpark(c);
            }
        }
    }

    private void workLoop() {
        long seen = 0;
        while (!closed) {
            long g = claim.get() >>> 32;
            if (g == seen) {
                long t0 = System.nanoTime();
                while (claim.get() >>> 32 == seen && !closed) {
                    if (System.nanoTime() - t0 < WORKER_SPIN_NANOS) {
                        Thread.onSpinWait();
                    } else {
                        LockSupport.park(this);
                    }
                }
                continue;
            }
            seen = g;
            // Read after seeing generation g: task and units are g's (a later dispatch cannot
            // start before every slot of g, including any this thread claims below, is done).
            RangeTask body = task;
            int n = taskUnits;
            if (body == null) {
                continue;
            }
            runClaimed(g, n, body, false);
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
