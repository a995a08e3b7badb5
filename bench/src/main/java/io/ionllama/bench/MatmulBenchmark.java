package io.ionllama.bench;

import io.ionllama.backend.cpu.CpuBackend;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_full;
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
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * The three matmul products of a linear layer, ionllama's CPU backend ({@code impl=java}) next to
 * OpenBLAS {@code cblas_sgemm} ({@code impl=openblas}) on the same shapes and thread counts.
 *
 * <pre>
 *   forward  y[R,out]  = x[R,in] . W[out,in]^T (+ b)   sgemm(RowMajor, N, T, R, out, in)
 *   dx       dx[R,in] += dy[R,out] . W[out,in]         sgemm(RowMajor, N, N, R, in, out, beta 1)
 *   dw       dW[out,in] += dy^T . x (Java also db)     sgemm(RowMajor, T, N, out, in, R, beta 1)
 * </pre>
 *
 * Shapes are the model's linear layers at width d (tiny d=256, small d=512): d->d, d->3d, d->4d,
 * 4d->d, d->256, with R = B*T rows. Every product is 2*R*in*out flops; {@link Report} turns the
 * per-call times into GFLOP/s. Sample-time mode keeps every call's time, so the report can give
 * the median and the best call: on a shared machine the best call is the uncontended speed. The Java forward also adds the bias and dw also sums db: at most
 * 1/in more work, not counted. OpenBLAS gets off-heap buffers, as a C caller would pass.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@State(Scope.Benchmark)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx6g", "-Xss4m"})
@Warmup(iterations = 2, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
public class MatmulBenchmark {

    static final int CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112;

    @Param({"tiny", "small"})
    public String size;

    @Param({"d_d", "d_3d", "d_4d", "4d_d", "d_256"})
    public String shape;

    @Param({"1", "2"})
    public int threads;

    @Param({"java", "openblas"})
    public String impl;

    @Param({"8192"})
    public int rows;

    int in, out;
    float[] x, w, b, y, dy, dx, dw, db;
    CpuBackend cpu;
    FloatPointer px, pw, py, pdy, pdx, pdw;

    /** d of a size name. */
    static int width(String size) {
        return switch (size) {
            case "tiny" -> 256;
            case "small" -> 512;
            default -> throw new IllegalArgumentException("size " + size);
        };
    }

    /** {in, out} of a shape name at width d. */
    static int[] dims(String shape, int d) {
        return switch (shape) {
            case "d_d" -> new int[] {d, d};
            case "d_3d" -> new int[] {d, 3 * d};
            case "d_4d" -> new int[] {d, 4 * d};
            case "4d_d" -> new int[] {4 * d, d};
            case "d_256" -> new int[] {d, 256};
            default -> throw new IllegalArgumentException("shape " + shape);
        };
    }

    @Setup(Level.Trial)
    public void setup(BenchmarkParams params) {
        int[] io = dims(shape, width(size));
        in = io[0];
        out = io[1];
        SplittableRandom rnd = new SplittableRandom(42);
        x = random(rnd, rows * in);
        w = random(rnd, out * in);
        b = random(rnd, out);
        dy = random(rnd, rows * out);
        y = new float[rows * out];
        dx = new float[rows * in];
        dw = new float[out * in];
        db = new float[out];
        if (impl.equals("java")) {
            cpu = new CpuBackend(threads);
            System.out.println("\n# " + cpu.describe());
            jitWarmUp(params.getBenchmark());
        } else {
            openblas_full.openblas_set_num_threads(threads);
            px = new FloatPointer(x);
            pw = new FloatPointer(w);
            pdy = new FloatPointer(dy);
            py = new FloatPointer(y);
            pdx = new FloatPointer(dx);
            pdw = new FloatPointer(dw);
            System.out.println("\n# " + OpenBlasInfo.describe());
        }
    }

    /**
     * The Vector API runs boxed and very slowly until C2 compiles the kernel, which can take the
     * whole of a short JMH warm-up iteration at 8192 rows. So first spin the measured product on a
     * 256-row slice of the same shape for 0.6 s: the timed warm-up then starts compiled.
     */
    private void jitWarmUp(String benchmark) {
        int full = rows;
        rows = Math.min(rows, 256);
        String op = benchmark.substring(benchmark.lastIndexOf('.') + 1);
        long t0 = System.nanoTime();
        while (System.nanoTime() - t0 < 600_000_000L) {
            switch (op) {
                case "forward" -> forward();
                case "dx" -> dx();
                default -> dw();
            }
        }
        rows = full;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (cpu != null) {
            cpu.close();
        }
        for (FloatPointer p : new FloatPointer[] {px, pw, py, pdy, pdx, pdw}) {
            if (p != null) {
                p.close();
            }
        }
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        return a;
    }

    @Benchmark
    public void forward() {
        if (cpu != null) {
            cpu.matmulForward(y, 0, x, 0, w, 0, b, 0, rows, in, out);
        } else {
            openblas_full.cblas_sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, rows, out, in,
                    1f, px, in, pw, in, 0f, py, out);
        }
    }

    @Benchmark
    public void dx() {
        if (cpu != null) {
            cpu.matmulBackwardInput(dx, 0, dy, 0, w, 0, rows, in, out);
        } else {
            openblas_full.cblas_sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_NO_TRANS, rows, in, out,
                    1f, pdy, out, pw, in, 1f, pdx, in);
        }
    }

    @Benchmark
    public void dw() {
        if (cpu != null) {
            cpu.matmulBackwardWeight(dw, 0, db, 0, dy, 0, x, 0, rows, in, out);
        } else {
            openblas_full.cblas_sgemm(CBLAS_ROW_MAJOR, CBLAS_TRANS, CBLAS_NO_TRANS, out, in, rows,
                    1f, pdy, out, px, in, 1f, pdw, in);
        }
    }
}
