package io.ionllama.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A JVM started without {@code --add-modules jdk.incubator.vector} (plain {@code java -jar}) still
 * runs the CPU backend's matmul, on the scalar units, after one notice: nothing touches
 * {@link SimdMatmul}. Runs in a child JVM because this one has the module.
 */
class WithoutVectorApiTest {

    /** The child: one small forward through a 2-thread backend. */
    public static void main(String[] args) {
        try (CpuBackend cpu = new CpuBackend(2)) {
            float[] y = new float[4];
            cpu.matmulForward(y, 0, new float[] {1, 2, 3, 4}, 0, new float[] {1, 1, 1, -1}, 0, new float[] {10, 20}, 0, 2, 2, 2);
            System.out.println("simd=" + cpu.simdMatmul() + " y=" + y[0] + "," + y[1] + "," + y[2] + "," + y[3]);
        }
    }

    @Test
    void scalarFallbackRunsWithoutTheModule() throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Xshare:auto", "-cp", System.getProperty("java.class.path"),
                WithoutVectorApiTest.class.getName()).redirectErrorStream(true).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("child JVM finished").isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).contains("Vector API not enabled").contains("simd=false y=13.0,19.0,17.0,19.0");
    }
}
