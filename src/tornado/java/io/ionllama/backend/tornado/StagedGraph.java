package io.ionllama.backend.tornado;

/**
 * A TaskGraph for one op and one compiled shape, with the host staging arrays it is bound to.
 *
 * <p>A TaskGraph holds on to the very array objects it was built with, and TornadoVM compiles its
 * scalar arguments and array lengths into the kernels (TORNADOVM.md, pitfall 3). So a graph owns
 * staging arrays sized for a capacity (rows, or elements), each call copies the caller's slices
 * into them, and the part of the size that changes from call to call travels in a small
 * {@code int[] params} transferred on every execution, with the worker grid set per execution.
 * Only a call that needs more than the capacity closes the graph and builds (and compiles) a
 * bigger one; capacities are powers of two so that happens a handful of times at most.
 */
abstract class StagedGraph implements AutoCloseable {

    /** Smallest capacity a graph is built for. */
    static final int MIN_CAPACITY = 64;
    /** Work-group size of the 1-D kernels. */
    static final int LOCAL_1D = 64;
    /** Work-group shape of the 2-D cell kernels: 16 threads along the fast dimension, 4 along the other. */
    static final int LOCAL_X = 16;
    static final int LOCAL_Y = 4;

    final TornadoSession session;
    final String op;
    int capacity;
    DeviceGraph graph;

    StagedGraph(TornadoSession session, String op) {
        this.session = session;
        this.op = op;
    }

    /** Builds the graph (and its staging arrays) for {@code capacity} units. */
    abstract DeviceGraph build(int capacity);

    /** Makes sure a graph exists whose staging arrays hold {@code units}. */
    final void ensureCapacity(int units) {
        if (graph != null && units <= capacity) {
            return;
        }
        close();
        capacity = capacityFor(units);
        graph = build(capacity);
    }

    @Override
    public final void close() {
        if (graph != null) {
            graph.close();
            graph = null;
        }
    }

    static int roundUp(int n, int multiple) {
        return (n + multiple - 1) / multiple * multiple;
    }

    static int capacityFor(int units) {
        int c = MIN_CAPACITY;
        while (c < units) {
            c <<= 1;
        }
        return c;
    }
}
