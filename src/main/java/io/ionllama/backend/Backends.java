package io.ionllama.backend;

import io.ionllama.backend.cpu.CpuBackend;
import java.lang.reflect.InvocationTargetException;

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

    /**
     * Why the TornadoVM backend cannot run in this JVM, or {@code null} when it can.
     */
    public static String tornadoUnavailableReason() {
        Class<?> cls;
        try {
            cls = Class.forName(TORNADO_CLASS);
        } catch (ClassNotFoundException | LinkageError e) {
            return "this ionllama.jar was built without the TornadoVM backend (build with TORNADOVM_HOME set or -Ptornado)";
        }
        try {
            Object reason = cls.getMethod("unavailableReason").invoke(null);
            return (String) reason;
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            return "no TornadoVM runtime in this JVM (" + cause.getClass().getSimpleName()
                    + "); run under TornadoVM: `tornado -jar target/ionllama.jar ...` or scripts/ionllama with TORNADOVM_HOME set";
        } catch (ReflectiveOperationException | LinkageError e) {
            return "no TornadoVM runtime in this JVM; run under TornadoVM: `tornado -jar target/ionllama.jar ...` or scripts/ionllama with TORNADOVM_HOME set";
        }
    }

    /**
     * Opens a backend. {@code auto} picks TornadoVM when it is usable, else the CPU.
     *
     * @param device TornadoVM device index (ignored by the CPU backend)
     */
    public static Backend open(String kind, int threads, int device) {
        return switch (kind) {
            case "cpu" -> new CpuBackend(threads);
            case "tornado" -> {
                String why = tornadoUnavailableReason();
                if (why != null) {
                    throw new UnavailableException("--backend tornado: " + why);
                }
                yield openTornado(device);
            }
            case "auto" -> tornadoUnavailableReason() == null ? openTornado(device) : new CpuBackend(threads);
            default -> throw new UnavailableException("unknown backend '" + kind + "' (expected auto, cpu or tornado)");
        };
    }

    private static Backend openTornado(int device) {
        try {
            return (Backend) Class.forName(TORNADO_CLASS).getConstructor(int.class).newInstance(device);
        } catch (InvocationTargetException e) {
            throw new UnavailableException("--backend tornado: " + e.getCause().getMessage());
        } catch (ReflectiveOperationException e) {
            throw new UnavailableException("--backend tornado: " + e);
        }
    }
}
