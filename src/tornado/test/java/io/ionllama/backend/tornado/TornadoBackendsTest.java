package io.ionllama.backend.tornado;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ionllama.backend.Backend;
import io.ionllama.backend.Backends;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Choosing the TornadoVM backend and its device, and what {@code ionllama devices} shows, under TornadoVM. */
class TornadoBackendsTest {

    @BeforeEach
    void needsTornado() {
        Assumptions.assumeTrue(DeviceChecks.WHY == null, DeviceChecks.SKIP + " (" + DeviceChecks.WHY + ")");
    }

    @Test
    void autoAndTornadoPickTheDeviceBackendSilently() {
        ByteArrayOutputStream notes = new ByteArrayOutputStream();
        try (Backend b = Backends.open("auto", 1, -1, new PrintStream(notes, true, StandardCharsets.UTF_8))) {
            assertThat(b).isInstanceOf(TornadoBackend.class);
            assertThat(b.describe()).contains("tornado backend on device 0").contains("every training op on the device")
                    .contains("cpu fallback for empty calls");
        }
        assertThat(notes.toString(StandardCharsets.UTF_8)).isEmpty();
        try (Backend b = Backends.open("tornado", 1, 0)) {
            assertThat(b.name()).isEqualTo("tornado");
        }
    }

    @Test
    void aMissingDeviceIsOneLine() {
        assertThatThrownBy(() -> Backends.open("tornado", 1, 99))
                .isInstanceOf(Backends.UnavailableException.class)
                .satisfies(e -> assertThat(e.getMessage()).startsWith("--backend tornado: device 99 does not exist")
                        .doesNotContain("\n"));
    }

    @Test
    void theDevicePropertyChoosesWhenNoDeviceIsGiven() {
        String keep = System.getProperty(TornadoDevices.DEVICE_PROPERTY);
        try {
            System.setProperty(TornadoDevices.DEVICE_PROPERTY, "0");
            try (TornadoBackend b = new TornadoBackend(-1, 1)) {
                assertThat(b.describe()).contains("device 0 ");
            }
            System.setProperty(TornadoDevices.DEVICE_PROPERTY, "7");
            assertThatThrownBy(() -> new TornadoBackend(-1, 1)).hasMessageContaining("device 7 does not exist");
            System.setProperty(TornadoDevices.DEVICE_PROPERTY, "gpu");
            assertThatThrownBy(() -> new TornadoBackend(-1, 1)).hasMessageContaining("-Dionllama.device=gpu is not a device number");
        } finally {
            if (keep == null) {
                System.clearProperty(TornadoDevices.DEVICE_PROPERTY);
            } else {
                System.setProperty(TornadoDevices.DEVICE_PROPERTY, keep);
            }
        }
    }

    @Test
    void devicesListsEveryTornadoDeviceWithItsNumber() {
        assertThat(Backends.tornadoDevices()).isNotEmpty().allSatisfy(line -> assertThat(line).startsWith("tornado  device "));
        assertThat(Backends.tornadoDevices().get(0)).contains("device 0 (tornado 0:0)").contains("global memory");
        assertThat(Backends.tornadoDevices()).anySatisfy(line -> assertThat(line).endsWith("(default)"));
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            assertThat(io.ionllama.cli.Main.run("devices")).isZero();
        } finally {
            System.setOut(old);
        }
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("tornado  available").contains("tornado  device 0 ");
    }

    /** Every op has a device schedule; a call with nothing to do runs on the internal CPU backend and launches nothing. */
    @Test
    void emptyCallsLaunchNothing() {
        try (TornadoBackend b = new TornadoBackend(-1, 1)) {
            float[] x = {1, -2, 3}, y = new float[3];
            b.geluForward(y, 0, x, 0, 0);
            assertThat(y).containsOnly(0f);
            assertThat(b.stats()).isEmpty();
            assertThat(b.bytesToDevice()).isZero();
            b.geluForward(y, 0, x, 0, 3);
            assertThat(b.stats()).isNotEmpty();
        }
    }
}
