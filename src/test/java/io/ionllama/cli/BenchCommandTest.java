package io.ionllama.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** {@code ionllama bench matmul}: runs on a tiny problem, prints one row per product, rejects bad input. */
class BenchCommandTest {

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
    void matmulPrintsATable() {
        int[] code = new int[1];
        String out = capture(code, "bench", "matmul", "--rows", "8", "--repeats", "1", "--threads", "2");
        assertThat(code[0]).as(out).isZero();
        assertThat(out).contains("size tiny (d=256), rows 8").contains("2 threads").contains("8x1024->256")
                .contains("forward").contains("dW+db").contains("mean");
        assertThat(out.lines().filter(l -> l.contains(" dx ")).count()).isEqualTo(5);
    }

    @Test
    void helpShowsDefaults() {
        int[] code = new int[1];
        String out = capture(code, "bench", "matmul", "--help");
        assertThat(code[0]).isZero();
        assertThat(out).contains("--size").contains("Default: tiny").contains("Default: 4096");
    }

    @Test
    void rejectsZeroThreads() {
        int[] code = new int[1];
        capture(code, "bench", "matmul", "--threads", "0");
        assertThat(code[0]).isEqualTo(2);
    }
}
