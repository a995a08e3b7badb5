package io.ionllama.bench;

import org.bytedeco.openblas.global.openblas_full;

/**
 * Prints which OpenBLAS the benchmark measures: version/build configuration, the CPU kernel it
 * picked (set OPENBLAS_CORETYPE to override), and its thread count.
 */
public final class OpenBlasInfo {
    private OpenBlasInfo() {}

    public static String describe() {
        return "OpenBLAS config: " + openblas_full.openblas_get_config().getString()
                + "; core: " + openblas_full.openblas_get_corename().getString()
                + "; OPENBLAS_CORETYPE=" + System.getenv().getOrDefault("OPENBLAS_CORETYPE", "(unset)")
                + "; max threads: " + openblas_full.openblas_get_num_threads();
    }

    public static void main(String[] args) {
        System.out.println(describe());
    }
}
