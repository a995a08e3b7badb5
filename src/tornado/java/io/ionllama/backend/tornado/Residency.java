package io.ionllama.backend.tornado;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.ImmutableTaskGraph;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.WorkerGrid2D;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.enums.ProfilerMode;
import uk.ac.manchester.tornado.api.exceptions.TornadoExecutionPlanException;

/**
 * Keeps the arrays of a training step on the device from one op to the next and from one step to
 * the next, and runs the step's ops as a handful of stage graphs, so that only the input bytes,
 * a few small arrays the model exchanges with the host (the loss statistics, the patch counts)
 * and the ops' sizes, offsets and per-step factors that changed since the last step move.
 *
 * <p><b>Sites and calls.</b> Every op call inside a training step ({@link #beginStep} ..
 * {@link #endStep}) names a {@link Site}: the op, its compiled-in sizes and the caller's own
 * arrays, bound directly (no staging copies); the offsets and the sizes that change from call to
 * call travel in the site's per-call arrays ({@code params}). The first step runs every op through
 * its per-op graph as before (host arrays stay current) and records its calls, in order, and the
 * places where the host read or wrote an array ({@link #toHost}, {@link #hostChanged}). At its end
 * one {@link TornadoExecutionPlan} is built; from the next step on a call is only taken (its
 * per-call values copied into its slot of the stage's pack), and the calls taken run when the
 * host next needs an array or the step ends, a whole stage in one graph execution.
 *
 * <p><b>Packs.</b> The copy of a site that stands for one call in a stage reads its per-call
 * values from a pack: one int and one float array holding the values of all the calls of a run
 * of stages, shared arrays of the plan like the model's, each kernel reading from its call's base
 * ({@code params[pb + ROWS]}, {@code pb} compiled into the call's task). Before a stage runs its
 * pack is uploaded if a value in it changed; a step whose sizes repeat sends none.
 *
 * <pre>
 *   plan = [ L.. | U(a) for every shared array a, packs included | G(site) for every site | stage 0 .. stage k | S ]
 *
 *   L..      upload every shared array once (the plan's start), 64 arrays to a graph
 *   U(a)     uploads the host's a (after {@link #hostChanged}: new input bytes, loss scale; a pack that changed)
 *   stage i  the calls between two host hand-overs, in order, one named task group per call
 *            ("c42_cells"); cut shorter where TornadoVM's node table would overflow
 *   G(site)  one call alone, for a step that leaves the recorded order (compiled only if run);
 *            the site's own per-call arrays go with each execution
 *   S        the store: persistOnDevice(all shared), so that any of them can come back on demand
 *   every graph consumeFromDevice(all shared) but the first upload
 *
 *   step:  x,targets ─U─▶ [stage 0: entropy model] ─▶ hNext... ─▶ [stage 1: encoder, global,
 *          decoder, loss] ─▶ stats ─▶ [stage 2: backward] ─▶ [stage 3: grad norm] ─▶ partials
 *          ─▶ [stage 4: AdamW]
 * </pre>
 *
 * TornadoVM shares device buffers between the graphs of one plan only through this chain: a graph
 * that consumes an array takes the buffer the previously executed graph had for it. So every graph
 * carries every shared array, used or not (a graph that does not touch an array passes its buffer
 * on). To hand an array back ({@link #toHost}) the store graph runs and its result transfers it.
 *
 * <p><b>Host and device copies.</b> An array is "device newer" after a call writes it and "host
 * newer" after the host writes it ({@link #hostChanged}, or an op that ran on the per-op path).
 * A call that binds a host-newer array uploads it through its U graph when it is taken (the host
 * may write the array again before the call runs); before an op runs on the per-op path (outside
 * a step, or a site the plan lacks), the calls taken run and the device-newer arrays it binds are
 * copied back. Code that reads or writes a step's arrays on the host says so through
 * {@code Backend.toHost} and {@code Backend.hostChanged}; that is the whole contract.
 *
 * <p>A step that uses a site the plan lacks (an array the model reallocated) or calls its ops in
 * another order runs the rest of its calls one graph each, and makes {@link #endStep} build the
 * plan again from that step, which compiles every graph again. A step that stops short of the
 * recorded calls keeps the plan.
 */
final class Residency implements AutoCloseable {

    /**
     * One op call site: the op's tasks over the caller's arrays ({@link #bound}), its per-call
     * values ({@link #perCall}: {@link #params}, the sizes and offsets, and any others the op has:
     * fill's value, a tensor table), which bound arrays it writes, the worker grids its tasks run
     * on (sized per call), and a function that adds the op's tasks, shared with the op's per-op
     * graph.
     *
     * <p>A site's per-call values are {@code lengths[i]} values of {@code perCall[i]} from
     * {@code base[i]} on. The site the op fills has arrays of its own (base 0), sent with each
     * execution of its own graph. The copy of the site that stands for one call in a stage graph
     * reads the stage's pack at that call's slot ({@link #copy(Object[], int[])}): the kernels
     * take each per-call array with its base, a scalar compiled into the call's task.
     */
    static final class Site {
        /**
         * Adds the tasks of {@code site} to {@code tg}, registering the grids as {@code name.task}.
         * It reads the per-call arrays, their bases and the grids from {@code site} (never
         * captured), so that a copy of the site adds tasks over its own.
         */
        interface Tasks {
            void add(TaskGraph tg, String name, GridScheduler grids, Site site);
        }

        final String op;
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
         * @param bound   the caller's arrays (and any the site owns), none null, none twice
         * @param written those of them the op writes
         * @param grids   the worker grids, sized per call by the op
         * @param more    per-call arrays besides {@code params} (fill's value, AdamW's hyper-parameters)
         */
        Site(String op, int paramCount, Object[] bound, Object[] written, WorkerGrid[] grids, Tasks tasks, Object... more) {
            this.op = op;
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
    }

    /** {@code n} fresh 1-D grids for a {@link Site} (sized per call). */
    static WorkerGrid[] grids1(int n) {
        WorkerGrid[] g = new WorkerGrid[n];
        for (int i = 0; i < n; i++) {
            g[i] = new WorkerGrid1D(StagedGraph.LOCAL_1D);
        }
        return g;
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

    /** What identifies a site: the op, its compiled-in numbers and the identity of its arrays. */
    static final class Key {
        final String op;
        final int[] dims;
        final Object[] arrays;
        final int hash;

        Key(String op, int[] dims, Object... arrays) {
            this.op = op;
            this.dims = dims;
            this.arrays = arrays;
            int h = op.hashCode() * 31 + Arrays.hashCode(dims);
            for (Object a : arrays) {
                h = h * 31 + System.identityHashCode(a);
            }
            this.hash = h;
        }

        @Override
        public boolean equals(Object o) {
            if (!(o instanceof Key k) || !k.op.equals(op) || !Arrays.equals(k.dims, dims) || k.arrays.length != arrays.length) {
                return false;
            }
            for (int i = 0; i < arrays.length; i++) {
                if (k.arrays[i] != arrays[i]) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    /** One call of the recorded step: its site, and the copy of the site that holds this call's values in a stage graph. */
    private record Call(Site site, Site copy) {}

    /**
     * Per-call values of a run of stages, packed into one int and one float array (null where no
     * call has one), shared arrays of the plan like the model's. What the device holds of them
     * is remembered ({@code sentInts}, {@code sentFloats}): before one of its stages runs, a pack
     * is uploaded only if a value changed since, so a step whose sizes and offsets repeat moves
     * none of them.
     */
    private static final class Pack {
        int[] ints, sentInts;
        float[] floats, sentFloats;
    }

    /**
     * A stage graph: calls {@code from} (inclusive) to {@code to} of the recorded step, its index
     * in the plan, and the pack its calls read their per-call values from.
     */
    private static final class Stage {
        final Pattern pattern;
        final int from, to;
        int index;
        Pack pack;

        Stage(Pattern pattern, int from, int to) {
            this.pattern = pattern;
            this.from = from;
            this.to = to;
        }
    }

    private final TornadoSession session;
    private final Map<Key, Site> sites = new LinkedHashMap<>();
    private final Set<Object> shared = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<Object> deviceNewer = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<Object> hostNewer = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Map<Object, Integer> uploads = new IdentityHashMap<>();

    /**
     * A kind of step ("train", "generate: local", ...): the calls and host hand-overs recorded from
     * one such step, and the plan's stages that run them.
     */
    private static final class Pattern {
        final List<Site> trace = new ArrayList<>();
        /** Each call's per-call values as last seen, which a new plan's packs start from. */
        final List<Site> values = new ArrayList<>();
        final BitSet syncs = new BitSet();
        final List<Call> calls = new ArrayList<>();
        /** The stage that starts at each call, null where none starts. */
        Stage[] stageAt = new Stage[0];
        final List<Stage> stages = new ArrayList<>();
    }

    /** The kinds of step recorded so far, each with its own stages in the one plan. */
    private final Map<String, Pattern> patterns = new LinkedHashMap<>();
    private static final Pattern NONE = new Pattern();
    /** The kind of the step under way, and its recorded pattern (NONE before its first recording). */
    private String kind = "";
    private Pattern current = NONE;
    /** This step's calls, in order, and the positions in it where the host read or wrote (stage boundaries). */
    private final List<Site> trace = new ArrayList<>();
    /** This step's per-call values, call by call (the copy holding them: the call's own, or a snapshot). */
    private final List<Site> values = new ArrayList<>();
    private final BitSet syncs = new BitSet();
    private int stageCount;
    /** Calls of this step matched so far, and the first of them not yet run. */
    private int cursor, pending;
    /** This step left the plan's order of calls; the rest of it runs call by call. */
    private boolean diverged;

    private TornadoExecutionPlan plan;
    private TornadoExecutionResult last;
    /** Index of the store graph in the plan. */
    private int store;
    private boolean inStep, missed;
    private int rebuilds;
    private long runs, stageRuns;
    private boolean enabled;

    /**
     * The most arrays one plan shares. TornadoVM gives each TaskGraph a fixed table of 1024 graph
     * nodes, and every graph here carries every shared array: graphs carrying 504 arrays were
     * built and ran here; a step that binds more than this runs per-op, and says so once.
     */
    static final int MAX_SHARED = 480;

    /**
     * The most arrays of packed per-call values in one plan (half of them int, half float): each
     * costs a node in every graph, so beyond PACKS / 2 stages, neighbouring stages share a pack.
     */
    static final int PACKS = 64;

    /** TornadoVM's node table per TaskGraph (TornadoGraph.INITIAL_SIZE; it cannot grow). */
    static final int NODE_TABLE = 1024;

    /** Arrays uploaded per load graph (a load graph has a transfer and part of a task per array). */
    static final int LOAD_CHUNK = 64;

    /**
     * TornadoVM's bytecode buffer per graph (its default, 4096 bytes, holds about 100 arrays);
     * read once, when TornadoVM first builds a graph, so it is set before that unless the user set it.
     */
    static final String BYTECODE_SIZE = "tornado.tvm.maxbytecodesize";

    static {
        if (System.getProperty(BYTECODE_SIZE) == null) {
            System.setProperty(BYTECODE_SIZE, "131072");
        }
    }

    Residency(TornadoSession session, boolean enabled) {
        this.session = session;
        this.enabled = enabled;
    }

    /** Name under which the plan's own transfers (L, U, pulls) are counted. */
    static final String RESIDENT = "resident";

    /** Name under which stage graph executions are counted. */
    static final String STAGE = "resident stage";

    /** The counters of the plan's own transfers (made on first use, so a backend that never plans shows none). */
    private OpStats stats() {
        return session.stats(RESIDENT);
    }

    boolean enabled() {
        return enabled;
    }

    /** Plans built so far (each compiles every graph). */
    int rebuilds() {
        return rebuilds;
    }

    /** Op calls run on device-resident arrays so far. */
    long runs() {
        return runs;
    }

    /** Stage graph executions so far (each runs a run of calls between two host hand-overs). */
    long stageRuns() {
        return stageRuns;
    }

    /**
     * The site for {@code key}, made by {@code make} on first use. Null when residency is off, or
     * when the op runs per-op: outside a step, or with one array in two places (TornadoVM's graph
     * compiler never returns from a task given the same array twice); then the device-newer arrays
     * of the key are first copied back, so the per-op path reads current values.
     */
    @SuppressWarnings("unchecked")
    <S extends Site> S site(Key key, Supplier<S> make) {
        if (!enabled) {
            return null;
        }
        if (!inStep || aliased(key.arrays)) {
            sync();
            pull(key.arrays);
            return null;
        }
        return (S) sites.computeIfAbsent(key, k -> make.get());
    }

    /**
     * Runs a composite op's per-op path (a site the plan lacks, run op by op): the ops it calls
     * run per-op too, rather than as calls of the step, so the step records only the composite.
     */
    void perOp(Runnable ops) {
        boolean was = inStep;
        inStep = false;
        try {
            ops.run();
        } finally {
            inStep = was;
        }
    }

    private static boolean aliased(Object[] arrays) {
        for (int i = 0; i < arrays.length; i++) {
            for (int j = i + 1; j < arrays.length; j++) {
                if (arrays[i] == arrays[j]) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Takes the call of {@code s} (its per-call values as the op just set them) and returns true:
     * the call runs on the device, with the rest of its stage, when the host next needs an array
     * or the step ends. Returns false if the plan lacks the site, after copying back what the
     * per-op path is about to read (the caller then runs the op per-op and reports its outputs
     * with {@link #wroteOnHost}).
     */
    boolean run(Site s) {
        if (s == null) {
            return false;
        }
        trace.add(s);
        if (plan == null || s.index < 0) {
            values.add(s.copy());
            missed = true;
            pull(s.bound);
            return false;
        }
        List<Call> calls = current.calls;
        if (!diverged && cursor < calls.size() && calls.get(cursor).site == s) {
            Site copy = calls.get(cursor++).copy;
            copy.load(s);
            values.add(copy);
            // Uploaded now: the host may write the array again before the call runs. No call
            // taken before this one reads it (that call would have uploaded it), so this is safe.
            upload(s.bound);
            Collections.addAll(deviceNewer, s.written);
            return true;
        }
        // The step left the recorded order: what was taken runs now, the rest call by call, and
        // the plan is built again from this step.
        flush();
        diverged = true;
        missed = true;
        values.add(s.copy());
        upload(s.bound);
        execute(s.index, session.stats(s.op));
        runs++;
        countPerCall(s);
        Collections.addAll(deviceNewer, s.written);
        return true;
    }

    /** Runs the calls taken and not yet run: whole stages, and single calls where no stage fits. */
    private void flush() {
        if (pending == cursor) {
            return;
        }
        List<Call> calls = current.calls;
        int i = pending;
        while (i < cursor) {
            Stage st = current.stageAt[i];
            if (st != null && st.to <= cursor) {
                send(st);
                execute(st.index, session.stats(STAGE));
                stageRuns++;
                runs += st.to - st.from;
                i = st.to;
            } else {
                Call c = calls.get(i++);
                c.site.load(c.copy);
                execute(c.site.index, session.stats(c.site.op));
                countPerCall(c.site);
                runs++;
            }
        }
        pending = cursor;
    }

    private void upload(Object[] arrays) {
        for (Object a : arrays) {
            if (hostNewer.remove(a)) {
                execute(uploads.get(a), stats());
                countIn(DeviceGraph.bytes(a));
            }
        }
    }

    /** Uploads the stage's pack if a value in it differs from what the device holds. */
    private void send(Stage st) {
        Pack p = st.pack;
        if (p.ints != null && !Arrays.equals(p.ints, p.sentInts)) {
            execute(uploads.get(p.ints), stats());
            countIn(DeviceGraph.bytes(p.ints));
            System.arraycopy(p.ints, 0, p.sentInts, 0, p.ints.length);
        }
        if (p.floats != null && !Arrays.equals(p.floats, p.sentFloats)) {
            execute(uploads.get(p.floats), stats());
            countIn(DeviceGraph.bytes(p.floats));
            System.arraycopy(p.floats, 0, p.sentFloats, 0, p.floats.length);
        }
    }

    /** Counts the per-call arrays the site's own graph sends with each execution. */
    private void countPerCall(Site s) {
        long in = DeviceGraph.bytes(s.perCall);
        session.stats(s.op).bytesToDevice += in;
        session.countTransfers(in, 0);
    }

    /** The host is about to read or write: a stage ends here (runs what was taken, and marks the place in the step). */
    private void sync() {
        flush();
        if (inStep) {
            syncs.set(trace.size());
        }
    }

    /** Copies back the device-newer arrays among {@code arrays}, for an op about to run per-op. */
    void pull(Object... arrays) {
        flush();
        boolean stored = false;
        for (Object a : arrays) {
            if (a != null && deviceNewer.remove(a)) {
                if (!stored) {
                    // Only the store graph declares the arrays for transfers on demand (see rebuild).
                    execute(store, stats());
                    stored = true;
                }
                last.transferToHost(a);
                long n = DeviceGraph.bytes(a);
                stats().bytesToHost += n;
                session.countTransfers(0, n);
            }
        }
    }

    /** An op ran per-op and wrote {@code outputs} on the host: the device's copies are older now. */
    void wroteOnHost(Object... outputs) {
        flush();
        for (Object a : outputs) {
            if (a != null && shared.contains(a)) {
                hostNewer.add(a);
                deviceNewer.remove(a);
            }
        }
    }

    void toHost(Object... arrays) {
        sync();
        pull(arrays);
    }

    void hostChanged(Object... arrays) {
        sync();
        wroteOnHost(arrays);
    }

    /**
     * Begins a step of {@code kind}: steps of one kind call the same ops in the same order. Kinds
     * of one group (the part before ':', "generate: local" is of "generate") share the plan; a
     * step of another group than the plan's runs op by op, so that a sample generated between
     * training steps does not rebuild (and recompile) the training step's plan.
     */
    void beginStep(String kind) {
        this.kind = kind;
        current = patterns.getOrDefault(kind, NONE);
        String group = group(kind);
        inStep = enabled && patterns.keySet().stream().allMatch(k -> group(k).equals(group));
        missed = false;
        diverged = false;
        cursor = 0;
        pending = 0;
        trace.clear();
        values.clear();
        syncs.clear();
    }

    private static String group(String kind) {
        int colon = kind.indexOf(':');
        return colon < 0 ? kind : kind.substring(0, colon);
    }

    /** Ends a step: runs what it left, and builds the plan anew if the step's calls were not the plan's. */
    void endStep() {
        if (!inStep) {
            return;
        }
        flush();
        inStep = false;
        // A step that stopped short of the plan's calls (a shorter step) keeps the plan.
        if (missed) {
            rebuild();
        }
    }

    /**
     * Forgets every kind of step recorded: the device-newer arrays come back, the plan is freed,
     * and the next step, of whatever kind, is recorded as a first one.
     */
    void forget() {
        close();
        patterns.clear();
        sites.clear();
        shared.clear();
        uploads.clear();
        hostNewer.clear();
        deviceNewer.clear();
        current = NONE;
        inStep = false;
    }

    /** Ends a step that failed: the calls taken and not run are dropped, and no plan is built from it. */
    void abortStep() {
        pending = cursor;
        inStep = false;
    }

    private void execute(int index, OpStats opStats) {
        last = plan.withGraph(index).execute();
        opStats.executions++;
        if (session.profile()) {
            opStats.kernelNanos += last.getProfilerResult().getDeviceKernelTime();
            opStats.transferNanos += last.getProfilerResult().getDataTransfersTime();
        }
    }

    private void countIn(long n) {
        stats().bytesToDevice += n;
        session.countTransfers(n, 0);
    }

    /**
     * Every shared array back to the host, then a plan for the steps recorded: the step just ended
     * replaces the pattern of its kind, the other kinds keep theirs.
     */
    private void rebuild() {
        if (plan != null) {
            pull(deviceNewer.toArray());
            closePlan();
        }
        // The kinds kept start from their calls' latest values (their copies' slots in the packs).
        for (Pattern pt : patterns.values()) {
            if (pt.calls.size() == pt.trace.size()) {
                pt.values.clear();
                pt.calls.forEach(c -> pt.values.add(c.copy));
            }
        }
        Pattern recorded = new Pattern();
        recorded.trace.addAll(trace);
        recorded.values.addAll(values);
        recorded.syncs.or(syncs);
        patterns.put(kind, recorded);
        current = NONE;
        Set<Site> live = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Pattern pt : patterns.values()) {
            live.addAll(pt.trace);
        }
        sites.values().removeIf(s -> !live.contains(s));
        shared.clear();
        for (Site s : sites.values()) {
            s.index = -1;
            Collections.addAll(shared, s.bound);
        }
        // Every graph carries every shared array and every pack, so the packs are few: at most
        // PACKS arrays, runs of neighbouring stages sharing one when there are more stages.
        int packArrays = Math.min(PACKS, MAX_SHARED - shared.size());
        if (packArrays < 2) {
            System.err.println("ionllama: a training step binds " + shared.size() + " arrays, more than the " + (MAX_SHARED - 2)
                    + " one TornadoVM plan can share; its ops copy their data per call instead");
            enabled = false;
            sites.clear();
            shared.clear();
            patterns.clear();
            return;
        }
        List<Stage> stages = new ArrayList<>();
        for (Pattern pt : patterns.values()) {
            cut(pt, NODE_TABLE - shared.size() - packArrays - 32);
            stages.addAll(pt.stages);
        }
        int perPack = (stages.size() + packArrays / 2 - 1) / (packArrays / 2);
        List<Object> arrays = new ArrayList<>(shared);
        for (int i = 0; i < stages.size(); i += perPack) {
            Pack p = pack(stages.subList(i, Math.min(stages.size(), i + perPack)));
            if (p.ints != null) {
                arrays.add(p.ints);
            }
            if (p.floats != null) {
                arrays.add(p.floats);
            }
        }
        Object[] all = arrays.toArray();
        List<ImmutableTaskGraph> graphs = new ArrayList<>();
        GridScheduler grids = new GridScheduler();
        int serial = rebuilds++;
        // The upload, in chunks: a graph with hundreds of transfers and tasks outgrows TornadoVM's
        // node table, while one that only carries arrays does not.
        for (int c0 = 0; c0 < all.length; c0 += LOAD_CHUNK) {
            Object[] before = Arrays.copyOfRange(all, 0, c0), chunk = Arrays.copyOfRange(all, c0, Math.min(all.length, c0 + LOAD_CHUNK));
            TaskGraph load = new TaskGraph("resident_" + serial + "_load" + c0);
            if (before.length > 0) {
                load.consumeFromDevice(before);
            }
            load.transferToDevice(DataTransferMode.EVERY_EXECUTION, chunk);
            touchAll(load, chunk);
            graphs.add(carry(load, Arrays.copyOfRange(all, 0, c0 + chunk.length)).snapshot());
        }
        int loads = graphs.size();
        uploads.clear();
        for (int i = 0; i < all.length; i++) {
            Object a = all[i];
            Object[] others = Arrays.stream(all).filter(o -> o != a).toArray();
            TaskGraph up = new TaskGraph("resident_" + serial + "_up" + i);
            if (others.length > 0) {
                up.consumeFromDevice(others);
            }
            up.transferToDevice(DataTransferMode.EVERY_EXECUTION, a);
            touch(up, "t", a);
            uploads.put(a, graphs.size());
            graphs.add(up.snapshot());
        }
        // One graph per site, for a step that leaves the recorded order (compiled only if run).
        for (Site s : sites.values()) {
            String name = "resident_" + serial + "_" + s.op + "_" + graphs.size();
            TaskGraph g = new TaskGraph(name).consumeFromDevice(all).transferToDevice(DataTransferMode.EVERY_EXECUTION, s.perCall);
            s.tasks(g, name, grids);
            s.index = graphs.size();
            graphs.add(g.snapshot());
        }
        stageCount = 0;
        int callCount = 0;
        for (Map.Entry<String, Pattern> e : patterns.entrySet()) {
            buildStages(e.getValue(), serial + "_" + e.getKey().replaceAll("[^A-Za-z0-9]", ""), all, graphs, grids);
            callCount += e.getValue().calls.size();
        }
        // The store graph: carries every array and declares them all for transfers on demand.
        // The other graphs only consume: declaring hundreds of arrays costs TornadoVM a scan of
        // them per array on every execution of the next graph (getObjectAccess).
        TaskGraph st = new TaskGraph("resident_" + serial + "_store").consumeFromDevice(all);
        touch(st, "t", all[0]);
        store = graphs.size();
        graphs.add(carry(st, all).snapshot());
        plan = new TornadoExecutionPlan(graphs.toArray(new ImmutableTaskGraph[0]));
        plan.withDevice(session.device().handle()).withGridScheduler(grids);
        if (session.profile()) {
            plan.withProfiler(ProfilerMode.SILENT);
        }
        for (int i = 0; i < loads; i++) {
            execute(i, stats());
        }
        countIn(DeviceGraph.bytes(all));
        for (Stage stage : stages) {
            Pack p = stage.pack;
            p.sentInts = p.ints == null ? null : p.ints.clone();
            p.sentFloats = p.floats == null ? null : p.floats.clone();
        }
        hostNewer.clear();
        deviceNewer.clear();
        // Compiling is the long part, and it happens lazily, graph by graph, during the next step.
        System.err.printf("ionllama: %s steps now resident on the device: %d calls in %d stage graphs over %d arrays"
                + " (compiled during the next step)%n", String.join(", ", patterns.keySet()), callCount, stageCount, all.length);
    }

    /**
     * Cuts the recorded calls into stages: a stage ends where the host read or wrote, and before a
     * call whose tasks would overflow a graph's node table ({@code budget} nodes for tasks).
     */
    private static void cut(Pattern pt, int budget) {
        List<Site> trace = pt.trace;
        int[] cost = new int[trace.size()];
        for (int i = 0; i < cost.length; i++) {
            StageTaskGraph probe = new StageTaskGraph("probe", true);
            trace.get(i).tasks(probe, "probe", new GridScheduler());
            cost[i] = probe.nodes();
        }
        pt.stageAt = new Stage[trace.size() + 1];
        pt.stages.clear();
        pt.calls.clear();
        int from = 0;
        while (from < trace.size()) {
            int to = from, nodes = 0;
            do {
                nodes += cost[to++];
            } while (to < trace.size() && !pt.syncs.get(to) && nodes + cost[to] <= budget);
            Stage st = new Stage(pt, from, to);
            pt.stages.add(st);
            pt.stageAt[from] = st;
            from = to;
        }
    }

    /**
     * One pack for a run of stages (in the order of their calls): each call's copy reads its int
     * arrays from the pack's ints and its float arrays from its floats, at the call's own slot,
     * loaded with the call's values in the step the pattern was recorded from (or its latest).
     */
    private static Pack pack(List<Stage> run) {
        int ints = 0, floats = 0;
        for (Stage st : run) {
            for (Site s : st.pattern.trace.subList(st.from, st.to)) {
                for (int k = 0; k < s.perCall.length; k++) {
                    if (s.perCall[k] instanceof int[]) {
                        ints += s.lengths[k];
                    } else {
                        floats += s.lengths[k];
                    }
                }
            }
        }
        Pack p = new Pack();
        p.ints = ints > 0 ? new int[ints] : null;
        p.floats = floats > 0 ? new float[floats] : null;
        ints = 0;
        floats = 0;
        for (Stage st : run) {
            st.pack = p;
            for (int i = st.from; i < st.to; i++) {
                Site s = st.pattern.trace.get(i);
                Object[] arrays = new Object[s.perCall.length];
                int[] base = new int[arrays.length];
                for (int k = 0; k < arrays.length; k++) {
                    if (s.perCall[k] instanceof int[]) {
                        arrays[k] = p.ints;
                        base[k] = ints;
                        ints += s.lengths[k];
                    } else {
                        arrays[k] = p.floats;
                        base[k] = floats;
                        floats += s.lengths[k];
                    }
                }
                // A copy of the call's values as last seen (itself a copy of s), moved into the pack.
                st.pattern.calls.add(new Call(s, st.pattern.values.get(i).copy(arrays, base)));
            }
        }
        return p;
    }

    /**
     * Builds the pattern's stage graphs: each carries every shared array and runs its calls'
     * tasks in order, each call's named {@code c<i>_<task>}, reading their per-call values from
     * the stage's packed arrays (shared like the rest, sent only when they change).
     */
    private void buildStages(Pattern pt, String serial, Object[] all, List<ImmutableTaskGraph> graphs, GridScheduler grids) {
        for (Stage st : pt.stages) {
            String name = "resident_" + serial + "_stage" + stageCount++;
            StageTaskGraph g = new StageTaskGraph(name, false);
            g.consumeFromDevice(all);
            GridScheduler named = g.grids(grids);
            for (int i = st.from; i < st.to; i++) {
                g.call(i);
                pt.calls.get(i).copy.tasks(g, name, named);
            }
            st.index = graphs.size();
            graphs.add(g.snapshot());
        }
    }

    /** Declares {@code all} kept on the device for later transfers on demand (persistOnDevice is transferToHost(UNDER_DEMAND)). */
    private static TaskGraph carry(TaskGraph g, Object[] all) {
        return g.persistOnDevice(all);
    }

    /** Touches every array, float arrays eight to a task (a graph holds a few dozen tasks at most). */
    private static void touchAll(TaskGraph g, Object[] all) {
        List<float[]> floats = new ArrayList<>();
        int t = 0;
        for (Object a : all) {
            if (a instanceof float[] f) {
                floats.add(f);
            } else {
                touch(g, "t" + t++, a);
            }
        }
        int i = 0;
        for (; i + 8 <= floats.size(); i += 8) {
            // Eight distinct arrays: a task given one array twice never compiles (see site()).
            g.task("t" + t++, Residency::touchFloats8, floats.get(i), floats.get(i + 1), floats.get(i + 2), floats.get(i + 3),
                    floats.get(i + 4), floats.get(i + 5), floats.get(i + 6), floats.get(i + 7));
        }
        for (; i < floats.size(); i++) {
            touch(g, "t" + t++, floats.get(i));
        }
    }

    public static void touchFloats8(float[] a, float[] b, float[] c, float[] d, float[] e, float[] f, float[] g, float[] h) {
        for (@Parallel int i = 0; i < 1; i++) {
            a[i] = a[i];
            b[i] = b[i];
            c[i] = c[i];
            d[i] = d[i];
            e[i] = e[i];
            f[i] = f[i];
            g[i] = g[i];
            h[i] = h[i];
        }
    }

    /** A one-thread task that reads and rewrites a[0]: makes the graph allocate and move a. */
    private static void touch(TaskGraph g, String task, Object a) {
        if (a instanceof float[] f) {
            g.task(task, Residency::touchFloats, f);
        } else if (a instanceof int[] i) {
            g.task(task, Residency::touchInts, i);
        } else if (a instanceof double[] d) {
            g.task(task, Residency::touchDoubles, d);
        } else {
            throw new IllegalArgumentException("not a resident array type: " + a);
        }
    }

    public static void touchFloats(float[] a) {
        for (@Parallel int i = 0; i < 1; i++) {
            a[i] = a[i];
        }
    }

    public static void touchInts(int[] a) {
        for (@Parallel int i = 0; i < 1; i++) {
            a[i] = a[i];
        }
    }

    public static void touchDoubles(double[] a) {
        for (@Parallel int i = 0; i < 1; i++) {
            a[i] = a[i];
        }
    }

    private void closePlan() {
        try {
            plan.freeDeviceMemory();
            plan.close();
        } catch (TornadoExecutionPlanException e) {
            throw new IllegalStateException("closing the resident plan: " + e.getMessage(), e);
        }
        plan = null;
        last = null;
    }

    /** Copies every device-newer array back, then frees the device memory. */
    @Override
    public void close() {
        if (plan != null) {
            pull(deviceNewer.toArray());
            closePlan();
        }
    }
}
