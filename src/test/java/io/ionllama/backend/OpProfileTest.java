package io.ionllama.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ionllama.backend.cpu.CpuBackend;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link OpProfile}: the profiled backend computes what the backend does, counts outermost calls, passes errors through. */
class OpProfileTest {

    @Test
    void countsEachOpAndComputesTheSame() {
        OpProfile profile = new OpProfile();
        try (CpuBackend cpu = new CpuBackend(1)) {
            Backend b = profile.wrap(cpu);
            float[] x = {1, 2, 3, 4}, y = new float[4];
            b.copy(y, 0, x, 0, 4);
            b.accumulate(y, 0, x, 0, 4);
            b.accumulate(y, 0, x, 0, 4);
            assertThat(y).containsExactly(3, 6, 9, 12);
            assertThat(b.name()).isEqualTo("cpu");
            List<OpProfile.Entry> e = profile.entries();
            assertThat(e).extracting(OpProfile.Entry::op).containsExactlyInAnyOrder("copy", "accumulate");
            assertThat(e).filteredOn(x1 -> x1.op().equals("accumulate")).singleElement()
                    .extracting(OpProfile.Entry::calls).isEqualTo(2L);
            assertThat(profile.totalNanos()).isPositive();
            profile.reset();
            assertThat(profile.entries()).isEmpty();
        }
    }

    @Test
    void anOpsOwnErrorReachesTheCaller() {
        OpProfile profile = new OpProfile();
        try (CpuBackend cpu = new CpuBackend(1)) {
            Backend b = profile.wrap(cpu);
            assertThatThrownBy(() -> b.copy(new float[2], 0, new float[4], 0, 4))
                    .isInstanceOf(ArrayIndexOutOfBoundsException.class);
        }
    }
}
