package io.ionllama.bench;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.generate.Sampling;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import io.ionllama.model.StreamingDecoder;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
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
 * Generation speed of {@code tiny} (fresh weights; fixed 4-byte patches, so a global step every
 * 4 bytes as a trained model's entropy patching targets), greedy, in bytes/s.
 *
 * <p>{@link StreamingDecoder} (incremental decoding) primed with a prompt of {@code context}
 * bytes at the start of each iteration; one invocation then generates 64 bytes, and an
 * iteration's invocations continue the same sequence (the context grows by a few thousand bytes
 * at most within an iteration). The reference, the full re-forward per byte, is
 * {@link ReforwardBenchmark}; first-byte latency (feeding the prompt) is measured by
 * {@code ionllama bench generate}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@State(Scope.Benchmark)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx6g", "-Xss4m"})
@Warmup(iterations = 1, time = 3, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 3, time = 2, timeUnit = TimeUnit.SECONDS)
public class GenerateBenchmark {

    static final int BYTES = 64;

    @Param({"1", "2"})
    public int threads;

    @Param({"256", "4096", "32768"})
    public int context;

    @Param({"tiny"})
    public String size;

    CpuBackend cpu;
    IonLlama model;
    StreamingDecoder decoder;
    int[] prompt;
    float[] logits;
    int next;
    final Sampling greedy = Sampling.greedy();
    final SplittableRandom rnd = new SplittableRandom(3);
    final float[] scratch = new float[512];
    final int[] recent = new int[1];

    @Setup
    public void setup() {
        ModelConfig c = ModelConfig.of(size);
        cpu = new CpuBackend(threads);
        model = new IonLlama(c, cpu, Patcher.parse("fixed:4", c.maxPatch(), c.targetPatch()), false);
        model.init(1);
        decoder = new StreamingDecoder(model);
        SplittableRandom r = new SplittableRandom(context);
        prompt = new int[context];
        for (int i = 0; i < context; i++) {
            prompt[i] = 32 + r.nextInt(95);
        }
    }

    @TearDown
    public void tearDown() {
        cpu.close();
    }

    /** Re-primes the decoder with the prompt, so each iteration starts at the stated context. */
    @Setup(Level.Iteration)
    public void prime() {
        decoder.reset();
        for (int b : prompt) {
            logits = decoder.feed(b);
        }
        next = greedy.pick(logits, 0, recent, 0, rnd, scratch);
    }

    @Benchmark
    @OperationsPerInvocation(BYTES)
    public int incremental() {
        for (int i = 0; i < BYTES; i++) {
            logits = decoder.feed(next);
            next = greedy.pick(logits, 0, recent, 0, rnd, scratch);
        }
        return next;
    }
}
