package io.ionllama.backend.tornado;

import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
import uk.ac.manchester.tornado.api.enums.ProfilerMode;
import uk.ac.manchester.tornado.api.exceptions.TornadoExecutionPlanException;

/**
 * One compiled TaskGraph bound to a device: its execution plan, its worker grids and the counters
 * of the op it serves, including the bytes each execution moves between host and device (counted
 * from the arrays the graph transfers, so they are known without the profiler). TornadoVM compiles the graph's tasks on the first {@link #execute()}; later
 * executions reuse the compiled kernels, so an op keeps one of these per shape.
 */
final class DeviceGraph implements AutoCloseable {

    private final TornadoExecutionPlan plan;
    private final OpStats stats;
    private final TornadoSession session;
    private final boolean profile;
    private final long bytesIn, bytesOut, bytesFirst;
    private boolean executed;
    private TornadoExecutionResult last;
    final String name;

    /**
     * @param in    the arrays the graph transfers to the device on every execution
     * @param out   the arrays it transfers back on every execution
     * @param first the arrays it transfers to the device on its first execution only
     */
    DeviceGraph(TaskGraph graph, GridScheduler grids, TornadoSession session, OpStats stats,
                Object[] in, Object[] out, Object[] first) {
        this.name = graph.getTaskGraphName();
        this.stats = stats;
        this.session = session;
        this.profile = session.profile();
        this.bytesIn = bytes(in);
        this.bytesOut = bytes(out);
        // Arrays a task writes but the graph never sends (pure outputs) are copied to the device
        // once, when TornadoVM first allocates them: count them with the first execution.
        long firstOnly = bytes(first);
        for (Object o : out) {
            boolean sent = false;
            for (Object i : in) {
                sent |= i == o;
            }
            for (Object f : first) {
                sent |= f == o;
            }
            if (!sent) {
                firstOnly += bytes(o);
            }
        }
        this.bytesFirst = firstOnly;
        this.plan = new TornadoExecutionPlan(graph.snapshot());
        plan.withDevice(session.device().handle()).withGridScheduler(grids);
        if (profile) {
            plan.withProfiler(ProfilerMode.SILENT);
        }
        stats.graphsBuilt++;
    }

    /** Runs the graph once: transfers in, kernels, transfers out; blocks until the results are on the host. */
    void execute() {
        TornadoExecutionResult result = plan.execute();
        last = result;
        stats.executions++;
        long in = bytesIn + (executed ? 0 : bytesFirst);
        executed = true;
        stats.bytesToDevice += in;
        stats.bytesToHost += bytesOut;
        session.countTransfers(in, bytesOut);
        if (profile) {
            stats.kernelNanos += result.getProfilerResult().getDeviceKernelTime();
            stats.transferNanos += result.getProfilerResult().getDataTransfersTime();
            stats.profiledBytesToDevice += result.getProfilerResult().getTotalBytesCopyIn();
            stats.profiledBytesToHost += result.getProfilerResult().getTotalBytesCopyOut();
        }
    }

    /**
     * Copies {@code arrays}, which the graph transfers to the host UNDER_DEMAND, back from the
     * device as the last execution left them (and counts the bytes). Before any execution the
     * host copies are the current ones and nothing moves.
     */
    void pull(Object... arrays) {
        if (last == null) {
            return;
        }
        last.transferToHost(arrays);
        long n = bytes(arrays);
        stats.bytesToHost += n;
        session.countTransfers(0, n);
    }

    /** Bytes of the Java array header TornadoVM copies along with each array's data. */
    static final int ARRAY_HEADER = 16;

    /**
     * Bytes TornadoVM copies for {@code arrays} (float, int and double arrays): the whole array
     * and its header each time (a graph's staging arrays are sized for its capacity, so a call
     * with fewer rows still moves the whole array). Not counted: the few bytes of kernel
     * arguments TornadoVM writes per task launch.
     */
    static long bytes(Object... arrays) {
        long n = 0;
        for (Object a : arrays) {
            if (a instanceof float[] f) {
                n += 4L * f.length + ARRAY_HEADER;
            } else if (a instanceof int[] i) {
                n += 4L * i.length + ARRAY_HEADER;
            } else if (a instanceof double[] d) {
                n += 8L * d.length + ARRAY_HEADER;
            } else {
                throw new IllegalArgumentException("not a counted array type: " + a);
            }
        }
        return n;
    }

    @Override
    public void close() {
        try {
            plan.freeDeviceMemory();
            plan.close();
        } catch (TornadoExecutionPlanException e) {
            throw new IllegalStateException("closing TaskGraph " + name + ": " + e.getMessage(), e);
        }
    }
}
