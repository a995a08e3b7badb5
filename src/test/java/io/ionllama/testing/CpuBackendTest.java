package io.ionllama.testing;

import io.ionllama.backend.cpu.CpuBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** A test class that shares one two-thread CPU backend across its tests, opened before and closed after them. */
public abstract class CpuBackendTest {

    protected static CpuBackend cpu;

    @BeforeAll
    static void openCpu() {
        cpu = new CpuBackend(2);
    }

    @AfterAll
    static void closeCpu() {
        cpu.close();
    }
}
