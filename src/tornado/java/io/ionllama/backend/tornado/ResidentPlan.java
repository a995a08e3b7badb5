package io.ionllama.backend.tornado;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Stream;
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
 *   packValues    each stage's per-call values packed into an int and a float array of its own
 *   loadGraphs    L..: upload every shared array once, LOAD_CHUNK arrays to a graph
 *   uploadGraphs  U(a): one graph per shared array, to send the host's copy again; U(group):
 *                 one per group of arrays the host wrote together (input bytes and targets)
 *   siteGraphs    G(site): one call alone, for a step that leaves the recorded order
 *   stageGraphs   stage i: the calls of a stage, one named task group per call; its pack goes
 *                 with every execution, and it declares for transfer back the arrays the host
 *                 reads right after it
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
     * Per-call values of one stage's calls, packed into one int and one float array (null where no
     * call has one). The stage graph sends its pack with every execution (a few hundred bytes to a
     * few KB), so a step whose sizes change (entropy patching's patch counts) needs no upload graphs
     * of its own, and the packs are not shared arrays: they cost no node in any other graph.
     */
    static final class Pack {
        final int[] ints;
        final float[] floats;
        /** The arrays that exist, as the stage graph transfers them, and their bytes (counted per execution). */
        final Object[] arrays;
        final long bytes;

        Pack(int ints, int floats) {
            this.ints = ints > 0 ? new int[ints] : null;
            this.floats = floats > 0 ? new float[floats] : null;
            this.arrays = Stream.of(this.ints, this.floats).filter(Objects::nonNull).toArray();
            this.bytes = DeviceGraph.bytes(arrays);
        }
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
        /** The arrays the host read at each place of the step (where a stage ends), and the groups it wrote together. */
        final Map<Integer, List<Object>> pulls = new HashMap<>();
        final Set<SiteKey> groups = new HashSet<>();
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

    /** TornadoVM's node table per TaskGraph (TornadoGraph.INITIAL_SIZE; it cannot grow). */
    static final int NODE_TABLE = 1024;

    /** Arrays uploaded per load graph (a load graph has a transfer and part of a task per array). */
    static final int LOAD_CHUNK = 64;

    final TornadoExecutionPlan plan;
    /** The shared arrays: every live site's bound arrays. */
    final Object[] all;
    private final Set<Object> sharedSet;
    /** Graphs 0 .. loads-1 upload every shared array (run once, when the plan starts). */
    final int loads;
    /** The graph that uploads each shared array again. */
    final Map<Object, Integer> uploads = new IdentityHashMap<>();
    /** The graph that uploads each group of shared arrays the host writes together. */
    final Map<SiteKey, Integer> groupUploads = new HashMap<>();
    /** The arrays each graph declares for transfers back on demand (persistOnDevice). */
    final Map<Integer, Set<Object>> declared = new HashMap<>();
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
     * bound arrays {@code shared}).
     */
    ResidentPlan(TornadoSession session, int serial, Set<Object> shared, Collection<Site> sites, Map<String, Pattern> patterns) {
        this.serial = Integer.toString(serial);
        cutStages(patterns, shared.size());
        packValues();
        all = shared.toArray();
        sharedSet = identitySet(Arrays.asList(all));
        loads = loadGraphs();
        uploadGraphs();
        groupUploadGraphs(patterns);
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

    private void cutStages(Map<String, Pattern> patterns, int sharedCount) {
        for (Pattern pt : patterns.values()) {
            // The shared arrays' object nodes, the pack's two arrays (object, first use, release) and
            // the graph's own few (context, buffers) come before the calls' tasks.
            cut(pt, NODE_TABLE - sharedCount - 6 - 32);
            stages.addAll(pt.stages);
        }
    }

    /** Each stage's own pack. */
    private void packValues() {
        for (Stage st : stages) {
            pack(st);
        }
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

    private void groupUploadGraphs(Map<String, Pattern> patterns) {
                for (Pattern pt : patterns.values()) {
            for (SiteKey group : pt.groups) {
                if (groupUploads.containsKey(group) || !sharedSet.containsAll(Arrays.asList(group.arrays))
                        || identitySet(Arrays.asList(group.arrays)).size() != group.arrays.length) {
                    continue;
                }
                Set<Object> members = identitySet(Arrays.asList(group.arrays));
                TaskGraph up = new TaskGraph("resident_" + serial + "_group" + groupUploads.size());
                Object[] others = Arrays.stream(all).filter(o -> !members.contains(o)).toArray();
                if (others.length > 0) {
                    up.consumeFromDevice(others);
                }
                up.transferToDevice(DataTransferMode.EVERY_EXECUTION, group.arrays);
                touchAll(up, group.arrays);
                groupUploads.put(group, graphs.size());
                graphs.add(up.snapshot());
            }
        }
    }

    private static Set<Object> identitySet(Collection<Object> arrays) {
        Set<Object> set = Collections.newSetFromMap(new IdentityHashMap<>());
        set.addAll(arrays);
        return set;
    }

    /** One graph per site, for a step that leaves the recorded order (compiled only if run). */
    private void siteGraphs(Collection<Site> sites) {
        for (Site s : sites) {
            String name = "resident_" + serial + "_" + s.op + "_" + graphs.size();
            TaskGraph g = new TaskGraph(name).consumeFromDevice(all).transferToDevice(DataTransferMode.EVERY_EXECUTION, s.perCall);
            s.tasks(g, name, grids);
            s.index = graphs.size();
            declare(g, s.index, Arrays.asList(s.written));
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
        declare(st, graphs.size(), Arrays.asList(all));
        graphs.add(st.snapshot());
        return graphs.size() - 1;
    }

    /**
     * Cuts the recorded calls into stages: a stage ends where the host read or wrote, and before a
     * call whose tasks would overflow a graph's node table ({@code budget} nodes for tasks).
     */
    private static void cut(Pattern pt, int budget) {
        List<Site> trace = pt.trace;
        pt.stageAt = new Stage[trace.size() + 1];
        pt.stages.clear();
        pt.calls.clear();
        int from = 0;
        while (from < trace.size()) {
            StageTaskGraph count = new StageTaskGraph("probe", true);
            int to = from;
            do {
                count.count(trace.get(to++));
            } while (to < trace.size() && !pt.syncs.get(to) && count.nodesWith(trace.get(to)) <= budget);
            Stage st = new Stage(pt, from, to);
            pt.stages.add(st);
            pt.stageAt[from] = st;
            from = to;
        }
    }

    /**
     * The stage's pack (in the order of its calls): each call's copy reads its int arrays from the
     * pack's ints and its float arrays from its floats, at the call's own slot, loaded with the
     * call's values in the step the pattern was recorded from (or its latest).
     */
    private static void pack(Stage st) {
        List<Site> calls = st.pattern.trace.subList(st.from, st.to);
        int ints = 0, floats = 0;
        for (Site s : calls) {
            for (int k = 0; k < s.perCall.length; k++) {
                if (s.perCall[k] instanceof int[]) {
                    ints += s.lengths[k];
                } else {
                    floats += s.lengths[k];
                }
            }
        }
        Pack p = new Pack(ints, floats);
        st.pack = p;
        ints = 0;
        floats = 0;
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

    /**
     * Builds the pattern's stage graphs: each carries every shared array and runs its calls'
     * tasks in order, each call's named {@code c<i>_<task>}, reading their per-call values from
     * the stage's pack, which goes with every execution.
     */
    private void buildStages(Pattern pt, String serial) {
        for (Stage st : pt.stages) {
            String name = "resident_" + serial + "_stage" + stageCount++;
            StageTaskGraph g = new StageTaskGraph(name, false);
            g.consumeFromDevice(all);
            if (st.pack.arrays.length > 0) {
                g.transferToDevice(DataTransferMode.EVERY_EXECUTION, st.pack.arrays);
            }
            GridScheduler named = g.grids(grids);
            for (int i = st.from; i < st.to; i++) {
                g.call(i);
                pt.calls.get(i).copy.tasks(g, name, named);
            }
            st.index = graphs.size();
            declare(g, st.index, pt.pulls.getOrDefault(st.to, List.of()));
            graphs.add(g.snapshot());
        }
    }

    /** Declares {@code all} kept on the device for later transfers on demand (persistOnDevice is transferToHost(UNDER_DEMAND)). */
    private static TaskGraph carry(TaskGraph g, Object[] all) {
        return g.persistOnDevice(all);
    }

    /**
     * Declares those of {@code arrays} that are shared for transfer back on demand from graph
     * {@code index}'s result: the host reads them without running the store graph first. Only a
     * few per graph: each declared array costs TornadoVM a scan per execution of the next graph.
     */
    private void declare(TaskGraph g, int index, List<Object> arrays) {
        Set<Object> out = identitySet(List.of());
        arrays.stream().filter(sharedSet::contains).forEach(out::add);
        if (!out.isEmpty()) {
            g.persistOnDevice(out.toArray());
        }
        declared.put(index, out);
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
