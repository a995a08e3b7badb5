package io.ionllama.backend.tornado;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.Backend;
import io.ionllama.kernels.Patching;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The patch boundaries on the TornadoVM device against the CPU backend, exactly: the decision,
 * the sequence starts and counts, the rows and pi are integers, and θ is one of the scores
 * (selected by comparisons), so all of them must be equal, θ to the bit. Every mode, with and
 * without calibration and the warm-up, per-op with sizes changing between executions and inside
 * resident steps.
 */
class TornadoPatchTest extends DeviceTest {

    static final int MAX_PATCH = 9, FIXED = 4;

    /** One call's inputs and outputs, sized for B x T (outputs pre-filled with junk the op must overwrite where it writes). */
    static final class Case {
        final int B, T, N;
        final int[] ends, rows, pi, start, count, bytes;
        final float[] h, state;

        Case(SplittableRandom r, int B, int T, boolean ties) {
            this.B = B;
            this.T = T;
            this.N = B * T;
            ends = filled(N, -5);
            rows = filled(N, -5);
            pi = filled(N, -5);
            start = filled(B + 1, -5);
            count = filled(B + 1, -5);
            bytes = new int[N];
            h = new float[N];
            for (int i = 0; i < N; i++) {
                int c = r.nextInt(6);
                bytes[i] = c == 0 ? ' ' : c == 1 ? r.nextInt(256) : 'a' + r.nextInt(26);
                h[i] = ties ? 0.5f * r.nextInt(8) : (float) (r.nextDouble() * 5.5);
            }
            state = new float[] {1.75f};
        }

        Case(Case o) {
            B = o.B;
            T = o.T;
            N = o.N;
            ends = o.ends.clone();
            rows = o.rows.clone();
            pi = o.pi.clone();
            start = o.start.clone();
            count = o.count.clone();
            bytes = o.bytes.clone();
            h = o.h.clone();
            state = o.state.clone();
        }

        void run(Backend be, int mode, int warmup, int calibrate, int rank) {
            be.patchBoundaries(ends, rows, pi, start, count, bytes, h, state, B, T, mode, FIXED, MAX_PATCH, warmup, calibrate, rank);
        }

        void assertEquals(Case cpu, String what) {
            assertThat(Float.floatToRawIntBits(state[0])).as("θ " + what + ": " + state[0] + " vs " + cpu.state[0])
                    .isEqualTo(Float.floatToRawIntBits(cpu.state[0]));
            assertThat(ends).as("ends " + what).isEqualTo(cpu.ends);
            assertThat(start).as("start " + what).isEqualTo(cpu.start);
            assertThat(Arrays.copyOf(count, B)).as("count " + what).isEqualTo(Arrays.copyOf(cpu.count, B));
            assertThat(pi).as("pi " + what).isEqualTo(cpu.pi);
            int R = cpu.start[B];
            assertThat(Arrays.copyOf(rows, R)).as("rows " + what).isEqualTo(Arrays.copyOf(cpu.rows, R));
        }
    }

    static int[] filled(int n, int v) {
        int[] a = new int[n];
        Arrays.fill(a, v);
        return a;
    }

    static int rank(int mode, int B, int T, double level) {
        int k = Patching.scoreCount(mode, B, T);
        return k == 0 ? 0 : (int) Math.min(k - 1, Math.max(0, Math.round((1 - level) * (k - 1))));
    }

    static void check(SplittableRandom r, int mode, int B, int T, boolean ties, int warmup, int calibrate) {
        Case d = new Case(r, B, T, ties), c = new Case(d);
        int rank = rank(mode, B, T, 0.1 + 0.8 * r.nextDouble());
        d.run(device, mode, warmup, calibrate, rank);
        c.run(cpu, mode, warmup, calibrate, rank);
        d.assertEquals(c, "mode " + mode + " B=" + B + " T=" + T + " ties=" + ties + " warmup=" + warmup + " calibrate=" + calibrate);
    }

    @ParameterizedTest
    @ValueSource(ints = {Patching.ENTROPY, Patching.MONOTONIC, Patching.FIXED, Patching.SPACE})
    void perOpMatchesCpu(int mode) {
        SplittableRandom r = new SplittableRandom(100 + mode);
        long built = device.stats(PatchGraphs.PATCH).graphsBuilt();
        check(r, mode, 5, 37, false, 0, 1);
        check(r, mode, 3, 64, true, 0, 1);
        check(r, mode, 5, 37, false, 0, 0);
        check(r, mode, 2, 20, false, 3, 1);
        check(r, mode, 1, 300, false, 0, 1); // more positions than the calibration's threads, B and T changed
        check(r, mode, 7, 1, false, 0, 1);   // T = 1: no monotonic scores
        assertThat(device.stats(PatchGraphs.PATCH).graphsBuilt() - built).as("graphs built for mode %d", mode).isLessThanOrEqualTo(2);
        DeviceChecks.assertRanOnDevice(device, PatchGraphs.PATCH);
    }

    /**
     * Two training steps on a resident backend with three sites (entropy and monotonic calibrating,
     * space): the first runs per-op and builds the plan, the second runs on the device with new
     * bytes and entropies announced by the host; the host reads back what the model reads.
     */
    @Test
    void residentStepsMatchCpu() {
        TornadoBackend res = new TornadoBackend(-1, 2, true, 0, true);
        try {
            SplittableRandom r = new SplittableRandom(7);
            int B = 4, T = 48;
            int[] modes = {Patching.ENTROPY, Patching.MONOTONIC, Patching.SPACE};
            Case[] dev = new Case[modes.length];
            for (int m = 0; m < modes.length; m++) {
                dev[m] = new Case(r, B, T, m == 1);
            }
            for (int step = 0; step < 2; step++) {
                Case[] ref = new Case[modes.length];
                int[] ranks = new int[modes.length];
                for (int m = 0; m < modes.length; m++) {
                    Case fresh = new Case(r, B, T, step == 1 && m == 0);
                    System.arraycopy(fresh.bytes, 0, dev[m].bytes, 0, fresh.N);
                    System.arraycopy(fresh.h, 0, dev[m].h, 0, fresh.N);
                    ranks[m] = rank(modes[m], B, T, 0.2 + 0.3 * step);
                    if (step > 0) {
                        res.hostChanged(dev[m].bytes);
                        res.hostChanged(dev[m].h);
                    }
                    ref[m] = new Case(dev[m]);
                }
                long runs0 = res.residency().runs();
                res.beginStep();
                for (int m = 0; m < modes.length; m++) {
                    dev[m].run(res, modes[m], 0, modes[m] == Patching.SPACE ? 0 : 1, ranks[m]);
                }
                res.endStep();
                assertThat(res.residency().runs() - runs0).as("ops on resident arrays, step %d", step).isEqualTo(step == 0 ? 0 : 3);
                for (int m = 0; m < modes.length; m++) {
                    res.toHost(dev[m].ends, dev[m].rows, dev[m].pi, dev[m].start, dev[m].count);
                    res.toHost(dev[m].state);
                    ref[m].run(cpu, modes[m], 0, modes[m] == Patching.SPACE ? 0 : 1, ranks[m]);
                    dev[m].assertEquals(ref[m], "resident step " + step + " mode " + modes[m]);
                }
            }
            assertThat(res.residency().rebuilds()).as("plans built").isEqualTo(1);
            DeviceChecks.assertRanOnDevice(res, PatchGraphs.PATCH);
        } finally {
            System.out.println("TornadoPatchTest resident stats: " + res.stats());
            res.close();
        }
    }
}
