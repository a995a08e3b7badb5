package io.ionllama.backend.tornado;

import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
import uk.ac.manchester.tornado.api.enums.ProfilerMode;
import uk.ac.manchester.tornado.api.exceptions.TornadoExecutionPlanException;

/**
 * One compiled TaskGraph bound to a device: its execution plan, its worker grids and the counters
 * of the op it serves. TornadoVM compiles the graph's tasks on the first {@link #execute()}; later
 * executions reuse the compiled kernels, so an op keeps one of these per shape.
 */
final class DeviceGraph implements AutoCloseable {

    private final TornadoExecutionPlan plan;
    private final OpStats stats;
    private final boolean profile;
    final String name;

    DeviceGraph(TaskGraph graph, GridScheduler grids, TornadoSession session, OpStats stats) {
        this.name = graph.getTaskGraphName();
        this.stats = stats;
        this.profile = session.profile();
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
        stats.executions++;
        if (profile) {
            stats.kernelNanos += result.getProfilerResult().getDeviceKernelTime();
            stats.transferNanos += result.getProfilerResult().getDataTransfersTime();
        }
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
