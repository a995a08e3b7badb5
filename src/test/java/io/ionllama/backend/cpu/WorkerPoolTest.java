package io.ionllama.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The pool runs every unit exactly once, in the fixed ranges, whichever thread claims them. */
class WorkerPoolTest {

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 5})
    void everyUnitRunsOnceInItsFixedRange(int threads) {
        try (WorkerPool pool = new WorkerPool(threads)) {
            for (int n = 0; n <= 40; n++) {
                int[] hits = new int[n];
                int[] rangeOf = new int[n];
                final int units = n;
                pool.parallelFor(n, (from, to) -> {
                    // The split is fixed: [n*s/threads, n*(s+1)/threads) for slot s.
                    int slot = -1;
                    for (int s = 0; s < threads; s++) {
                        if (from == (int) ((long) units * s / threads) && to == (int) ((long) units * (s + 1) / threads)) {
                            slot = s;
                        }
                    }
                    for (int u = from; u < to; u++) {
                        hits[u]++;
                        rangeOf[u] = units == 1 ? 0 : slot;
                    }
                });
                for (int u = 0; u < n; u++) {
                    assertThat(hits[u]).as("unit %d of %d", u, n).isEqualTo(1);
                    assertThat(rangeOf[u]).as("range of unit %d of %d", u, n).isGreaterThanOrEqualTo(0);
                }
            }
        }
    }

    @Test
    void manySmallDispatchesInARowAllComplete() {
        try (WorkerPool pool = new WorkerPool(3)) {
            long[] sums = new long[64];
            for (int round = 0; round < 20_000; round++) {
                int n = 2 + round % 60;
                pool.parallelFor(n, (from, to) -> {
                    for (int u = from; u < to; u++) {
                        sums[u] += u;
                    }
                });
            }
            long total = 0;
            for (long s : sums) {
                total += s;
            }
            long expected = 0;
            for (int round = 0; round < 20_000; round++) {
                int n = 2 + round % 60;
                expected += (long) n * (n - 1) / 2;
            }
            assertThat(total).isEqualTo(expected);
        }
    }

    @Test
    void aFailureInAnyRangeReachesTheCallerAndThePoolStaysUsable() {
        try (WorkerPool pool = new WorkerPool(2)) {
            for (int failing = 0; failing < 4; failing++) {
                final int bad = failing;
                assertThatThrownBy(() -> pool.parallelFor(4, (from, to) -> {
                    if (bad >= from && bad < to) {
                        throw new IllegalStateException("unit " + bad);
                    }
                })).isInstanceOf(IllegalStateException.class).hasMessage("unit " + bad);
                AtomicInteger count = new AtomicInteger();
                pool.parallelFor(100, (from, to) -> count.addAndGet(to - from));
                assertThat(count.get()).isEqualTo(100);
            }
        }
    }

    /**
     * A worker's failure must be recorded before its slot counts as finished, or the caller may
     * return normally while a range threw (and the error surface in a later, unrelated call).
     * The window is a few instructions wide, so hammer it: thousands of rounds, the failing unit
     * in the caller's range and in a worker's, with clean dispatches in between.
     */
    @ParameterizedTest
    @ValueSource(ints = {2, 3})
    void everyFailureReachesItsOwnCallerUnderHammering(int threads) {
        try (WorkerPool pool = new WorkerPool(threads)) {
            AtomicInteger count = new AtomicInteger();
            for (int round = 0; round < 20_000; round++) {
                final int bad = round % threads;   // 0: the caller's slot; others: a worker's
                final int n = threads * (1 + round % 3);
                final int badUnit = bad * n / threads;
                final String msg = "round " + round;
                assertThatThrownBy(() -> pool.parallelFor(n, (from, to) -> {
                    if (badUnit >= from && badUnit < to) {
                        throw new IllegalStateException(msg);
                    }
                })).as("round %d (failing slot %d)", round, bad)
                        .isInstanceOf(IllegalStateException.class).hasMessage(msg);
                count.set(0);
                pool.parallelFor(n, (from, to) -> count.addAndGet(to - from));
                assertThat(count.get()).as("clean dispatch after round %d", round).isEqualTo(n);
            }
        }
    }
}
