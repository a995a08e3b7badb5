package io.ionllama.testing;

import io.ionllama.train.GradientExchange;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;

/**
 * Data-parallel workers as threads of one JVM ({@link io.ionllama.train.Trainer#dataParallel}):
 * sums in rank order through shared arrays, each worker adding every contribution itself, as
 * ionllama-spark's MeshAllReduce does over TCP. {@link #seconds} is the time spent in
 * {@link #sum} and {@link #allGather}, waiting for the other workers included.
 */
public record ThreadExchange(Group group, int rank, long[] nanos) implements GradientExchange {

    /** The workers of one run. */
    public static final class Group {
        final int n;
        final CyclicBarrier barrier;
        final float[][] grads;
        final byte[][] messages;
        volatile boolean aborted;

        public Group(int n) {
            this.n = n;
            this.barrier = new CyclicBarrier(n);
            this.grads = new float[n][];
            this.messages = new byte[n][];
        }

        public ThreadExchange member(int rank) {
            return new ThreadExchange(this, rank, new long[1]);
        }

        /** A worker failed: the others fail at their next exchange instead of waiting for it forever. */
        public void abort() {
            aborted = true;
            barrier.reset();
        }
    }

    @Override
    public int workers() {
        return group.n;
    }

    @Override
    public void sum(long step, float[] g) {
        long t0 = System.nanoTime();
        group.grads[rank] = g.clone();
        await();
        float[] total = group.grads[0].clone();
        for (int q = 1; q < group.n; q++) {
            for (int i = 0; i < total.length; i++) {
                total[i] += group.grads[q][i];
            }
        }
        await();
        System.arraycopy(total, 0, g, 0, g.length);
        nanos[0] += System.nanoTime() - t0;
    }

    @Override
    public byte[][] allGather(byte[] mine) {
        long t0 = System.nanoTime();
        group.messages[rank] = mine;
        await();
        byte[][] all = group.messages.clone();
        await();
        nanos[0] += System.nanoTime() - t0;
        return all;
    }

    @Override
    public double seconds() {
        return nanos[0] / 1e9;
    }

    private void await() {
        if (group.aborted) {
            throw new IllegalStateException("another worker failed");
        }
        try {
            group.barrier.await();
        } catch (InterruptedException | BrokenBarrierException e) {
            throw new IllegalStateException(e);
        }
    }
}
