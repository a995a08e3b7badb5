package io.ionllama.spike;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

class SpikeChainTest {
    static final int N = 16;

    public static void touch(float[] a) {
        for (@Parallel int i = 0; i < 1; i++) {
            a[0] = a[0];
        }
    }

    public static void fwd(float[] w, float[] x, float[] h) {
        for (@Parallel int i = 0; i < N; i++) {
            h[i] = w[i] * x[i];
        }
    }

    public static void mid(float[] w) {
        for (@Parallel int i = 0; i < N; i++) {
            w[i] = w[i] + 0.5f;
        }
    }

    public static void bwd(float[] w, float[] h, float[] out) {
        for (@Parallel int i = 0; i < 1; i++) {
            float s = 0f;
            for (int j = 0; j < N; j++) {
                s += h[j];
            }
            out[0] = s;
        }
        for (@Parallel int i = 0; i < N; i++) {
            w[i] = w[i] + 1f;
        }
    }

    static TaskGraph carry(TaskGraph g, Object[] all) {
        return g.persistOnDevice(all).transferToHost(DataTransferMode.UNDER_DEMAND, all);
    }

    @Test
    void chain() throws Exception {
        float[] w = new float[N], h = new float[N], x = new float[N], out = new float[1];
        Object[] all = {w, h, x, out};
        java.util.Arrays.fill(w, 1f);
        // L: everything up once.
        TaskGraph L = carry(new TaskGraph("L").transferToDevice(DataTransferMode.EVERY_EXECUTION, all)
                .task("t0", SpikeChainTest::touch, w).task("t1", SpikeChainTest::touch, h).task("t2", SpikeChainTest::touch, x)
                .task("t3", SpikeChainTest::touch, out), all);
        // U: the host's x up, the rest carried.
        TaskGraph U = carry(new TaskGraph("U").consumeFromDevice(w, h, out).transferToDevice(DataTransferMode.EVERY_EXECUTION, x)
                .task("t", SpikeChainTest::touch, x), all);
        TaskGraph A = carry(new TaskGraph("A").consumeFromDevice(all).task("f", SpikeChainTest::fwd, w, x, h), all);
        TaskGraph C = carry(new TaskGraph("C").consumeFromDevice(all).task("m", SpikeChainTest::mid, w), all);
        TaskGraph B = carry(new TaskGraph("B").consumeFromDevice(all).task("b", SpikeChainTest::bwd, w, h, out), all);
        try (TornadoExecutionPlan plan = new TornadoExecutionPlan(L.snapshot(), U.snapshot(), A.snapshot(), C.snapshot(), B.snapshot())) {
            plan.withGraph(0).execute();
            float wv = 1f;
            for (int s = 1; s <= 4; s++) {
                java.util.Arrays.fill(x, s);
                plan.withGraph(1).execute();
                plan.withGraph(2).execute();
                float expect = N * wv * s;
                // pull h through C, which only carries it
                TornadoExecutionResult rc = plan.withGraph(3).execute();
                rc.transferToHost(h);
                System.out.println("SPIKE step " + s + " h[0] via carrier " + h[0] + " expect " + wv * s);
                assertThat(h[0]).isEqualTo(wv * s);
                TornadoExecutionResult rb = plan.withGraph(4).execute();
                rb.transferToHost(out);
                wv += 1.5f;
                System.out.println("SPIKE step " + s + " out " + out[0] + " expect " + expect + " host w " + w[0]);
                assertThat(out[0]).isEqualTo(expect);
                assertThat(w[0]).isEqualTo(1f);
            }
            plan.withGraph(2).execute().transferToHost(w);
            System.out.println("SPIKE pulled w " + w[0] + " expect " + wv);
        }
    }
}
