package io.ionllama.backend;

import io.ionllama.backend.cpu.CpuBackend;
import java.lang.reflect.InvocationTargetException;
import java.util.List;

/**
 * Picks a backend by name: {@code cpu}, {@code tornado} or {@code auto}.
 *
 * <p>The TornadoVM backend is compiled only by the {@code tornado} Maven profile and needs a
 * TornadoVM runtime at run time, so it is found by reflection: a jar built without it, or a JVM
 * started without TornadoVM, simply reports it as unavailable.
 */
public final class Backends {
    private Backends() {}

    static final String TORNADO_CLASS = "io.ionllama.backend.tornado.TornadoBackend";

    /** Thrown with a one-line, user-facing message when a backend cannot be had. */
    public static final class UnavailableException extends RuntimeException {
        public UnavailableException(String message) {
            super(message);
        }
    }

    public static int defaultThreads() {
        return Runtime.getRuntime().availableProcessors();
    }

    static final String NOT_BUILT =
            "this ionllama.jar was built without the TornadoVM backend (build it with TORNADOVM_HOME set, or mvn -Ptornado package)";
    static final String NO_RUNTIME =
            "no TornadoVM runtime in this JVM; run under TornadoVM: `tornado -jar target/ionllama.jar ...`, or scripts/ionllama with TORNADOVM_HOME set";

    /**
     * Why the TornadoVM backend cannot run in this JVM (one line), or {@code null} when it can.
     * Never throws.
     */
    public static String tornadoUnavailableReason() {
        Class<?> cls;
        try {
            cls = Class.forName(TORNADO_CLASS);
        } catch (ClassNotFoundException e) {
            return NOT_BUILT;
        } catch (LinkageError e) {
            // The class is in the jar but cannot link: TornadoVM's API is missing from this JVM.
            return NO_RUNTIME;
        }
        try {
            return (String) cls.getMethod("unavailableReason").invoke(null);
        } catch (InvocationTargetException e) {
            return NO_RUNTIME + " (" + e.getCause().getClass().getSimpleName() + ")";
        } catch (ReflectiveOperationException | LinkageError e) {
            return NO_RUNTIME;
        }
    }

    /**
     * One line per TornadoVM device (numbered as {@code --device N} counts them), or an empty list
     * when the TornadoVM backend is unavailable.
     */
    @SuppressWarnings("unchecked")
    public static List<String> tornadoDevices() {
        if (tornadoUnavailableReason() != null) {
            return List.of();
        }
        try {
            return (List<String>) Class.forName(TORNADO_CLASS).getMethod("deviceLines").invoke(null);
        } catch (InvocationTargetException e) {
            return List.of("tornado  devices could not be listed: " + e.getCause());
        } catch (ReflectiveOperationException | LinkageError e) {
            return List.of("tornado  devices could not be listed: " + e);
        }
    }

    /**
     * Opens a backend. {@code auto} picks TornadoVM when it is usable, else the CPU.
     *
     * @param threads CPU threads (for the TornadoVM backend: those of the ops it runs on the CPU)
     * @param device  TornadoVM device, numbered as {@code ionllama devices} lists them; negative:
     *                {@code -Dionllama.device}, else TornadoVM's default device (ignored by the CPU backend)
     */
    public static Backend open(String kind, int threads, int device) {
        return switch (kind) {
            case "cpu" -> new CpuBackend(threads);
            case "tornado" -> {
                String why = tornadoUnavailableReason();
                if (why != null) {
                    throw new UnavailableException("--backend tornado: " + why);
                }
                yield openTornado(device, threads);
            }
            case "auto" -> tornadoUnavailableReason() == null ? openTornado(device, threads) : new CpuBackend(threads);
            default -> throw new UnavailableException("unknown backend '" + kind + "' (expected auto, cpu or tornado)");
        };
    }

    /**
     * Like {@link #open}, and when {@code auto} falls back to the CPU although this jar has the
     * TornadoVM backend, prints one line saying why on {@code notes} (commands pass
     * {@code System.err}). A jar built without it falls back silently: the CPU is all it has.
     */
    public static Backend open(String kind, int threads, int device, java.io.PrintStream notes) {
        if ("auto".equals(kind)) {
            String why = tornadoUnavailableReason();
            if (why != null) {
                if (!NOT_BUILT.equals(why)) {
                    notes.println("ionllama: using the cpu backend (tornado: " + why + ")");
                }
                return new CpuBackend(threads);
            }
        }
        return open(kind, threads, device);
    }

    private static Backend openTornado(int device, int threads) {
        try {
            // The CPU backend inside runs the ops that have no device version yet.
            return (Backend) Class.forName(TORNADO_CLASS).getConstructor(int.class, int.class).newInstance(device, threads);
        } catch (InvocationTargetException e) {
            throw new UnavailableException("--backend tornado: " + e.getCause().getMessage());
        } catch (ReflectiveOperationException e) {
            throw new UnavailableException("--backend tornado: " + e);
        }
    }
}
