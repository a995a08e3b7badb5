package io.ionllama.backend.tornado;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.Backend;
import org.junit.jupiter.api.Test;

/**
 * The stage graphs of a resident step ({@link Residency}): the calls a step makes between two host
 * hand-overs run as one graph execution, and what the host sees is what op-by-op execution gives,
 * also when one site is called twice with different values in one stage, when the host reads in
 * the middle of a recorded stage, and when a step calls its ops in another order. The ops are
 * fill, copy and accumulate, whose results are exact, so every check is an equality.
 */
class TornadoStagesTest extends DeviceTest {

    static final int N = 64, H = 16;

    /** The arrays of one test program, and what the host observed while it ran. */
    static final class Program {
        final float[] a = new float[N], b = new float[N];
        float seen;

        /**
         * Two fills of one array (one site, two calls), an accumulate, a host read (a stage ends),
         * a host write of both arrays (read, changed, handed back together), then a copy of the
         * written slice and an accumulate.
         */
        void run(Backend be, float v1, float v2, boolean readEarly) {
            be.fill(a, 0, v1, H);
            be.fill(a, H, v2, H);
            if (readEarly) {
                be.toHost(a);
                seen = a[H];
            }
            be.accumulate(b, 0, a, 0, 2 * H);
            be.toHost(b);
            if (!readEarly) {
                seen = b[H];
            }
            be.toHost(a);
            a[2 * H + 3] = v1 * 10;
            b[N - 1] += v2;
            be.hostChanged(a, b);
            be.copy(b, 2 * H, a, 2 * H, H);
            be.accumulate(b, 3 * H, a, 0, H);
        }

        /** The same calls with the last two swapped: another order of sites than the one recorded. */
        void runReordered(Backend be, float v1, float v2) {
            be.fill(a, 0, v1, H);
            be.fill(a, H, v2, H);
            be.accumulate(b, 0, a, 0, 2 * H);
            be.toHost(b);
            seen = b[H];
            be.toHost(a);
            a[2 * H + 3] = v1 * 10;
            be.hostChanged(a);
            be.accumulate(b, 3 * H, a, 0, H);
            be.copy(b, 2 * H, a, 2 * H, H);
        }
    }

    private static Program onCpu(float[] b0, float v1, float v2, boolean readEarly) {
        Program c = new Program();
        System.arraycopy(b0, 0, c.b, 0, N);
        c.run(cpu, v1, v2, readEarly);
        return c;
    }

    private static void assertSame(Program d, Program c, String what) {
        assertThat(d.a).as("a, " + what).containsExactly(c.a);
        assertThat(d.b).as("b, " + what).containsExactly(c.b);
        assertThat(d.seen).as("what the host read, " + what).isEqualTo(c.seen);
    }

    @Test
    void aStepRunsAsOneGraphPerStageAndMatchesOpByOp() {
        Program d = new Program();
        try (TornadoBackend res = new TornadoBackend(-1, 2, true, 0, true)) {
            for (int step = 0; step < 4; step++) {
                float v1 = 1.5f + step, v2 = -0.25f * step;
                float[] b0 = d.b.clone();
                long stages0 = res.residency().stageRuns(), runs0 = res.residency().runs();
                long launches0 = res.graphExecutions(), own0 = res.stats(Residency.RESIDENT).executions();
                res.beginStep();
                d.run(res, v1, v2, false);
                res.endStep();
                res.toHost(d.a, d.b);
                assertSame(d, onCpu(b0, v1, v2, false), "step " + step);
                assertThat(res.residency().rebuilds()).as("one plan, from the first step").isEqualTo(1);
                if (step > 0) {
                    assertThat(res.residency().runs() - runs0).as("calls run on the device, step " + step).isEqualTo(5);
                    assertThat(res.residency().stageRuns() - stages0).as("stage graph executions, step " + step).isEqualTo(2);
                    long own = res.stats(Residency.RESIDENT).executions() - own0;
                    assertThat(res.graphExecutions() - launches0).as("graph executions of step %d: its 2 stages and the plan's %d uploads and stores", step, own)
                            .isEqualTo(2 + own);
                    // The stages carry their changed values (v1, v2) themselves, the first declares
                    // a and b, which the host reads right after it (no store graph), and a and b,
                    // written by the host together, go back in one upload. The read after the step
                    // (outside it, so not recorded) runs the store graph.
                    assertThat(own).as("the plan's own executions (one upload of a and b, the store after the step), step " + step)
                            .isEqualTo(2);
                }
            }

            // The host reads a in the middle of the first recorded stage: the calls taken before
            // it run alone, the plan stays.
            float[] b0 = d.b.clone();
            res.beginStep();
            d.run(res, 7f, 8f, true);
            res.endStep();
            res.toHost(d.a, d.b);
            assertSame(d, onCpu(b0, 7f, 8f, true), "a read inside a stage");
            assertThat(res.residency().rebuilds()).isEqualTo(1);

            // Another order of calls: correct results, and a plan built from that step.
            b0 = d.b.clone();
            res.beginStep();
            d.runReordered(res, 3f, 4f);
            res.endStep();
            res.toHost(d.a, d.b);
            Program c = new Program();
            System.arraycopy(b0, 0, c.b, 0, N);
            c.runReordered(cpu, 3f, 4f);
            assertSame(d, c, "calls in another order");
            assertThat(res.residency().rebuilds()).as("a plan for the new order").isEqualTo(2);

            b0 = d.b.clone();
            long stages0 = res.residency().stageRuns();
            res.beginStep();
            d.runReordered(res, 5f, 6f);
            res.endStep();
            res.toHost(d.a, d.b);
            c = new Program();
            System.arraycopy(b0, 0, c.b, 0, N);
            c.runReordered(cpu, 5f, 6f);
            assertSame(d, c, "the new order, in stages");
            assertThat(res.residency().stageRuns() - stages0).isEqualTo(2);
        }
    }

    /** A step that failed part-way (abortStep) builds no plan; the next steps record and replay as usual. */
    @Test
    void anAbortedStepBuildsNoPlan() {
        Program d = new Program();
        try (TornadoBackend res = new TornadoBackend(-1, 2, true, 0, true)) {
            float[] scratch = new float[N];
            res.beginStep();
            res.fill(scratch, 0, 1f, N);
            res.abortStep();
            assertThat(res.residency().rebuilds()).as("plans after an aborted first step").isZero();
            for (int step = 0; step < 2; step++) {
                float[] b0 = d.b.clone();
                res.beginStep();
                d.run(res, 2f, 3f, false);
                res.endStep();
                res.toHost(d.a, d.b);
                assertSame(d, onCpu(b0, 2f, 3f, false), "after an aborted step, step " + step);
            }
            assertThat(res.residency().rebuilds()).as("one plan, from the first whole step").isEqualTo(1);
        }
    }
}
