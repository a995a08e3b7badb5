package io.ionllama.bench;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import io.ionllama.train.AdamW;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A whole training step of {@code tiny} (zero gradients, forward, backward, gradient norm, AdamW)
 * over a batch of 8 x 1024 bytes, fixed 4-byte patches (the patch count entropy patching is
 * calibrated to). Throughput in bytes/s: one invocation is 8192 operations. The per-stage
 * breakdown and GFLOP/s come from {@code ionllama bench step}, which runs the same step.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@State(Scope.Benchmark)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx6g", "-Xss4m"})
@Warmup(iterations = 2, time = 5, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 4, time = 5, timeUnit = TimeUnit.SECONDS)
public class StepBenchmark {

    static final int B = 8, T = 1024;

    @Param({"1", "2"})
    public int threads;

    @Param({"tiny"})
    public String size;

    CpuBackend cpu;
    IonLlama model;
    AdamW opt;
    int[] x, y;

    @Setup
    public void setup() {
        ModelConfig c = ModelConfig.of(size);
        cpu = new CpuBackend(threads);
        model = new IonLlama(c, cpu, Patcher.parse("fixed:4", c.maxPatch(), c.targetPatch()), false);
        model.init(1);
        opt = AdamW.defaults(model.layout.total(), 0.1f);
        SplittableRandom rnd = new SplittableRandom(7);
        x = new int[B * T];
        y = new int[B * T];
        for (int i = 0; i < x.length; i++) {
            x[i] = 32 + rnd.nextInt(95);
        }
        for (int i = 0; i < x.length; i++) {
            y[i] = (i + 1) % T == 0 ? 32 + rnd.nextInt(95) : x[i + 1];
        }
    }

    @TearDown
    public void tearDown() {
        cpu.close();
    }

    @Benchmark
    @OperationsPerInvocation(B * T)
    public float step() {
        Arrays.fill(model.grads, 0f);
        IonLlama.Output o = model.forward(x, y, B, T);
        model.backward(1f);
        double norm = AdamW.gradNorm(cpu, model.layout, model.grads);
        opt.update(cpu, model.layout.tensors(), model.params, model.grads, 1e-4f, AdamW.clipScale(norm, 1f));
        return o.loss();
    }
}
