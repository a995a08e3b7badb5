package io.ionllama.backend.tornado;

import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.WorkerGrid2D;

/**
 * One op call site: the op's tasks over the caller's arrays ({@link #bound}; {@link #args}, slice
 * by slice as the op's {@link OpCall} lists them), its per-call values ({@link #perCall}:
 * {@link #params}, the sizes and offsets, and any others the op has: fill's value, a tensor
 * table), which bound arrays it writes, the worker grids its tasks run on (sized per call), and
 * a function that adds the op's tasks, shared with the op's copying graph ({@link StagedGraph},
 * whose own site is the same op over its staging arrays).
 *
 * <p>A site's per-call values are {@code lengths[i]} values of {@code perCall[i]} from
 * {@code base[i]} on. The site the op fills has arrays of its own (base 0), sent with each
 * execution of its own graph. The copy of the site that stands for one call in a stage graph
 * reads the stage's pack at that call's slot ({@link #copy(Object[], int[])}): the kernels
 * take each per-call array with its base, a scalar compiled into the call's task.
 */
final class Site {
    /**
     * Adds the tasks of {@code site} to {@code tg}, registering the grids as {@code name.task}.
     * It reads the per-call arrays, their bases and the grids from {@code site} (never
     * captured), so that a copy of the site adds tasks over its own.
     */
    interface Tasks {
        void add(TaskGraph tg, String name, GridScheduler grids, Site site);
    }

    final String op;
    /** The op's array arguments, slice by slice as its {@link OpCall} lists them (an array may stand twice). */
    final Object[] args;
    final Object[] bound, written, perCall;
    final int[] base, lengths;
    final WorkerGrid[] workerGrids;
    /** {@code perCall[0]}: the sizes and offsets. */
    final int[] params;
    private final Tasks tasks;
    /** Index of the site's own graph in the plan, -1 if the plan lacks it. */
    int index = -1;

    /**
     * A site with per-call arrays of its own.
     *
     * @param args    the op's array arguments in its call's order (null where absent)
     * @param bound   the caller's arrays (and any the site owns), none null, none twice
     * @param written those of them the op writes
     * @param grids   the worker grids, sized per call by the op
     * @param more    per-call arrays besides {@code params} (fill's value, AdamW's hyper-parameters)
     */
    Site(String op, int paramCount, Object[] args, Object[] bound, Object[] written, WorkerGrid[] grids, Tasks tasks, Object... more) {
        this.op = op;
        this.args = args;
        this.bound = bound;
        this.written = written;
        this.perCall = new Object[1 + more.length];
        perCall[0] = new int[paramCount];
        System.arraycopy(more, 0, perCall, 1, more.length);
        this.base = new int[perCall.length];
        this.lengths = new int[perCall.length];
        for (int i = 0; i < perCall.length; i++) {
            lengths[i] = java.lang.reflect.Array.getLength(perCall[i]);
        }
        this.workerGrids = grids;
        this.params = (int[]) perCall[0];
        this.tasks = tasks;
    }

    /** A copy of {@code of} reading its per-call values from {@code perCall[i]} at {@code base[i]}, with grids of its own, values and sizes loaded from {@code of}. */
    private Site(Site of, Object[] perCall, int[] base) {
        this.op = of.op;
        this.args = of.args;
        this.bound = of.bound;
        this.written = of.written;
        this.perCall = perCall;
        this.base = base;
        this.lengths = of.lengths;
        this.workerGrids = freshGrids(of.workerGrids);
        this.params = (int[]) perCall[0];
        this.tasks = of.tasks;
        load(of);
    }

    /**
     * Adds the op's tasks, over {@link #bound} and this site's per-call arrays (each with its
     * base) and grids, to {@code tg}, registering their worker grids as {@code graphName.task}.
     */
    void tasks(TaskGraph tg, String graphName, GridScheduler grids) {
        tasks.add(tg, graphName, grids, this);
    }

    /** The same op over the same bound arrays, per-call values read from {@code perCall[i]} at {@code base[i]}. */
    Site copy(Object[] perCall, int[] base) {
        return new Site(this, perCall, base);
    }

    /** A copy with per-call arrays of its own. */
    Site copy() {
        Object[] own = new Object[perCall.length];
        for (int i = 0; i < own.length; i++) {
            own[i] = newArrayLike(perCall[i], lengths[i]);
        }
        return copy(own, new int[own.length]);
    }

    /** Takes over the per-call values and grid sizes of {@code from} (this site or a copy of it). */
    void load(Site from) {
        for (int i = 0; i < perCall.length; i++) {
            System.arraycopy(from.perCall[i], from.base[i], perCall[i], base[i], lengths[i]);
        }
        for (int i = 0; i < workerGrids.length; i++) {
            copyGrid(from.workerGrids[i], workerGrids[i]);
        }
    }

    /** Where this call's values start in {@link #params}. */
    int pb() {
        return base[0];
    }

    /** Argument {@code i} of the op (its call's slice {@code i}) as a float array. */
    float[] f(int i) {
        return (float[]) args[i];
    }

    int[] i(int i) {
        return (int[]) args[i];
    }

    double[] d(int i) {
        return (double[]) args[i];
    }

    /** The first per-call array besides params (an op's values: fill's value, AdamW's hyper-parameters), and its base. */
    float[] values() {
        return (float[]) perCall[1];
    }

    int vb() {
        return base[1];
    }

    /** Grid {@code i} as a 1-D grid. */
    WorkerGrid1D grid1(int i) {
        return (WorkerGrid1D) workerGrids[i];
    }

    WorkerGrid1D grid1() {
        return grid1(0);
    }

    WorkerGrid2D grid2() {
        return (WorkerGrid2D) workerGrids[0];
    }

    /** New grids of the same dimensions as {@code grids}, sized as they are now. */
    static WorkerGrid[] freshGrids(WorkerGrid[] grids) {
        WorkerGrid[] g = new WorkerGrid[grids.length];
        for (int i = 0; i < g.length; i++) {
            g[i] = grids[i] instanceof WorkerGrid2D ? new WorkerGrid2D(1, 1) : new WorkerGrid1D(1);
            copyGrid(grids[i], g[i]);
        }
        return g;
    }

    static void copyGrid(WorkerGrid from, WorkerGrid to) {
        long[] g = from.getGlobalWork();
        to.setGlobalWork(g[0], g[1], g[2]);
        long[] l = from.getLocalWork();
        if (l != null) {
            to.setLocalWork(l[0], l[1], l[2]);
        } else {
            to.setLocalWorkToNull();
        }
    }

    static Object newArrayLike(Object a, int n) {
        if (a instanceof int[]) {
            return new int[n];
        } else if (a instanceof float[]) {
            return new float[n];
        }
        throw new IllegalArgumentException("not a per-call array type (int[] or float[]): " + a);
    }
}
