package io.ionllama.bench;

import io.ionllama.backend.Backend;
import io.ionllama.backend.Backends;
import io.ionllama.data.ByteSource;
import io.ionllama.data.EmbeddedCorpus;
import io.ionllama.kernels.Attention;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import io.ionllama.train.TrainConfig;
import io.ionllama.train.Trainer;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
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
 * The TornadoVM backend ({@code backend=tornado}) next to the CPU backend ({@code backend=cpu}) on
 * the same ops and shapes, both through the {@link Backend} interface the model calls:
 * <ul>
 *   <li>{@code matmul}: forward, input gradient and weight gradient of one linear layer at the
 *       model's shapes ({@code shape}: rows x in -> out);</li>
 *   <li>{@code attention}: sparse dilated attention forward + backward for one global layer of
 *       nano at batch 8 x 256 (8 sequences of 64 patches, called once per sequence as the model
 *       does; 4 heads of 32, window 8), RoPE on q and k included;</li>
 *   <li>{@code scan}: the IntegralLNN scan forward + backward over 8 x 256 steps of C channels;</li>
 *   <li>{@code step}: one whole training step (forward, backward, gradient norm, AdamW) of
 *       {@code model} at batch 8 x 256, through {@link Trainer}.</li>
 * </ul>
 * The TornadoVM backend still copies every op's inputs to the device and its results back (the
 * device-resident step is not built yet), and under PoCL its "device" is this machine's CPU: the
 * figures measure the TornadoVM path on the same silicon, not a GPU. Needs a JVM started through
 * TornadoVM with a jar that has the backend inside; {@code scripts/bench-tornado} does both, and
 * without TornadoVM the {@code tornado} runs fail in their setup with the reason.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx6g", "-Xss4m", "-Dtornado.recover.bailout=False"})
@Warmup(iterations = 2, time = 2, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 3, time = 2, timeUnit = TimeUnit.SECONDS)
public class TornadoBenchmark {

    static final int THREADS = 2;

    static Backend open(String backend) {
        Backend be = Backends.open(backend, THREADS, -1);
        System.out.println("# " + be.describe());
        return be;
    }

    // ---------------------------------------------------------------- matmul

    @State(Scope.Benchmark)
    public static class MatmulState {
        /** rows x in -> out: nano's local MLP (2048 x 96 -> 256), nano's global qkv-sized (512 x 128 -> 384), tiny's local MLP. */
        @Param({"2048x96x256", "512x128x384", "2048x256x768"})
        public String shape;

        @Param({"cpu", "tornado"})
        public String backend;

        Backend be;
        int rows, in, out;
        float[] x, w, b, y, dy, dx, dw, db;

        @Setup(Level.Trial)
        public void setUp() {
            String[] s = shape.split("x");
            rows = Integer.parseInt(s[0]);
            in = Integer.parseInt(s[1]);
            out = Integer.parseInt(s[2]);
            SplittableRandom r = new SplittableRandom(1);
            x = random(r, rows * in);
            w = random(r, out * in);
            b = random(r, out);
            dy = random(r, rows * out);
            y = new float[rows * out];
            dx = new float[rows * in];
            dw = new float[out * in];
            db = new float[out];
            be = open(backend);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            be.close();
        }
    }

    @Benchmark
    public float matmulForward(MatmulState s) {
        s.be.matmulForward(s.y, 0, s.x, 0, s.w, 0, s.b, 0, s.rows, s.in, s.out);
        return s.y[0];
    }

    @Benchmark
    public float matmulBackward(MatmulState s) {
        s.be.matmulBackwardInput(s.dx, 0, s.dy, 0, s.w, 0, s.rows, s.in, s.out);
        s.be.matmulBackwardWeight(s.dw, 0, s.db, 0, s.dy, 0, s.x, 0, s.rows, s.in, s.out);
        return s.dw[0];
    }

    // ---------------------------------------------------------------- attention

    @State(Scope.Benchmark)
    public static class AttentionState {
        @Param({"cpu", "tornado"})
        public String backend;

        static final int B = 8, P = 64, H = 4, HD = 32, W = 8, C = H * HD;
        final int slots = Attention.dilatedSlots(W, P);
        Backend be;
        float[] q, k, v, qr, kr, out, att, dout, dq, dk, dv, dqr, dkr;

        @Setup(Level.Trial)
        public void setUp() {
            SplittableRandom r = new SplittableRandom(2);
            int n = B * P * C;
            q = random(r, n);
            k = random(r, n);
            v = random(r, n);
            dout = random(r, n);
            qr = new float[n];
            kr = new float[n];
            out = new float[n];
            dq = new float[n];
            dk = new float[n];
            dv = new float[n];
            dqr = new float[n];
            dkr = new float[n];
            att = new float[B * H * P * slots];
            be = open(backend);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            be.close();
        }
    }

    @Benchmark
    public float attentionForwardBackward(AttentionState s) {
        int P = AttentionState.P, H = AttentionState.H, hd = AttentionState.HD, C = AttentionState.C;
        for (int b = 0; b < AttentionState.B; b++) {
            int off = b * P * C, attOff = b * H * P * s.slots;
            s.be.ropeForward(s.qr, off, s.q, off, P, P, 0, H, hd, 10000f);
            s.be.ropeForward(s.kr, off, s.k, off, P, P, 0, H, hd, 10000f);
            s.be.attentionDilatedForward(s.out, off, s.att, attOff, s.qr, off, s.kr, off, s.v, off, 1, P, H, hd,
                    AttentionState.W, s.slots);
        }
        for (int b = 0; b < AttentionState.B; b++) {
            int off = b * P * C, attOff = b * H * P * s.slots;
            s.be.attentionDilatedBackward(s.dqr, off, s.dkr, off, s.dv, off, s.dout, off, s.qr, off, s.kr, off, s.v, off,
                    s.out, off, s.att, attOff, 1, P, H, hd, AttentionState.W, s.slots);
            s.be.ropeBackward(s.dq, off, s.dqr, off, P, P, 0, H, hd, 10000f);
            s.be.ropeBackward(s.dk, off, s.dkr, off, P, P, 0, H, hd, 10000f);
        }
        return s.dq[0];
    }

    // ---------------------------------------------------------------- scan

    @State(Scope.Benchmark)
    public static class ScanState {
        /** nano's local width (96) and tiny's (256). */
        @Param({"96", "256"})
        public int channels;

        @Param({"cpu", "tornado"})
        public String backend;

        static final int B = 8, T = 256;
        Backend be;
        float[] a, u, h, dh, da, du;

        @Setup(Level.Trial)
        public void setUp() {
            SplittableRandom r = new SplittableRandom(3);
            int n = B * T * channels;
            a = new float[n];
            for (int i = 0; i < n; i++) {
                a[i] = (float) (0.02 + 0.96 * r.nextDouble());
            }
            u = random(r, n);
            dh = random(r, n);
            h = new float[n];
            da = new float[n];
            du = new float[n];
            be = open(backend);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            be.close();
        }
    }

    @Benchmark
    public float scanForwardBackward(ScanState s) {
        s.be.scanForward(s.h, s.a, s.u, 0, ScanState.B, ScanState.T, s.channels);
        s.be.scanBackward(s.da, s.du, s.dh, s.h, s.a, s.u, 0, ScanState.B, ScanState.T, s.channels);
        return s.da[0];
    }

    // ---------------------------------------------------------------- a whole training step

    @State(Scope.Benchmark)
    public static class StepState {
        @Param({"nano", "tiny"})
        public String model;

        @Param({"cpu", "tornado"})
        public String backend;

        Backend be;
        Trainer trainer;

        @Setup(Level.Trial)
        public void setUp() {
            be = open(backend);
            ModelConfig c = ModelConfig.of(model);
            IonLlama m = new IonLlama(c, be, Patcher.parse("entropy", c.maxPatch(), c.targetPatch()), false);
            m.init(1);
            ByteSource data = ByteSource.of(EmbeddedCorpus.generate(EmbeddedCorpus.TRAIN_SEED, 1_000_000));
            trainer = new Trainer(m, data, new TrainConfig(8, 256, 1, 3e-3f, 3e-4f, 10, 1_000_000, "adamw", 0.1f, 1f, 7, 60));
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            be.close();
        }
    }

    @Benchmark
    @Warmup(iterations = 2, time = 1, timeUnit = TimeUnit.MILLISECONDS)
    @Measurement(iterations = 3, time = 1, timeUnit = TimeUnit.MILLISECONDS)
    public double trainingStep(StepState s) {
        return s.trainer.step().loss();
    }

    static float[] random(SplittableRandom r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }
}
