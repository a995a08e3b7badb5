package io.ionllama.train;

import java.io.IOException;

/**
 * How a data-parallel worker shares a step with the others (docs/distributed.md): worker
 * {@link #rank} of {@link #workers} computes micro-batch {@code rank} of each step, and the flat
 * gradient is summed over the workers so that every one applies the same optimizer step. The sum
 * must add the workers' gradients in rank order, element by element, starting from rank 0's: then
 * N workers equal one process with {@code --grad-accum N --grad-accum-sum separate}, bit for bit.
 */
public interface GradientExchange {

    int rank();

    int workers();

    /**
     * Replaces {@code grads} (this worker's gradient of step {@code step}) with the sum of every
     * worker's, added in rank order; every worker ends with the same array.
     */
    void sum(long step, float[] grads) throws IOException;

    /** Every worker's {@code mine}, indexed by rank (small messages: a step's statistics). */
    byte[][] allGather(byte[] mine) throws IOException;

    /** Seconds spent in {@link #sum} and {@link #allGather} so far (reported as the all-reduce time per step). */
    double seconds();

    /**
     * An exchange that forwards everything to another: a wrapper overrides only what it adds (a
     * test hook that fails once, a recorder of what went in and out).
     */
    abstract class Forwarding implements GradientExchange {
        protected final GradientExchange inner;

        protected Forwarding(GradientExchange inner) {
            this.inner = inner;
        }

        @Override
        public int rank() {
            return inner.rank();
        }

        @Override
        public int workers() {
            return inner.workers();
        }

        @Override
        public void sum(long step, float[] grads) throws IOException {
            inner.sum(step, grads);
        }

        @Override
        public byte[][] allGather(byte[] mine) throws IOException {
            return inner.allGather(mine);
        }

        @Override
        public double seconds() {
            return inner.seconds();
        }
    }
}
