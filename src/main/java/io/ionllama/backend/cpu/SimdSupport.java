package io.ionllama.backend.cpu;

/**
 * Whether the Vector API ({@code jdk.incubator.vector}) is in this JVM. Classes that use it are
 * touched only when it is, so a plain {@code java -jar} (without {@code --add-modules}) still runs,
 * on the scalar units, after one line saying so.
 */
public final class SimdSupport {
    private SimdSupport() {}

    private static final boolean AVAILABLE = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
            && !Boolean.getBoolean("ionllama.noSimd");
    private static volatile boolean noticeShown;

    public static boolean available() {
        return AVAILABLE;
    }

    public static String describe() {
        return AVAILABLE ? "Vector API on" : "Vector API off (scalar kernels; start the JVM with --add-modules jdk.incubator.vector, as scripts/ionllama does)";
    }

    /** Prints the scalar-fallback notice once per process, on standard error. */
    public static void noticeOnce() {
        if (!AVAILABLE && !noticeShown) {
            noticeShown = true;
            System.err.println("ionllama: Vector API not enabled, using scalar kernels (add --add-modules jdk.incubator.vector, or use scripts/ionllama)");
        }
    }
}
