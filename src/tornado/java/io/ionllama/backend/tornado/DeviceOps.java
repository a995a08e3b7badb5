package io.ionllama.backend.tornado;

import io.ionllama.backend.cpu.CpuBackend;
import java.util.HashMap;
import java.util.Map;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.WorkerGrid1D;

/**
 * The one dispatch path of the device ops: every op family ({@code *Graphs}) describes a call as
 * an {@link OpCall} and hands it here.
 *
 * <pre>
 *   call ──▶ Residency.site(key) ──▶ site? ── params, values, grids ──▶ Residency.run(site) ── taken ──▶ done (runs with its stage)
 *                 │ (no step, no residency)                                   │ (the plan lacks it)
 *                 └──────────────────────────────────┬───────────────────────┘
 *                                                    ▼
 *            the op's copying graph, keyed by (op, compiled-in numbers, capacity class):
 *            copy the slices in, execute, copy the written slices back ──▶ Residency.wroteOnHost
 * </pre>
 *
 * A site is keyed by the op, its compiled-in numbers and the identity of the caller's arrays
 * ({@link SiteKey}); a copying graph ({@link StagedGraph}) by the op and its numbers only, since
 * it copies whatever slices it is given.
 */
final class DeviceOps implements AutoCloseable {

    final TornadoSession session;
    final Residency residency;
    /** Where a call with nothing for the device goes when the CPU's answer is not simply nothing (a matmul with in = 0 gives the bias). */
    final CpuBackend cpu;
    private final Map<SiteKey, StagedGraph> staged = new HashMap<>();

    DeviceOps(TornadoSession session, Residency residency, CpuBackend cpu) {
        this.session = session;
        this.residency = residency;
        this.cpu = cpu;
    }

    /**
     * A call of {@code op}: {@code params} ints of sizes and offsets, the slices' offsets from
     * {@code firstOffset} on (-1: the op takes none), {@code dims} compiled into its kernels.
     */
    static OpCall call(String op, int params, int firstOffset, int... dims) {
        return new OpCall(op, params, firstOffset, dims);
    }

    /** Runs the call (unless it is empty): taken by the step's plan, or through its copying graph. */
    void run(OpCall c) {
        if (!c.skip && !resident(c)) {
            copying(c);
            Object[] written = c.written();
            if (written.length > 0) {
                residency.wroteOnHost(written);
            }
        }
    }

    /** Offers the call to the step's plan; false when it must run otherwise (no step, or a site the plan lacks). */
    boolean resident(OpCall c) {
        Site s = site(c);
        c.ran = s;
        return residency.run(s);
    }

    /** The call's site with its per-call values loaded, or null when it runs per-op ({@link Residency#site}). */
    Site site(OpCall c) {
        Site s = residency.site(new SiteKey(c.op, c.siteDims(), c.keyArrays()), c::newSite);
        if (s != null) {
            c.load(s, true);
        }
        return s;
    }

    /** Runs the call through its copying graph, whatever the step; the host's arrays are current after it. */
    void copying(OpCall c) {
        StagedGraph g = staged.computeIfAbsent(new SiteKey(c.op, c.copyDims()), k -> new StagedGraph(session, c));
        g.run(c);
        c.ran = null;
        c.copied = g.staged();
    }

    /**
     * Slice {@code i} of a call that ran, as the host can read it now: the site's own array
     * (copied back from the device first) or the copying graph's staging array.
     */
    Object result(OpCall c, int i) {
        if (c.ran != null) {
            Object a = c.ran.args[i];
            residency.toHost(a);
            return a;
        }
        // Already on the host; still a place in the step where the host reads, so that the step
        // recorded op by op cuts its stages where the resident replay will read.
        residency.toHost();
        return c.copied[i];
    }

    /**
     * Says that the host reads slice {@code i} of call {@code c} here, where the call ran per-op
     * (a step recorded op by op): the place, and the site's array for it, are recorded as a
     * resident replay's {@link #result} will read them.
     */
    void hostReads(OpCall c, int i) {
        residency.toHost(c.ran != null ? c.ran.args[i] : null);
    }

    /** 1-D grids sized for {@code units} threads each. */
    static WorkerGrid[] grid1(int... units) {
        WorkerGrid[] g = new WorkerGrid[units.length];
        for (int i = 0; i < units.length; i++) {
            g[i] = StagedGraph.grid1(units[i]);
        }
        return g;
    }

    /** One thread (the loss statistics, the patch prefix). */
    static WorkerGrid1D oneThread() {
        WorkerGrid1D g = new WorkerGrid1D(1);
        g.setGlobalWork(1, 1, 1);
        g.setLocalWork(1, 1, 1);
        return g;
    }

    @Override
    public void close() {
        staged.values().forEach(StagedGraph::close);
        staged.clear();
    }
}
