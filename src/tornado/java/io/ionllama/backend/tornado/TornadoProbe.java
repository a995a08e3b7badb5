package io.ionllama.backend.tornado;

/**
 * Whether this JVM can run the TornadoVM backend, and why not, asked once and remembered. Like
 * {@link TornadoBackend}, which {@link io.ionllama.backend.Backends} loads through reflection, it
 * names no TornadoVM type: it must load, and answer, in a JVM without TornadoVM.
 */
final class TornadoProbe {

    private static volatile String cachedReason;
    private static volatile boolean probed;

    private TornadoProbe() {}

    /**
     * Null when this JVM runs TornadoVM and it sees a device; otherwise why not, in one line.
     * Never throws: without TornadoVM's classes (a plain {@code java -jar}) it says so.
     */
    static String unavailableReason() {
        if (probed) {
            return cachedReason;
        }
        synchronized (TornadoProbe.class) {
            if (!probed) {
                cachedReason = probe();
                probed = true;
            }
            return cachedReason;
        }
    }

    private static String probe() {
        String launch = "run under TornadoVM: `tornado -jar target/ionllama.jar ...`, or scripts/ionllama with TORNADOVM_HOME set";
        try {
            Class.forName("uk.ac.manchester.tornado.api.TornadoExecutionPlan", false, TornadoProbe.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            return "no TornadoVM runtime in this JVM; " + launch;
        }
        if (System.getProperty("tornado.load.runtime.implementation") == null) {
            // TornadoVM's argfile sets this; without it the API is present but its runtime is not.
            return "this JVM was not started through TornadoVM (its API is here, its runtime is not); " + launch;
        }
        try {
            return TornadoSession.probe();
        } catch (LinkageError | RuntimeException e) {
            // Launched through TornadoVM, but its runtime failed to start: usually no OpenCL/CUDA
            // platform or driver. Name the innermost cause in one line.
            Throwable root = e;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            String text = root.getMessage() == null ? "" : root.getMessage().replaceAll("\u001B\\[[0-9;]*m", "");
            String msg = text.isBlank() ? "" : ": " + text.lines().findFirst().orElse("").strip();
            return "TornadoVM's runtime failed to start (" + root.getClass().getSimpleName() + msg
                    + "); check its driver and devices with `tornado --devices`";
        }
    }
}
