package io.ionllama.backend.tornado;

import io.ionllama.backend.tornado.ResidentPlan.Call;
import io.ionllama.backend.tornado.ResidentPlan.Pattern;
import io.ionllama.backend.tornado.ResidentPlan.Stage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
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
 * values from its stage's pack: one int and one float array holding the values of all the calls
 * of the stage, each kernel reading from its call's base ({@code params[pb + ROWS]}, {@code pb}
 * compiled into the call's task). The stage graph sends its pack with every execution, so sizes
 * that change from step to step (entropy patching's patch counts) cost no extra graph execution.
 *
 * <pre>
 *   plan = [ L.. | U(a) for every shared array a | U(group) | G(site) for every site | stage 0 .. stage k | S ]
 *
 *   L..      upload every shared array once (the plan's start), 64 arrays to a graph
 *   U(a)     uploads the host's a (after {@link #hostChanged}), when a call first binds it
 *   U(group) uploads arrays the host handed over in one {@link #hostChanged} (x and targets), at once
 *   stage i  the calls between two host hand-overs, in order, one named task group per call
 *            ("c42_cells"), its pack sent with it; cut shorter where TornadoVM's node table would
 *            overflow; declares the arrays the host read after it in the recorded step
 *   G(site)  one call alone, for a step that leaves the recorded order (compiled only if run);
 *            the site's own per-call arrays go with each execution; declares its outputs
 *   S        the store: declares every shared array, for a read no graph before it declared
 *   every graph consumeFromDevice(all shared) but the first upload
 *
 *   step:  x,targets ─U(group)─▶ [entropy model, patch decision] ─▶ seqStart, seqCount
 *          ─▶ [encoder, global, decoder, loss] ─▶ stats ─▶ [backward, grad norm] ─▶ partials
 *          ─▶ [AdamW]          (each ─▶ read from the result of the stage before it)
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
 * <p>The parts: {@link Site} and {@link SiteKey} (an op call site and what identifies it),
 * {@link ResidentPlan} (the plan builder: cutting stages, packing per-call values, binding arrays,
 * the graphs), and this class, the record/replay runtime (taking calls, running stages, moving
 * arrays between host and device).
 *
 * <p>A step that uses a site the plan lacks (an array the model reallocated) or calls its ops in
 * another order runs the rest of its calls one graph each, and makes {@link #endStep} build the
 * plan again from that step, which compiles every graph again. A step that stops short of the
 * recorded calls keeps the plan.
 */
final class Residency implements AutoCloseable {

    private final TornadoSession session;
    private final Map<SiteKey, Site> sites = new LinkedHashMap<>();
    private final Set<Object> shared = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<Object> deviceNewer = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<Object> hostNewer = Collections.newSetFromMap(new IdentityHashMap<>());
    /** The plan's graph that uploads each shared array (empty before the first plan). */
    private Map<Object, Integer> uploads = new IdentityHashMap<>();
    /** The plan's graph that uploads each group of arrays the host changed together (more than one). */
    private Map<SiteKey, Integer> groupUploads = new HashMap<>();
    /** The arrays each graph of the plan declares for transfers back on demand (the store: all of them). */
    private Map<Integer, Set<Object>> declared = new HashMap<>();
    /** The graph executed last, whose result hands arrays back. */
    private int lastGraph = -1;

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
    /** This step's host reads, by place in the step, and the groups of arrays the host wrote together. */
    private final Map<Integer, List<Object>> pulls = new HashMap<>();
    private final Set<SiteKey> groups = new HashSet<>();
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
    private long runs, stageRuns, packBytes;
    private boolean enabled;

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

    /** Bytes of per-call values the stage graphs sent so far (part of the bytes to the device). */
    long packBytes() {
        return packBytes;
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
    <S extends Site> S site(SiteKey key, Supplier<S> make) {
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
        if (!diverged && cursor < calls.size() && calls.get(cursor).site() == s) {
            Site copy = calls.get(cursor++).copy();
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
                c.site().load(c.copy());
                execute(c.site().index, session.stats(c.site().op));
                countPerCall(c.site());
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

    /** Counts the stage's pack, which its graph sends with every execution. */
    private void send(Stage st) {
        packBytes += st.pack.bytes;
        countIn(st.pack.bytes);
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

    /**
     * Copies back the device-newer arrays among {@code arrays}: from the result of the graph that
     * ran last when it declared them (a stage whose end the host reads after, as recorded), else
     * after running the store graph, which declares every shared array.
     */
    void pull(Object... arrays) {
        flush();
        for (Object a : arrays) {
            if (a != null && deviceNewer.remove(a)) {
                if (!declared.getOrDefault(lastGraph, Set.of()).contains(a)) {
                    execute(store, stats());
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
        if (inStep) {
            List<Object> read = pulls.computeIfAbsent(trace.size(), k -> new ArrayList<>());
            Arrays.stream(arrays).filter(Objects::nonNull).forEach(read::add);
        }
        pull(arrays);
    }

    /**
     * The host wrote {@code arrays}. In a step, arrays written together (the input bytes and
     * targets) that the plan has a group upload for go to the device at once, in one graph
     * execution; the others are uploaded one by one when a call first binds them.
     */
    void hostChanged(Object... arrays) {
        sync();
        SiteKey group = arrays.length > 1 ? new SiteKey("upload", new int[0], arrays) : null;
        if (inStep && group != null) {
            groups.add(group);
        }
        Integer up = group == null || !inStep ? null : groupUploads.get(group);
        if (up == null) {
            wroteOnHost(arrays);
            return;
        }
        execute(up, stats());
        for (Object a : arrays) {
            hostNewer.remove(a);
            deviceNewer.remove(a);
            countIn(DeviceGraph.bytes(a));
        }
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
        pulls.clear();
        groups.clear();
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
        groupUploads.clear();
        declared.clear();
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
        lastGraph = index;
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
        keepLatestValues();
        recordStep();
        bindLiveSites();
        if (shared.size() > ResidentPlan.MAX_SHARED) {
            System.err.println("ionllama: a training step binds " + shared.size() + " arrays, more than the "
                    + ResidentPlan.MAX_SHARED + " one TornadoVM plan can share; its ops copy their data per call instead");
            enabled = false;
            sites.clear();
            shared.clear();
            patterns.clear();
            return;
        }
        ResidentPlan built = new ResidentPlan(session, rebuilds++, shared, sites.values(), patterns);
        plan = built.plan;
        uploads = built.uploads;
        groupUploads = built.groupUploads;
        declared = built.declared;
        store = built.store;
        for (int i = 0; i < built.loads; i++) {
            execute(i, stats());
        }
        countIn(DeviceGraph.bytes(built.all));
        hostNewer.clear();
        deviceNewer.clear();
        // Compiling is the long part, and it happens lazily, graph by graph, during the next step.
        System.err.printf("ionllama: %s steps now resident on the device: %d calls in %d stage graphs over %d arrays"
                + " (compiled during the next step)%n", String.join(", ", patterns.keySet()), built.callCount, built.stageCount(),
                built.all.length);
    }

    /** The kinds kept start from their calls' latest values (their copies' slots in the packs). */
    private void keepLatestValues() {
        for (Pattern pt : patterns.values()) {
            if (pt.calls.size() == pt.trace.size()) {
                pt.values.clear();
                pt.calls.forEach(c -> pt.values.add(c.copy()));
            }
        }
    }

    /** The step just ended becomes the pattern of its kind. */
    private void recordStep() {
        Pattern recorded = new Pattern();
        recorded.trace.addAll(trace);
        recorded.values.addAll(values);
        recorded.syncs.or(syncs);
        recorded.pulls.putAll(pulls);
        recorded.groups.addAll(groups);
        patterns.put(kind, recorded);
        current = NONE;
    }

    /** Sites no pattern calls are dropped; the live ones' arrays are the shared arrays. */
    private void bindLiveSites() {
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
        lastGraph = -1;
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
