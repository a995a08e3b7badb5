package io.ionllama.backend.tornado;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.ImmutableTaskGraph;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.enums.ProfilerMode;

/**
 * The plan builder of {@link Residency}: from the steps recorded (one {@link Pattern} per kind of
 * step) and the sites they call, one {@link TornadoExecutionPlan} whose graphs keep every shared
 * array on the device. Built in named phases, in this order (graph indices follow it):
 *
 * <pre>
 *   cutStages     each pattern's calls cut into stages: at host hand-overs, and before a call
 *                 whose tasks would overflow a graph's node table
 *   packValues    per-call values of runs of stages packed into shared int/float arrays
 *   bindArrays    the shared arrays: every live site's bound arrays, then the packs
 *   loadGraphs    L..: upload every shared array once, LOAD_CHUNK arrays to a graph
 *   uploadGraphs  U(a): one graph per shared array, to send the host's copy again
 *   siteGraphs    G(site): one call alone, for a step that leaves the recorded order
 *   stageGraphs   stage i: the calls of a stage, one named task group per call
 *   storeGraph    S: persistOnDevice(all shared), so that any array can come back on demand
 * </pre>
 *
 * Every graph consumes every shared array (TornadoVM hands device buffers from graph to graph of
 * one plan only along that chain); see {@link Residency} for how the plan is run.
 */
final class ResidentPlan {

    /** One call of the recorded step: its site, and the copy of the site that holds this call's values in a stage graph. */
    record Call(Site site, Site copy) {}

    /**
     * Per-call values of a run of stages, packed into one int and one float array (null where no
     * call has one), shared arrays of the plan like the model's. What the device holds of them
     * is remembered ({@code sentInts}, {@code sentFloats}): before one of its stages runs, a pack
     * is uploaded only if a value changed since, so a step whose sizes and offsets repeat moves
     * none of them.
     */
    static final class Pack {
        int[] ints, sentInts;
        float[] floats, sentFloats;
    }

    /**
     * A stage graph: calls {@code from} (inclusive) to {@code to} of the recorded step, its index
     * in the plan, and the pack its calls read their per-call values from.
     */
    static final class Stage {
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

    /**
     * A kind of step ("train", "generate: local", ...): the calls and host hand-overs recorded from
     * one such step, and the plan's stages that run them.
     */
    static final class Pattern {
        final List<Site> trace = new ArrayList<>();
        /** Each call's per-call values as last seen, which a new plan's packs start from. */
        final List<Site> values = new ArrayList<>();
        final BitSet syncs = new BitSet();
        final List<Call> calls = new ArrayList<>();
        /** The stage that starts at each call, null where none starts. */
        Stage[] stageAt = new Stage[0];
        final List<Stage> stages = new ArrayList<>();
    }

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

    final TornadoExecutionPlan plan;
    /** The shared arrays, the model's first, then the packs. */
    final Object[] all;
    /** Graphs 0 .. loads-1 upload every shared array (run once, when the plan starts). */
    final int loads;
    /** The graph that uploads each shared array again. */
    final Map<Object, Integer> uploads = new IdentityHashMap<>();
    /** The store graph (declares every array for transfers on demand). */
    final int store;
    /** Every stage of every pattern, and the calls they run. */
    final List<Stage> stages = new ArrayList<>();
    int callCount;

    private final String serial;
    private final List<ImmutableTaskGraph> graphs = new ArrayList<>();
    private final GridScheduler grids = new GridScheduler();
    private int stageCount;

    /**
     * Builds the plan for {@code patterns}, whose calls name {@code sites} (all live, their
     * bound arrays {@code shared}), with at most {@code packArrays} arrays of packed values.
     */
    ResidentPlan(TornadoSession session, int serial, Set<Object> shared, Collection<Site> sites, Map<String, Pattern> patterns,
                 int packArrays) {
        this.serial = Integer.toString(serial);
        cutStages(patterns, shared.size(), packArrays);
        all = bindArrays(shared, packValues(packArrays));
        loads = loadGraphs();
        uploadGraphs();
        siteGraphs(sites);
        stageGraphs(patterns);
        store = storeGraph();
        plan = new TornadoExecutionPlan(graphs.toArray(new ImmutableTaskGraph[0]));
        plan.withDevice(session.device().handle()).withGridScheduler(grids);
        if (session.profile()) {
            plan.withProfiler(ProfilerMode.SILENT);
        }
    }

    /** Stage graphs in the plan. */
    int stageCount() {
        return stageCount;
    }

    private void cutStages(Map<String, Pattern> patterns, int sharedCount, int packArrays) {
        for (Pattern pt : patterns.values()) {
            cut(pt, NODE_TABLE - sharedCount - packArrays - 32);
            stages.addAll(pt.stages);
        }
    }

    /** Every graph carries every shared array and every pack, so the packs are few: runs of neighbouring stages share one. */
    private List<Object> packValues(int packArrays) {
        int perPack = (stages.size() + packArrays / 2 - 1) / (packArrays / 2);
        List<Object> packs = new ArrayList<>();
        for (int i = 0; i < stages.size(); i += perPack) {
            Pack p = pack(stages.subList(i, Math.min(stages.size(), i + perPack)));
            if (p.ints != null) {
                packs.add(p.ints);
            }
            if (p.floats != null) {
                packs.add(p.floats);
            }
        }
        return packs;
    }

    private static Object[] bindArrays(Set<Object> shared, List<Object> packs) {
        List<Object> arrays = new ArrayList<>(shared);
        arrays.addAll(packs);
        return arrays.toArray();
    }

    /**
     * The upload, in chunks: a graph with hundreds of transfers and tasks outgrows TornadoVM's
     * node table, while one that only carries arrays does not. Returns how many graphs it took.
     */
    private int loadGraphs() {
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
        return graphs.size();
    }

    private void uploadGraphs() {
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
    }

    /** One graph per site, for a step that leaves the recorded order (compiled only if run). */
    private void siteGraphs(Collection<Site> sites) {
        for (Site s : sites) {
            String name = "resident_" + serial + "_" + s.op + "_" + graphs.size();
            TaskGraph g = new TaskGraph(name).consumeFromDevice(all).transferToDevice(DataTransferMode.EVERY_EXECUTION, s.perCall);
            s.tasks(g, name, grids);
            s.index = graphs.size();
            graphs.add(g.snapshot());
        }
    }

    private void stageGraphs(Map<String, Pattern> patterns) {
        for (Map.Entry<String, Pattern> e : patterns.entrySet()) {
            buildStages(e.getValue(), serial + "_" + e.getKey().replaceAll("[^A-Za-z0-9]", ""));
            callCount += e.getValue().calls.size();
        }
    }

    /**
     * The store graph: carries every array and declares them all for transfers on demand. The
     * other graphs only consume: declaring hundreds of arrays costs TornadoVM a scan of them per
     * array on every execution of the next graph (getObjectAccess).
     */
    private int storeGraph() {
        TaskGraph st = new TaskGraph("resident_" + serial + "_store").consumeFromDevice(all);
        touch(st, "t", all[0]);
        graphs.add(carry(st, all).snapshot());
        return graphs.size() - 1;
    }

    /** The device now holds every pack as built: remember what it holds, so only changes are sent. */
    void packsSent() {
        for (Stage stage : stages) {
            Pack p = stage.pack;
            p.sentInts = p.ints == null ? null : p.ints.clone();
            p.sentFloats = p.floats == null ? null : p.floats.clone();
        }
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
    private void buildStages(Pattern pt, String serial) {
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
            // Eight distinct arrays: a task given one array twice never compiles (see Residency.site()).
            g.task("t" + t++, ResidentPlan::touchFloats8, floats.get(i), floats.get(i + 1), floats.get(i + 2), floats.get(i + 3),
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
            g.task(task, ResidentPlan::touchFloats, f);
        } else if (a instanceof int[] i) {
            g.task(task, ResidentPlan::touchInts, i);
        } else if (a instanceof double[] d) {
            g.task(task, ResidentPlan::touchDoubles, d);
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
}
