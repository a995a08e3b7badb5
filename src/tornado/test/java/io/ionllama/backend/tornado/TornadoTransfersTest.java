package io.ionllama.backend.tornado;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.data.ByteSource;
import io.ionllama.data.EmbeddedCorpus;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import io.ionllama.train.TrainConfig;
import io.ionllama.train.Trainer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * The bytes the tornado backend moves between host and device: counted per op from the arrays
 * each graph transfers ({@link DeviceGraph#bytes}), checked against TornadoVM's own profiler
 * (device to host: equal; host to device: the profiler counts a buffer once per transfer event,
 * so it is an upper bound), and reported per training step.
 */
class TornadoTransfersTest {

    @BeforeEach
    void needsTornado() {
        Assumptions.assumeTrue(DeviceChecks.WHY == null, DeviceChecks.SKIP + " (" + DeviceChecks.WHY + ")");
    }

    /** Bytes per op over one Trainer step (the step after a first one, which compiles and sends first-execution arrays). */
    static Map<String, long[]> stepBytes(TornadoBackend device, ModelConfig c, int batch, int seqLen) {
        IonLlama m = new IonLlama(c, device, Patcher.parse("entropy", c.maxPatch(), c.targetPatch()), false);
        m.init(1);
        ByteSource data = ByteSource.of(EmbeddedCorpus.generate(EmbeddedCorpus.TRAIN_SEED, 100_000));
        Trainer t = new Trainer(m, data, new TrainConfig(batch, seqLen, 1, 3e-3f, 3e-4f, 1, 10, "adamw", 0.1f, 1f, 7, 100));
        t.step();
        Map<String, long[]> before = snapshot(device);
        long in0 = device.bytesToDevice(), out0 = device.bytesToHost();
        t.step();
        Map<String, long[]> after = snapshot(device), delta = new HashMap<>();
        long sumIn = 0, sumOut = 0;
        for (var e : after.entrySet()) {
            long[] b = before.getOrDefault(e.getKey(), new long[3]), a = e.getValue();
            long[] d = {a[0] - b[0], a[1] - b[1], a[2] - b[2]};
            delta.put(e.getKey(), d);
            sumIn += d[0];
            sumOut += d[1];
        }
        assertThat(device.bytesToDevice() - in0).as("backend total = sum over ops").isEqualTo(sumIn);
        assertThat(device.bytesToHost() - out0).isEqualTo(sumOut);
        return delta;
    }

    static Map<String, long[]> snapshot(TornadoBackend device) {
        Map<String, long[]> m = new HashMap<>();
        device.stats().forEach((op, s) -> m.put(op, new long[] {s.bytesToDevice(), s.bytesToHost(), s.executions()}));
        return m;
    }

    static String report(Map<String, long[]> delta) {
        List<Map.Entry<String, long[]>> rows = new ArrayList<>(delta.entrySet());
        rows.sort((x, y) -> Long.compare(y.getValue()[0] + y.getValue()[1], x.getValue()[0] + x.getValue()[1]));
        StringBuilder sb = new StringBuilder();
        long in = 0, out = 0, calls = 0;
        for (var e : rows) {
            long[] d = e.getValue();
            in += d[0];
            out += d[1];
            calls += d[2];
            sb.append(String.format("  %-26s %6d calls  in %9.3f MB  out %9.3f MB%n", e.getKey(), d[2], d[0] / 1e6, d[1] / 1e6));
        }
        sb.append(String.format("  %-26s %6d calls  in %9.3f MB  out %9.3f MB  (%d B in, %d B out)%n", "total", calls, in / 1e6,
                out / 1e6, in, out));
        return sb.toString();
    }

    @Test
    void countedBytesAgreeWithTornadoVmsProfiler() {
        // Per-op graphs only (residency off): the profiler sees each op's own transfers.
        try (TornadoBackend device = new TornadoBackend(-1, 2, true, 0, false)) {
            ModelConfig c = new ModelConfig("nano", 16, 16, 2, 2, 1, 1, 8, 1, new int[] {3, 4}, 13, 24, 24, 2, 6, 3f).validate();
            Map<String, long[]> delta = stepBytes(device, c, 2, 32);
            System.out.print("TornadoTransfersTest, small model, 2 x 32 bytes, one step:\n" + report(delta));
            for (var e : device.stats().entrySet()) {
                OpStats s = e.getValue();
                assertThat(s.bytesToHost()).as("%s bytes to the host", e.getKey()).isEqualTo(s.profiledBytesToHost());
                // TornadoVM's copy-in figure counts a buffer once per event its transfer raised (and
                // the kernel-argument frame per launch), so it only bounds ours from above.
                assertThat(s.bytesToDevice()).as("%s bytes to the device", e.getKey())
                        .isPositive().isLessThanOrEqualTo(s.profiledBytesToDevice());
            }
            long total = delta.values().stream().mapToLong(d -> d[0] + d[1]).sum();
            assertThat(total).isPositive();
        }
    }

    /** The figure for bench/RESULTS.md: nano at batch 8 x 256 (slow on PoCL; opt-in). */
    @Test
    @EnabledIfSystemProperty(named = "ionllama.slow", matches = "true")
    void nanoStepAtBatch8x256() {
        for (boolean resident : new boolean[] {false, true}) {
            try (TornadoBackend device = new TornadoBackend(-1, 2, false, 0, resident)) {
                Map<String, long[]> delta = stepBytes(device, ModelConfig.of("nano"), 8, 256);
                System.out.print("TornadoTransfersTest, nano, 8 x 256 bytes, one step, " + (resident ? "resident" : "per-op")
                        + ":\n" + report(delta));
            }
        }
    }
}
