package io.ionllama.backend.tornado;

/**
 * What one device op did so far: TaskGraphs built (each one is a compilation), executions, and,
 * when the backend profiles, the device's own kernel and transfer times. Tests read these to
 * prove that an op really ran on the device and that a cached graph was reused.
 */
public final class OpStats {
    long graphsBuilt;
    long executions;
    long kernelNanos;
    long transferNanos;
    long bytesToDevice;
    long bytesToHost;
    long profiledBytesToDevice;
    long profiledBytesToHost;

    /** TaskGraphs built for this op: one per shape, plus one each time a buffer outgrew its capacity. */
    public long graphsBuilt() {
        return graphsBuilt;
    }

    public long executions() {
        return executions;
    }

    /** Time the device spent in this op's kernels, as its OpenCL/CUDA events report it (0 without profiling). */
    public long kernelNanos() {
        return kernelNanos;
    }

    public long transferNanos() {
        return transferNanos;
    }

    /** Bytes this op's graphs copied from the host to the device (whole staging arrays, see {@link DeviceGraph#bytes}). */
    public long bytesToDevice() {
        return bytesToDevice;
    }

    /** Bytes this op's graphs copied back from the device to the host. */
    public long bytesToHost() {
        return bytesToHost;
    }

    /** Bytes copied to the device as TornadoVM's profiler counts them (0 without profiling): a check on {@link #bytesToDevice()}. */
    public long profiledBytesToDevice() {
        return profiledBytesToDevice;
    }

    /** Bytes copied back as TornadoVM's profiler counts them (0 without profiling). */
    public long profiledBytesToHost() {
        return profiledBytesToHost;
    }

    @Override
    public String toString() {
        return String.format("graphs=%d executions=%d kernel=%.3f ms transfers=%.3f ms in=%d B out=%d B",
                graphsBuilt, executions, kernelNanos / 1e6, transferNanos / 1e6, bytesToDevice, bytesToHost);
    }
}
