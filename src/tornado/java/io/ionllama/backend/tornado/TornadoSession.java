package io.ionllama.backend.tornado;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What every device op of one {@link TornadoBackend} shares: the chosen device, whether the
 * TornadoVM profiler is on, the per-op counters and the names given to TaskGraphs.
 *
 * <p>Every TaskGraph gets a name of its own ({@code op_shape_serial}): TornadoVM keys compiled
 * code and worker grids by "graph.task", and the scalars compiled into a kernel differ per shape.
 */
final class TornadoSession {

    private final TornadoDevices.Entry device;
    private final boolean profile;
    private final Map<String, OpStats> stats = new LinkedHashMap<>();
    private int serial;
    private long bytesToDevice, bytesToHost;

    TornadoSession(TornadoDevices.Entry device, boolean profile) {
        this.device = device;
        this.profile = profile;
    }

    /**
     * A session on device {@code device} ({@link TornadoDevices#select}), checking that it can run
     * the tiled matmul's {@code tile x tile} work-groups (0: the per-cell kernel, any device).
     */
    static TornadoSession open(int device, boolean profile, int tile) {
        if (tile < 0 || tile > MatmulKernels.MAX_TILE) {
            throw new IllegalArgumentException("tile " + tile + " out of range 0.." + MatmulKernels.MAX_TILE);
        }
        TornadoSession s = new TornadoSession(TornadoDevices.select(device), profile);
        long maxGroup = s.device.maxWorkGroupThreads();
        if (tile > 0 && maxGroup > 0 && (long) tile * tile > maxGroup) {
            throw new IllegalArgumentException("tile " + tile + " needs " + tile * tile + " threads per work-group; "
                    + s.device.name() + " allows " + maxGroup);
        }
        return s;
    }

    TornadoDevices.Entry device() {
        return device;
    }

    boolean profile() {
        return profile;
    }

    OpStats stats(String op) {
        return stats.computeIfAbsent(op, k -> new OpStats());
    }

    Map<String, OpStats> allStats() {
        return stats;
    }

    /** Graph executions so far, summed over every op's counters. */
    long executions() {
        long n = 0;
        for (OpStats s : stats.values()) {
            n += s.executions;
        }
        return n;
    }

    void countTransfers(long in, long out) {
        bytesToDevice += in;
        bytesToHost += out;
    }

    long bytesToDevice() {
        return bytesToDevice;
    }

    long bytesToHost() {
        return bytesToHost;
    }

    String graphName(String op, String shape) {
        return op + "_" + shape + "_" + (serial++);
    }

    /** Null when TornadoVM's runtime starts and sees a device; else why not, in one line. */
    static String probe() {
        if (TornadoDevices.all().isEmpty()) {
            return "TornadoVM runs but found no device (check the OpenCL/CUDA driver: tornado --devices)";
        }
        return null;
    }
}
