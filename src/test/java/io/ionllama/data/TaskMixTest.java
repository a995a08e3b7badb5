package io.ionllama.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * {@code train --mix-tasks F}: a fraction F of the windows are training task lines, chosen by
 * (seed, step, row) alone, and the rest are the windows the sampler always drew.
 */
class TaskMixTest {

    /** Data of one byte no task line holds: a window without it is a task window. */
    private static final ByteSource TILDES = ByteSource.of("~".repeat(10_000).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    private static final int B = 8, T = 64;

    private static int[] batch(BatchSampler s, long step) {
        int[] x = new int[B * T], y = new int[B * T], w = new int[T + 1];
        s.fill(step, x, y, w);
        int[] both = Arrays.copyOf(x, 2 * B * T);
        System.arraycopy(y, 0, both, B * T, B * T);
        return both;
    }

    private static boolean taskRow(int[] batch, int row) {
        for (int t = 0; t < T; t++) {
            if (batch[row * T + t] == '~') {
                return false;
            }
        }
        return true;
    }

    @Test
    void batchesDependOnlyOnSeedAndStep() {
        BatchSampler a = new BatchSampler(TILDES, 7, B, T, 0.4), b = new BatchSampler(TILDES, 7, B, T, 0.4);
        for (long step = 0; step < 20; step++) {
            batch(b, 100 - step); // a different history must not matter
        }
        for (long step = 0; step < 20; step++) {
            assertThat(batch(b, step)).isEqualTo(batch(a, step));
        }
        assertThat(batch(new BatchSampler(TILDES, 8, B, T, 0.4), 3)).isNotEqualTo(batch(a, 3));
    }

    @Test
    void theMeasuredFractionIsF() {
        for (double f : new double[] {0.1, 0.5, 0.9}) {
            BatchSampler s = new BatchSampler(TILDES, 11, B, T, f);
            int tasks = 0, rows = 0;
            for (long step = 0; step < 2000; step++) {
                int[] x = batch(s, step);
                for (int r = 0; r < B; r++) {
                    tasks += taskRow(x, r) ? 1 : 0;
                    rows++;
                }
            }
            // 16,000 windows: the binomial standard error is at most 0.004.
            assertThat((double) tasks / rows).as("F = %s", f).isCloseTo(f, org.assertj.core.data.Offset.offset(0.02));
        }
    }

    @Test
    void withoutMixingAndOutsideTaskWindowsTheBatchesAreUnchanged() {
        ByteSource text = ByteSource.of(EmbeddedCorpus.generate(1, 100_000));
        BatchSampler plain = new BatchSampler(text, 5, B, T), zero = new BatchSampler(text, 5, B, T, 0),
                mixed = new BatchSampler(text, 5, B, T, 0.5);
        BatchSampler mixedTildes = new BatchSampler(TILDES, 5, B, T, 0.5);
        for (long step = 0; step < 50; step++) {
            int[] p = batch(plain, step), m = batch(mixed, step), which = batch(mixedTildes, step);
            assertThat(batch(zero, step)).isEqualTo(p);
            for (int r = 0; r < B; r++) {
                if (!taskRow(which, r)) {
                    assertThat(Arrays.copyOfRange(m, r * T, (r + 1) * T)).isEqualTo(Arrays.copyOfRange(p, r * T, (r + 1) * T));
                }
            }
        }
    }

    /** Every whole line of every task window is a right training task line: no held-out word, no held-out pair. */
    @Test
    void mixedLinesAreTrainingTaskLinesOnly() {
        BatchSampler s = new BatchSampler(TILDES, 3, B, 256, 0.5);
        int[] x = new int[B * 256], y = new int[B * 256], w = new int[257];
        int lines = 0;
        int[] kinds = new int[Tasks.Kind.values().length];
        for (long step = 0; step < 300; step++) {
            s.fill(step, x, y, w);
            for (int r = 0; r < B; r++) {
                StringBuilder text = new StringBuilder();
                for (int t = 0; t < 256; t++) {
                    text.append((char) x[r * 256 + t]);
                }
                if (text.indexOf("~") >= 0) {
                    continue;
                }
                String[] parts = text.toString().split("\n", -1);
                // The first and last pieces may be cut by the window's edges.
                for (int i = 1; i < parts.length - 1; i++) {
                    if (!parts[i].isEmpty()) {
                        Tasks.Kind k = TasksTest.checkTaskLine(parts[i]);
                        assertThat(k).as("a task line: %s", parts[i]).isNotNull();
                        kinds[k.ordinal()]++;
                        lines++;
                    }
                }
            }
        }
        assertThat(lines).isGreaterThan(10_000);
        assertThat(Arrays.stream(kinds).min().getAsInt()).isGreaterThan(lines / 7 / 2);
    }

    @Test
    void aFractionOutsideZeroToOneIsRefused() {
        for (double f : new double[] {-0.1, 1, 1.5, Double.NaN}) {
            assertThatThrownBy(() -> new BatchSampler(TILDES, 1, B, T, f)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("--mix-tasks");
        }
    }
}
