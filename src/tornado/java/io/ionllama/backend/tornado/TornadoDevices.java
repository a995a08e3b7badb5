package io.ionllama.backend.tornado;

import java.util.ArrayList;
import java.util.List;
import uk.ac.manchester.tornado.api.TornadoBackend;
import uk.ac.manchester.tornado.api.TornadoRuntime;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.runtime.TornadoRuntimeProvider;

/**
 * The TornadoVM devices this JVM can see, numbered the way {@code --device N} and
 * {@code -Dionllama.device=N} count them: every device of TornadoVM backend (driver) 0, then every
 * device of backend 1, and so on. {@code ionllama devices} prints this numbering next to
 * TornadoVM's own {@code backend:device} pair.
 *
 * <p>This class touches TornadoVM's runtime; only call it after {@link TornadoBackend#unavailableReason()}
 * returned null, or inside a try that catches {@link LinkageError}.
 */
final class TornadoDevices {
    private TornadoDevices() {}

    /** The system property that picks a device when {@code --device} is not given. */
    static final String DEVICE_PROPERTY = "ionllama.device";

    /** One visible device: its flat index, TornadoVM's backend and device indexes, and the device. */
    record Entry(int index, int backend, int device, TornadoDevice handle, String backendName) {
        /** The device's name as its driver reports it. */
        String name() {
            return handle.getPhysicalDevice().getDeviceName().strip();
        }

        /** Most threads one work-group may have on this device (0 when the driver does not say). */
        long maxWorkGroupThreads() {
            return handle.getPhysicalDevice().getMaxThreadsPerBlock();
        }

        String line() {
            long mem = handle.getMaxGlobalMemory();
            return String.format("tornado  device %d (tornado %d:%d)  %s  %s  %s  global memory %s, max buffer %s, local memory %s",
                    index, backend, device, backendName, handle.getDeviceType(),
                    name(), gib(mem), gib(handle.getMaxAllocMemory()), kib(handle.getDeviceLocalMemorySize()));
        }
    }

    static List<Entry> all() {
        TornadoRuntime rt = TornadoRuntimeProvider.getTornadoRuntime();
        List<Entry> list = new ArrayList<>();
        for (int b = 0; b < rt.getNumBackends(); b++) {
            TornadoBackend backend = rt.getBackend(b);
            for (int d = 0; d < backend.getNumDevices(); d++) {
                list.add(new Entry(list.size(), b, d, backend.getDevice(d), String.valueOf(backend.getBackendType())));
            }
        }
        return list;
    }

    /**
     * The device for index {@code requested}: a flat index from {@link #all()}; a negative value
     * means {@code -Dionllama.device} when set, else TornadoVM's default device (which
     * {@code -Dtornado.backend=B -Dtornado.device=D} choose; 0:0 otherwise).
     */
    static Entry select(int requested) {
        List<Entry> list = all();
        if (list.isEmpty()) {
            throw new IllegalStateException("TornadoVM found no device (check the OpenCL/CUDA driver: tornado --devices)");
        }
        int index = requested;
        if (index < 0) {
            String prop = System.getProperty(DEVICE_PROPERTY);
            if (prop != null && !prop.isBlank()) {
                try {
                    index = Integer.parseInt(prop.strip());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("-D" + DEVICE_PROPERTY + "=" + prop + " is not a device number (see: ionllama devices)");
                }
            }
        }
        if (index < 0) {
            TornadoDevice dflt = TornadoRuntimeProvider.getTornadoRuntime().getDefaultDevice();
            for (Entry e : list) {
                if (e.handle().equals(dflt)) {
                    return e;
                }
            }
            return list.get(0);
        }
        if (index >= list.size()) {
            throw new IllegalArgumentException("device " + index + " does not exist: TornadoVM sees " + list.size()
                    + " device(s), numbered 0.." + (list.size() - 1) + " (see: ionllama devices)");
        }
        return list.get(index);
    }

    /** Lines for {@code ionllama devices}: one per device, the default one marked. */
    static List<String> lines() {
        List<String> out = new ArrayList<>();
        TornadoDevice dflt = TornadoRuntimeProvider.getTornadoRuntime().getDefaultDevice();
        for (Entry e : all()) {
            out.add(e.line() + (e.handle().equals(dflt) ? "  (default)" : ""));
        }
        return out;
    }

    static String kib(long bytes) {
        return (bytes / 1024) + " KiB";
    }

    static String gib(long bytes) {
        return String.format("%.1f GiB", bytes / (1024.0 * 1024 * 1024));
    }
}
