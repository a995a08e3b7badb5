package io.ionllama.backend.tornado;

import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid1D;

/**
 * A TaskGraph for one op and one compiled shape, with the host staging arrays it is bound to.
 *
 * <p>A TaskGraph holds on to the very array objects it was built with, and TornadoVM compiles its
 * scalar arguments and array lengths into the kernels (docs/gpu.md, pitfall 3). So a graph owns
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
    /** A second capacity, for graphs with two independent sizes (attention rows and slots, n-gram rows and table rows); 0 if unused. */
    int capacity2;
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

    /** The compiled graph of this op, counting what it moves: {@code in} every execution, {@code out} back every execution. */
    final DeviceGraph device(TaskGraph tg, GridScheduler grids, Object[] in, Object[] out) {
        return new DeviceGraph(tg, grids, session, session.stats(op), in, out, new Object[0]);
    }

    /** As above, plus {@code first}: arrays transferred to the device at the first execution only. */
    final DeviceGraph device(TaskGraph tg, GridScheduler grids, Object[] in, Object[] out, Object[] first) {
        return new DeviceGraph(tg, grids, session, session.stats(op), in, out, first);
    }

    /** The arrays given, for the {@code in}/{@code out} lists of {@link #device}. */
    static Object[] arrays(Object... a) {
        return a;
    }

    /**
     * Makes sure a graph exists whose staging arrays hold {@code units} units of the first size
     * and {@code units2} of the second; outgrowing either builds a bigger graph. The first is
     * rounded to a power of two; the second is taken as given (the caller knows its growth).
     */
    final void ensureCapacity(int units, int units2) {
        if (graph != null && units <= capacity && units2 <= capacity2) {
            return;
        }
        close();
        capacity = capacityFor(Math.max(units, capacity));
        capacity2 = Math.max(units2, capacity2);
        graph = build(capacity);
    }

    /**
     * The graph in {@code cache} built for the capacity class of {@code units} (the next power of
     * two), made by {@code make} on first use. For ops whose size differs from call to call within
     * one step (elementwise ops over tensors of every size): each call transfers a staging array
     * at most twice its size, instead of the largest one seen.
     */
    static <G extends StagedGraph> G byClass(java.util.List<G> cache, int units, java.util.function.Supplier<G> make) {
        int cap = capacityFor(units);
        for (G g : cache) {
            if (g.capacity == cap) {
                return g;
            }
        }
        G g = make.get();
        g.ensureCapacity(units);
        cache.add(g);
        return g;
    }

    /** A 1-D worker grid of work-groups of {@link #LOCAL_1D} threads, sized for {@code units}, not registered. */
    static WorkerGrid1D grid1(int units) {
        WorkerGrid1D g = new WorkerGrid1D(LOCAL_1D);
        size(g, units);
        return g;
    }

    /** {@link #grid1(int)}, registered for {@code task}. */
    static WorkerGrid1D grid1(GridScheduler grids, String graphName, String task, int units) {
        WorkerGrid1D g = grid1(units);
        grids.addWorkerGrid(graphName + "." + task, g);
        return g;
    }

    /** Sets a 1-D grid for {@code units} threads (rounded up to whole work-groups; the kernels mask the rest). */
    static void size(WorkerGrid1D g, int units) {
        g.setGlobalWork(roundUp(Math.max(1, units), LOCAL_1D), 1, 1);
        g.setLocalWork(LOCAL_1D, 1, 1);
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
