package io.ionllama.backend.tornado;

import java.util.Arrays;
import java.util.function.IntSupplier;
import uk.ac.manchester.tornado.api.WorkerGrid;

/**
 * One call of a device op, as its family file describes it: the op's name and the numbers
 * compiled into its kernels, its array arguments as slices of the caller's arrays, the sizes that
 * travel in {@code params}, its worker grids sized for this call, and the function that adds its
 * tasks. That description is all an op's device code is; {@link DeviceOps} runs it.
 *
 * <pre>
 *   ops.run(DeviceOps.call(RMS_FORWARD, NormKernels.PARAMS, NormKernels.OFF0, C, epsBits) // name, params length, first offset slot, compiled in
 *      .out(out, outOff, rows * C, C)    // a slice: array, offset, elements this call, elements per staged row
 *      .out(rstd, rstdOff, rows, 1)
 *      .in(x, xOff, rows * C, C)
 *      .inFixed(w, wOff, C)              // a slice whose size does not grow with the rows
 *      .size(NormKernels.ROWS, rows).rows(rows).grids(DeviceOps.grid1(rows))
 *      .tasks((tg, name, grids, st) -> forwardTasks(tg, name, grids, st.grid1(), st.f(0), st.f(1), st.f(2), st.f(3), ...)));
 *
 *        resident (inside a step)                      per-op (outside a step, or a site the plan lacks)
 *   site bound to the caller's arrays, offsets in   staging arrays sized for a capacity of rows, offsets 0;
 *   params, taken into the step's plan              slices copied in, graph run, written slices copied out
 * </pre>
 *
 * <p>Each slice takes the next offset slot of {@code params} from the one given to
 * {@link DeviceOps#call} on (the order of the kernel's array arguments), unless {@link #at} says
 * otherwise. The tasks read their arrays from the site they are given, slice by slice
 * ({@link Site#f}, {@link Site#i}, {@link Site#d}), never from the caller: the same function adds
 * them over the caller's arrays (the resident site) and over staging arrays (the copying graph).
 * So it may capture only what the compiled-in numbers determine.
 */
final class OpCall {

    /** How a slice's staging array grows: not at all, with the rows, with the second size, with both. */
    static final int FIXED = 0, ROWS = 1, ROWS2 = 2, CELLS = 3;
    /** What the op does with a slice: reads it, writes it (and does not read it), both; scratch is the op's own. */
    static final int IN = 1, OUT = 2, INOUT = IN | OUT, SCRATCH = 4;
    /** Slice length meaning "as much of the staging array as the caller's array holds from the offset" (tables). */
    static final int REST = -1;

    /** Slices a call can have (attention's backward has nine). */
    private static final int MAX = 10;
    private static final Object[] NONE = new Object[0];
    private static final WorkerGrid[] NO_GRIDS = new WorkerGrid[0];

    final String op;
    final int[] dims;
    /** This call's params: the sizes ({@link #size}) and the slices' offsets. */
    final int[] params;
    Object[] more = NONE;
    WorkerGrid[] grids = NO_GRIDS;
    Site.Tasks tasks;
    /** Capacity a copying graph needs: rows, and a second size (0 if unused). */
    int rows, rows2;
    /** Copying graphs per capacity class of the rows (ops that see every size in one step). */
    boolean byClass;
    /** An empty call (no rows, no channels): nothing runs. */
    boolean skip;

    int count;
    final Object[] array = new Object[MAX];
    final int[] off = new int[MAX], length = new int[MAX], per = new int[MAX], unit = new int[MAX], dir = new int[MAX],
            slot = new int[MAX];
    /** For a null slice the kernel takes anyway: the element type of the one-element stand-in; for scratch, its type. */
    final Class<?>[] type = new Class<?>[MAX];
    /** Scratch: the length of the site's own array. */
    final int[] ownLength = new int[MAX];
    final boolean[] shares = new boolean[MAX];
    final IntSupplier[] lazy = new IntSupplier[MAX];
    private int nextSlot;
    /** After a run: the site that took the call, or null and the copying graph's staging arrays. */
    Site ran;
    Object[] copied;

    OpCall(String op, int paramCount, int firstSlot, int... dims) {
        this.op = op;
        this.params = new int[paramCount];
        this.nextSlot = firstSlot;
        this.dims = dims;
    }

    // ---------------------------------------------------------------- slices

    /** Read: {@code n} elements from {@code off}, {@code per} per staged row. */
    OpCall in(Object a, int off, int n, int per) {
        return add(IN, a, off, n, per, ROWS);
    }

    OpCall inFixed(Object a, int off, int n) {
        return add(IN, a, off, n, n, FIXED);
    }

    /** Written, not read. */
    OpCall out(Object a, int off, int n, int per) {
        return add(OUT, a, off, n, per, ROWS);
    }

    OpCall outFixed(Object a, int off, int n) {
        return add(OUT, a, off, n, n, FIXED);
    }

    /** Read and written (accumulated gradients). */
    OpCall inout(Object a, int off, int n, int per) {
        return add(INOUT, a, off, n, per, ROWS);
    }

    OpCall inoutFixed(Object a, int off, int n) {
        return add(INOUT, a, off, n, n, FIXED);
    }

    /**
     * The op's own array of {@code type} ({@code float[].class}, ...), at offset 0: a site's holds
     * {@code ownLength} elements, a copying graph's {@code per} per staged row, sent once.
     */
    OpCall scratch(Class<?> type, int ownLength, int per) {
        return scratch(SCRATCH, type, ownLength, per);
    }

    /** Scratch that a copying graph sends back after every execution (a result the host reads: {@link DeviceOps#result}). */
    OpCall scratchOut(Class<?> type, int ownLength, int per) {
        return scratch(SCRATCH | OUT, type, ownLength, per);
    }

    /** Scratch takes no offset slot unless {@link #at} gives it one (it starts at 0 either way). */
    private OpCall scratch(int d, Class<?> type, int ownLength, int per) {
        int next = nextSlot;
        add(d, null, 0, 0, per, ROWS);
        nextSlot = next;
        slot[count - 1] = -1;
        this.type[count - 1] = type;
        this.ownLength[count - 1] = ownLength;
        return this;
    }

    private OpCall add(int d, Object a, int o, int n, int p, int u) {
        int i = count++;
        array[i] = a;
        off[i] = o;
        length[i] = n;
        per[i] = p;
        unit[i] = u;
        dir[i] = d;
        slot[i] = nextSlot < 0 ? -1 : nextSlot++;
        return this;
    }

    /** The last slice's staging grows with the second size (per element of it). */
    OpCall rows2() {
        unit[count - 1] = ROWS2;
        return this;
    }

    /** The last slice's staging grows with rows x second size. */
    OpCall cells() {
        unit[count - 1] = CELLS;
        return this;
    }

    /** The last slice's offset goes to {@code params[slot]} (-1: none). */
    OpCall at(int slot) {
        this.slot[count - 1] = slot;
        return this;
    }

    /** The last slice, if null, is a one-element array of {@code type} the kernel takes but does not touch. */
    OpCall orStandIn(Class<?> type) {
        if (array[count - 1] == null) {
            this.type[count - 1] = type;
            dir[count - 1] = IN;
        }
        return this;
    }

    /** The last slice may be an earlier slice's array, which its tasks handle (a bias inside the weights' array). */
    OpCall shares() {
        shares[count - 1] = true;
        return this;
    }

    /** A written slice whose length is known only once the op ran (read from what it copied back before). */
    OpCall lazy(IntSupplier n) {
        lazy[count - 1] = n;
        return this;
    }

    // ---------------------------------------------------------------- sizes, grids, tasks

    /** params[slot] = value, in both paths. */
    OpCall size(int slot, int value) {
        params[slot] = value;
        return this;
    }

    /** Nothing runs when {@code empty} (a call with no rows or channels). */
    OpCall skipIf(boolean empty) {
        skip |= empty;
        return this;
    }

    /** Capacity of rows a copying graph needs. */
    OpCall rows(int rows) {
        this.rows = rows;
        return this;
    }

    OpCall rows(int rows, int rows2) {
        this.rows = rows;
        this.rows2 = rows2;
        return this;
    }

    /** Copying graphs per capacity class of the rows ({@link StagedGraph}). */
    OpCall byClass(int rows) {
        this.byClass = true;
        this.rows = rows;
        return this;
    }

    /** Per-call arrays besides params (fill's value, AdamW's hyper-parameters), read from the site by the tasks. */
    OpCall values(Object... more) {
        this.more = more;
        return this;
    }

    /** The worker grids, sized for this call. */
    OpCall grids(WorkerGrid... grids) {
        this.grids = grids;
        return this;
    }

    OpCall tasks(Site.Tasks tasks) {
        this.tasks = tasks;
        return this;
    }

    // ---------------------------------------------------------------- what DeviceOps needs

    boolean scratch(int i) {
        return (dir[i] & SCRATCH) != 0;
    }

    boolean standIn(int i) {
        return array[i] == null && type[i] != null && !scratch(i);
    }

    /**
     * The dims, then per slice: 0 absent, 1 stand-in, minus the length of a scratch array (a site
     * that needs more gets a new one instead of running past the end), 2 + the first slice with the
     * same array (aliasing).
     */
    int[] siteDims() {
        int[] k = Arrays.copyOf(dims, dims.length + count);
        for (int i = 0; i < count; i++) {
            int code = scratch(i) ? -ownLength[i] : array[i] == null ? (type[i] != null ? 1 : 0) : 2 + i;
            for (int j = 0; j < i && array[i] != null; j++) {
                if (array[j] == array[i]) {
                    code = 2 + j;
                    break;
                }
            }
            k[dims.length + i] = code;
        }
        return k;
    }

    /** The dims, then per slice absent, stand-in or present, then the capacity class (0 unless by class). */
    int[] copyDims() {
        int[] k = Arrays.copyOf(dims, dims.length + count + 1);
        for (int i = 0; i < count; i++) {
            k[dims.length + i] = array[i] == null ? (type[i] != null ? 1 : 0) : 2;
        }
        k[k.length - 1] = byClass ? StagedGraph.capacityFor(rows) : 0;
        return k;
    }

    /** The caller's arrays a site binds: each once where the op said it may repeat, else as given (aliasing is Residency's to catch). */
    Object[] keyArrays() {
        Object[] a = new Object[count];
        int n = 0;
        for (int i = 0; i < count; i++) {
            if (array[i] != null && !(shares[i] && seen(a, n, array[i]))) {
                a[n++] = array[i];
            }
        }
        return Arrays.copyOf(a, n);
    }

    /** The caller's arrays the op writes (null where a slice is absent). */
    Object[] written() {
        Object[] w = new Object[count];
        int n = 0;
        for (int i = 0; i < count; i++) {
            if ((dir[i] & OUT) != 0 && array[i] != null) {
                w[n++] = array[i];
            }
        }
        return Arrays.copyOf(w, n);
    }

    /** A site bound to the caller's arrays, with stand-ins and scratch of its own. */
    Site newSite() {
        Object[] args = new Object[count];
        Object[] bound = new Object[count];
        Object[] written = new Object[count];
        int nb = 0, nw = 0;
        for (int i = 0; i < count; i++) {
            Object a = array[i];
            if (a == null && type[i] != null) {
                a = java.lang.reflect.Array.newInstance(type[i].getComponentType(), scratch(i) ? ownLength[i] : 1);
            }
            args[i] = a;
            if (a != null && !seen(bound, nb, a)) {
                bound[nb++] = a;
            }
            if (a != null && (dir[i] & (OUT | SCRATCH)) != 0 && !seen(written, nw, a)) {
                written[nw++] = a;
            }
        }
        Object[] own = new Object[more.length];
        for (int i = 0; i < own.length; i++) {
            own[i] = Site.newArrayLike(more[i], java.lang.reflect.Array.getLength(more[i]));
        }
        return new Site(op, params.length, args, Arrays.copyOf(bound, nb), Arrays.copyOf(written, nw), Site.freshGrids(grids),
                tasks, own);
    }

    /** Loads this call's per-call values into {@code s}: params (without the offsets for a copying graph), values, grid sizes. */
    void load(Site s, boolean offsets) {
        int pb = s.pb();
        System.arraycopy(params, 0, s.params, pb, params.length);
        for (int i = 0; i < count; i++) {
            if (slot[i] >= 0) {
                s.params[pb + slot[i]] = offsets ? off[i] : 0;
            }
        }
        for (int k = 0; k < more.length; k++) {
            System.arraycopy(more[k], 0, s.perCall[k + 1], s.base[k + 1], java.lang.reflect.Array.getLength(more[k]));
        }
        for (int i = 0; i < grids.length; i++) {
            Site.copyGrid(grids[i], s.workerGrids[i]);
        }
    }

    private static boolean seen(Object[] a, int n, Object x) {
        for (int i = 0; i < n; i++) {
            if (a[i] == x) {
                return true;
            }
        }
        return false;
    }
}
