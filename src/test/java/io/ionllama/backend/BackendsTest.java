package io.ionllama.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ionllama.backend.cpu.CpuBackend;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import io.ionllama.testing.Tensors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Backend selection in whatever JVM runs the suite. Without TornadoVM (the default build):
 * {@code --backend tornado} fails with one clear line and {@code auto} falls back to the CPU,
 * saying so; the device test is skipped with the reason, so the report shows it. Under TornadoVM
 * (scripts/test with TORNADOVM_HOME set) it is the other way round.
 */
class BackendsTest {

    static final String WHY = Backends.tornadoUnavailableReason();

    static void assumeNoTornado() {
        Assumptions.assumeTrue(WHY != null, "TornadoVM is present in this JVM; this test covers its absence");
    }

    @Test
    void reasonIsOneLineWhenTornadoIsAbsent() {
        assumeNoTornado();
        assertThat(WHY).isNotBlank().doesNotContain("\n").doesNotContain("\tat ");
    }

    @Test
    void tornadoFailsWithOneClearLineWhenAbsent() {
        assumeNoTornado();
        assertThatThrownBy(() -> Backends.open("tornado", 2, -1))
                .isInstanceOf(Backends.UnavailableException.class)
                .satisfies(e -> assertThat(e.getMessage()).startsWith("--backend tornado: ").doesNotContain("\n"));
        assertThat(Backends.tornadoDevices()).isEmpty();
    }

    /**
     * {@code auto} falls back to the CPU; it says so in one line when the jar has the TornadoVM
     * backend but this JVM cannot run it, and stays silent when the jar was built without it.
     */
    @Test
    void autoFallsBackToCpuAndSaysSoWhenTheBackendIsInTheJar() {
        assumeNoTornado();
        ByteArrayOutputStream notes = new ByteArrayOutputStream();
        try (Backend b = Backends.open("auto", 2, -1, new PrintStream(notes, true, StandardCharsets.UTF_8))) {
            assertThat(b.name()).isEqualTo("cpu");
        }
        String said = notes.toString(StandardCharsets.UTF_8);
        if (WHY.equals(Backends.NOT_BUILT)) {
            assertThat(said).isEmpty();
        } else {
            assertThat(said.strip().lines()).hasSize(1);
            assertThat(said).startsWith("ionllama: using the cpu backend (tornado: ");
        }
        try (Backend b = Backends.open("auto", 1, -1)) {
            assertThat(b).isInstanceOf(CpuBackend.class);
        }
    }

    @Test
    void unknownBackendIsOneLine() {
        assertThatThrownBy(() -> Backends.open("gpu", 1, -1))
                .isInstanceOf(Backends.UnavailableException.class)
                .hasMessageContaining("expected auto, cpu or tornado");
    }

    /** Runs only under TornadoVM; in the default build it is reported as skipped, with the reason. */
    @Test
    void tornadoBackendRunsAMatmulOnTheDevice() {
        if (WHY != null) {
            System.out.println("BackendsTest: skipping the TornadoVM device test: " + WHY);
        }
        Assumptions.assumeTrue(WHY == null,
                "TornadoVM runtime not present: run scripts/test with TORNADOVM_HOME set (" + WHY + ")");
        assertThat(Backends.tornadoDevices()).isNotEmpty();
        SplittableRandom r = new SplittableRandom(5);
        int rows = 6, in = 10, out = 7;
        float[] x = Tensors.uniform(r, rows * in, -1, 1), w = Tensors.uniform(r, out * in, -1, 1);
        float[] b = Tensors.uniform(r, out, -1, 1);
        float[] yd = new float[rows * out], yc = new float[rows * out];
        try (Backend dev = Backends.open("tornado", 1, -1); Backend cpu = Backends.open("cpu", 1, -1)) {
            assertThat(dev.name()).isEqualTo("tornado");
            dev.matmulForward(yd, 0, x, 0, w, 0, b, 0, rows, in, out);
            cpu.matmulForward(yc, 0, x, 0, w, 0, b, 0, rows, in, out);
        }
        for (int i = 0; i < yd.length; i++) {
            assertThat((double) yd[i]).as("y[%d]", i).isCloseTo(yc[i], org.assertj.core.data.Offset.offset(1e-5));
        }
        try (Backend auto = Backends.open("auto", 1, -1)) {
            assertThat(auto.name()).isEqualTo("tornado");
        }
    }
}
