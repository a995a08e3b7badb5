package io.ionllama.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** {@code ionllama bench step} and {@code bench generate}: run on nano, print their tables, reject bad input. */
class BenchModelCommandsTest {

    private static String capture(int[] code, String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            code[0] = Main.run(args);
        } finally {
            System.setOut(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    @Test
    void stepPrintsEveryStageAndTheRates() {
        int[] code = new int[1];
        String out = capture(code, "bench", "step", "--size", "nano", "--batch-size", "2", "--seq-len", "64",
                "--steps", "1", "--warmup", "0", "--threads", "2");
        assertThat(code[0]).as(out).isZero();
        assertThat(out).contains("batch 2 x 64 bytes").contains("patcher fixed:4 (32 patches)").contains("1 thread")
                .contains("2 threads").contains("backward entropy").contains("optimizer").contains("bytes/s")
                .contains("GFLOP/s").contains("model FLOPs per step");
        for (String stage : io.ionllama.model.IonLlama.STAGES) {
            assertThat(out).contains(stage);
        }
    }

    @Test
    void profileListsTheOpsOfEachThreadCount() {
        int[] code = new int[1];
        String out = capture(code, "bench", "step", "--model", "dense", "--d-model", "32", "--layers", "1", "--heads", "2",
                "--batch-size", "2", "--seq-len", "32", "--steps", "2", "--warmup", "1", "--threads", "2", "--profile");
        assertThat(code[0]).as(out).isZero();
        assertThat(out).contains("profile, 1 thread(s), mean of 2 timed steps").contains("profile, 2 thread(s)")
                .contains("between them");
        // matmuls per shape (rows x in -> out) with their rate; the head (32 -> 256) once forward per step
        assertThat(out.lines().filter(l -> l.startsWith("matmulForward 64x32->256 ")).findFirst().orElseThrow())
                .matches(".*\\s1\\s+[0-9.]+%\\s+[0-9.]+$");
        assertThat(out).contains("attentionDenseForward").contains("adamwTensors");
    }

    @Test
    void generatePrintsIncrementalAndReferenceRows() {
        int[] code = new int[1];
        String out = capture(code, "bench", "generate", "--size", "nano", "--contexts", "16,40", "--reference", "16",
                "--bytes", "8", "--reference-bytes", "2", "--threads", "1");
        assertThat(code[0]).as(out).isZero();
        assertThat(out.lines().filter(l -> l.startsWith("1 ") && l.contains("incremental")).count()).isEqualTo(2);
        assertThat(out.lines().filter(l -> l.startsWith("1 ") && l.contains("re-forward")).count()).isEqualTo(1);
        assertThat(out).contains("first byte (ms)").doesNotContain("2 threads");
    }

    @Test
    void badValuesGiveOneLineAndExitCode2() {
        int[] code = new int[1];
        capture(code, "bench", "step", "--batch-size", "0");
        assertThat(code[0]).isEqualTo(2);
        capture(code, "bench", "step", "--size", "huge");
        assertThat(code[0]).isEqualTo(2);
        capture(code, "bench", "step", "--attention", "sparse");
        assertThat(code[0]).isEqualTo(2);
        capture(code, "bench", "generate", "--contexts", "0");
        assertThat(code[0]).isEqualTo(2);
        capture(code, "bench", "generate", "--reference", "1");
        assertThat(code[0]).isEqualTo(2);
    }
}
