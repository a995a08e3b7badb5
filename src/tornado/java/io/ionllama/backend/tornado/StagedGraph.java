package io.ionllama.backend.tornado;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntSupplier;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * An op's copying graph: the op's tasks over staging arrays sized for a capacity, built from the
 * op's {@link OpCall} (its slices, grids and tasks), for one op and one set of compiled-in numbers.
 *
 * <p>A TaskGraph holds on to the very array objects it was built with, and TornadoVM compiles its
 * scalar arguments and array lengths into the kernels (docs/gpu.md, pitfall 3). So the graph owns
 * staging arrays sized for a capacity of rows (and a second size where the op has one), each call
 * copies the caller's slices into them, and the part of the size that changes from call to call
 * travels in the small {@code params} array transferred on every execution (the offsets are 0:
 * the staging arrays start at the slice), with the worker grids set per execution.
 *
 * <pre>
 *   caller's slices ──copy──▶ staging (IN, INOUT) ──▶ device: tasks ──▶ staging (OUT, INOUT) ──copy──▶ caller's slices
 *   params, values: every execution; scratch (the scan's carries): the first only
 * </pre>
 *
 * Only a call that needs more than the capacity closes the graph and builds (and compiles) a
 * bigger one; capacities are powers of two so that happens a handful of times at most. Ops that
 * see every size in one step (the elementwise glue) keep one graph per capacity class instead
 * ({@link OpCall#byClass}), so a call moves a staging array at most twice its size.
 */
final class StagedGraph implements AutoCloseable {

    /** Smallest capacity a graph is built for. */
    static final int MIN_CAPACITY = 64;
    /** Work-group size of the 1-D kernels. */
    static final int LOCAL_1D = 64;
    /** Work-group shape of the 2-D cell kernels: 16 threads along the fast dimension, 4 along the other. */
    static final int LOCAL_X = 16;
    static final int LOCAL_Y = 4;

    private final TornadoSession session;
    private final String op, shape;
    private final boolean byClass;
    // The op's slices as its first call described them (never the caller's arrays).
    private final int count;
    private final int[] per, unit, dir;
    /** Each slice's array type (null: absent), and whether it is a one-element stand-in. */
    private final Class<?>[] type;
    private final boolean[] standIn;
    private final Object[] more;
    private final WorkerGrid[] grids;
    private final Site.Tasks tasks;
    private final int paramCount;

    int capacity;
    /** The second capacity, for ops with two independent sizes (attention rows and slots, n-gram rows and table rows); 0 if unused. */
    int capacity2;
    private DeviceGraph graph;
    /** The op's site over the staging arrays (base 0): its params, values and grids are what the graph sends. */
    private Site site;

    StagedGraph(TornadoSession session, OpCall c) {
        this.session = session;
        this.op = c.op;
        this.shape = shape(c.dims);
        this.byClass = c.byClass;
        this.count = c.count;
        this.per = c.per.clone();
        this.unit = c.unit.clone();
        this.dir = c.dir.clone();
        this.type = new Class<?>[count];
        this.standIn = new boolean[count];
        for (int i = 0; i < count; i++) {
            type[i] = c.array[i] != null ? c.array[i].getClass() : c.type[i];
            standIn[i] = c.standIn(i);
        }
        this.more = c.more.clone();
        this.grids = c.grids;
        this.tasks = c.tasks;
        this.paramCount = c.params.length;
    }

    private static String shape(int[] dims) {
        StringBuilder sb = new StringBuilder();
        for (int d : dims) {
            sb.append(sb.isEmpty() ? "" : "x").append(d);
        }
        return sb.toString();
    }

    /** Copies the call's slices in, runs the op, copies what it wrote back into the caller's slices. */
    void run(OpCall c) {
        ensureCapacity(c.rows, c.rows2);
        Object[] staged = site.args;
        for (int i = 0; i < count; i++) {
            if (c.array[i] != null && (dir[i] & OpCall.IN) != 0) {
                System.arraycopy(c.array[i], c.off[i], staged[i], 0, length(c, i, staged[i]));
            }
        }
        c.load(site, false);
        graph.execute();
        for (int i = 0; i < count; i++) {
            if (c.array[i] != null && (dir[i] & OpCall.OUT) != 0) {
                IntSupplier lazy = c.lazy[i];
                System.arraycopy(staged[i], 0, c.array[i], c.off[i], lazy != null ? lazy.getAsInt() : length(c, i, staged[i]));
            }
        }
    }

    /** The staging arrays as the last execution left them, slice by slice. */
    Object[] staged() {
        return site.args;
    }

    private static int length(OpCall c, int i, Object staged) {
        return c.length[i] != OpCall.REST ? c.length[i]
                : Math.min(java.lang.reflect.Array.getLength(staged), java.lang.reflect.Array.getLength(c.array[i]) - c.off[i]);
    }

    /**
     * Makes sure a graph exists whose staging arrays hold {@code rows} rows of the first size and
     * {@code rows2} of the second; outgrowing either builds a bigger graph. The first is rounded
     * to a power of two; the second is taken as given (the caller knows its growth).
     */
    private void ensureCapacity(int rows, int rows2) {
        if (graph != null && rows <= capacity && rows2 <= capacity2) {
            return;
        }
        close();
        capacity = capacityFor(Math.max(rows, capacity));
        capacity2 = Math.max(rows2, capacity2);
        build();
    }

    private void build() {
        Object[] args = new Object[count];
        List<Object> in = new ArrayList<>(List.of(new int[paramCount])), out = new ArrayList<>(), first = new ArrayList<>(),
                bound = new ArrayList<>();
        Object[] own = new Object[more.length];
        for (int k = 0; k < own.length; k++) {
            own[k] = Site.newArrayLike(more[k], java.lang.reflect.Array.getLength(more[k]));
            in.add(own[k]);
        }
        for (int i = 0; i < count; i++) {
            if (type[i] == null) {
                continue;
            }
            int n = standIn[i] ? 1 : switch (unit[i]) {
                case OpCall.FIXED -> per[i];
                case OpCall.ROWS -> per[i] * capacity;
                case OpCall.ROWS2 -> per[i] * capacity2;
                default -> per[i] * capacity * capacity2;
            };
            args[i] = java.lang.reflect.Array.newInstance(type[i].getComponentType(), n);
            bound.add(args[i]);
            if (dir[i] == OpCall.SCRATCH) {
                first.add(args[i]);
            } else if (dir[i] == (OpCall.SCRATCH | OpCall.OUT)) {
                out.add(args[i]);
            } else {
                if ((dir[i] & OpCall.IN) != 0) {
                    in.add(args[i]);
                }
                if ((dir[i] & OpCall.OUT) != 0) {
                    out.add(args[i]);
                }
            }
        }
        site = new Site(op, paramCount, args, bound.toArray(), out.toArray(), Site.freshGrids(grids), tasks, own);
        // The site made its params: send them (the placeholder held their place).
        in.set(0, site.params);
        String name = session.graphName(op, shape + (byClass ? (shape.isEmpty() ? "n" : "_n") + capacity : ""));
        GridScheduler gs = new GridScheduler();
        TaskGraph tg = new TaskGraph(name);
        if (!first.isEmpty()) {
            tg.transferToDevice(DataTransferMode.FIRST_EXECUTION, first.toArray());
        }
        tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, in.toArray());
        site.tasks(tg, name, gs);
        tg.transferToHost(DataTransferMode.EVERY_EXECUTION, out.toArray());
        graph = new DeviceGraph(tg, gs, session, session.stats(op), in.toArray(), out.toArray(), first.toArray());
    }

    /** A 1-D worker grid of work-groups of {@link #LOCAL_1D} threads, sized for {@code units}. */
    static WorkerGrid1D grid1(int units) {
        WorkerGrid1D g = new WorkerGrid1D(LOCAL_1D);
        size(g, units);
        return g;
    }

    /** Sets a 1-D grid for {@code units} threads (rounded up to whole work-groups; the kernels mask the rest). */
    static void size(WorkerGrid1D g, int units) {
        g.setGlobalWork(roundUp(Math.max(1, units), LOCAL_1D), 1, 1);
        g.setLocalWork(LOCAL_1D, 1, 1);
    }

    @Override
    public void close() {
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
