package io.ionllama.bench;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.kernels.Attention;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The global transformer's causal attention, forward + backward (the two backward passes: dq by
 * query, dk/dv gathered by key), sparse dilated (window w = 8 plus i - 2^m) against dense, over
 * one sequence of P patches at d = 256 with 4 heads of 64 (the {@code tiny} global width). q, k
 * and v are given (after RoPE); the projections around attention cost the same in both forms and
 * are not included. Time per call; per position = time / P.
 *
 * <p>Dense keeps the [H, P, P] probabilities: at P = 32K that is 4.3e9 floats, more than a Java
 * array holds (and 17 GB), so dense stops at 16K (scripts/bench-model runs it as a single shot
 * there) and 32K is extrapolated from the P^2 growth.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@State(Scope.Benchmark)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx10g", "-Xss4m"})
@Warmup(iterations = 2, time = 1, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 3, time = 2, timeUnit = TimeUnit.SECONDS)
public class AttentionBenchmark {

    static final int D = 256, HEADS = 4, HEAD_DIM = D / HEADS, WINDOW = 8;

    @Param({"1024", "4096", "16384", "32768"})
    public int P;

    @Param({"dilated", "dense"})
    public String mode;

    @Param({"1"})
    public int threads;

    float[] q, k, v, out, att, dout, dq, dk, dv;
    int slots;
    CpuBackend cpu;

    @Setup
    public void setup() {
        boolean dense = mode.equals("dense");
        slots = Attention.dilatedSlots(WINDOW, P);
        long attSize = (long) HEADS * P * (dense ? P : slots);
        if (attSize > Integer.MAX_VALUE - 16) {
            throw new IllegalStateException("dense attention at P = " + P + " needs " + attSize
                    + " probabilities, more than one Java array holds: extrapolate from smaller P");
        }
        SplittableRandom rnd = new SplittableRandom(P);
        int n = P * D;
        q = random(rnd, n);
        k = random(rnd, n);
        v = random(rnd, n);
        dout = random(rnd, n);
        out = new float[n];
        dq = new float[n];
        dk = new float[n];
        dv = new float[n];
        att = new float[(int) attSize];
        cpu = new CpuBackend(threads);
    }

    static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        return a;
    }

    @TearDown
    public void tearDown() {
        cpu.close();
    }

    @Benchmark
    public float forwardBackward() {
        if (mode.equals("dense")) {
            cpu.attentionDenseForward(out, 0, att, 0, q, 0, k, 0, v, 0, 1, P, HEADS, HEAD_DIM);
            cpu.attentionDenseBackward(dq, 0, dk, 0, dv, 0, dout, 0, q, 0, k, 0, v, 0, out, 0, att, 0, 1, P, HEADS, HEAD_DIM);
        } else {
            cpu.attentionDilatedForward(out, 0, att, 0, q, 0, k, 0, v, 0, 1, P, HEADS, HEAD_DIM, WINDOW, slots);
            cpu.attentionDilatedBackward(dq, 0, dk, 0, dv, 0, dout, 0, q, 0, k, 0, v, 0, out, 0, att, 0, 1, P, HEADS,
                    HEAD_DIM, WINDOW, slots);
        }
        return dq[0] + dk[0] + dv[0];
    }
}
