package io.ionllama.backend.tornado;

import io.ionllama.backend.cpu.CpuBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInfo;

/**
 * What the device-vs-CPU test classes share: one TornadoVM backend (profiler on, so a test can
 * assert that its ops ran on the device) and one CPU backend per class, and a skip with the reason
 * on every test where TornadoVM is absent, so that CI shows why they did not run.
 */
abstract class DeviceTest {

    static TornadoBackend device;
    static CpuBackend cpu;

    @BeforeAll
    static void open(TestInfo info) {
        String name = info.getDisplayName();
        if (DeviceChecks.WHY != null) {
            System.out.println(name + ": every test skipped: " + DeviceChecks.WHY);
            return;
        }
        device = new TornadoBackend(-1, 2, true, 0);
        cpu = new CpuBackend(2);
        System.out.println(name + " on: " + device.describe());
    }

    /** Per test, so that each one is reported as skipped (with the reason) where TornadoVM is absent. */
    @BeforeEach
    void needsTornado() {
        Assumptions.assumeTrue(DeviceChecks.WHY == null, DeviceChecks.SKIP + " (" + DeviceChecks.WHY + ")");
    }

    @AfterAll
    static void close(TestInfo info) {
        if (device != null) {
            System.out.println(info.getDisplayName() + " device stats: " + device.stats());
            device.close();
            cpu.close();
            device = null;
            cpu = null;
        }
    }
}
