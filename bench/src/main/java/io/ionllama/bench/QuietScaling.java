package io.ionllama.bench;

import io.ionllama.backend.cpu.CpuBackend;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_full;

/**
 * A companion to the JMH run for shared machines, where other processes make 2-thread numbers
 * meaningless (a 2-thread call needs both cores). For every product it waits until the machine is
 * quiet (both cores at least {@code IDLE}% idle over half a second, read from /proc/stat), then
 * times Java and OpenBLAS at 1 and 2 threads back to back; it repeats this {@code rounds} times and
 * keeps each configuration's best call. Prints the same Markdown table layout as {@link Report}.
 *
 * <p>Usage: {@code java --add-modules jdk.incubator.vector -cp benchmarks.jar
 * io.ionllama.bench.QuietScaling [rows=8192] [rounds=4] [sizes=tiny,small] [shapes=d_d,...] [ops=forward,dx,dw]}
 */
public final class QuietScaling {
    private QuietScaling() {}

    static final int IDLE = 85;
    static final int CALLS = 3;

    public static void main(String[] args) throws Exception {
        int rows = args.length > 0 ? Integer.parseInt(args[0]) : 8192;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 4;
        String[] sizes = (args.length > 2 ? args[2] : "tiny,small").split(",");
        String[] shapes = (args.length > 3 ? args[3] : "d_d,d_3d,d_4d,4d_d,d_256").split(",");
        java.util.List<String> ops = java.util.List.of((args.length > 4 ? args[4] : "forward,dx,dw").split(","));
        System.out.println("# " + OpenBlasInfo.describe());
        StringBuilder out = new StringBuilder();
        out.append("| size | layer | rows x in -> out | product | Java 1T | OpenBLAS 1T | Java/OpenBLAS 1T"
                + " | Java 2T | OpenBLAS 2T | Java/OpenBLAS 2T | Java 2T/1T | OpenBLAS 2T/1T |\n");
        out.append("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        double lr1 = 0, lr2 = 0, lsj = 0, lsb = 0, minSj = Double.MAX_VALUE;
        int count = 0;
        long waited = 0;
        try (CpuBackend one = new CpuBackend(1); CpuBackend two = new CpuBackend(2)) {
            for (String size : sizes) {
                for (String shape : shapes) {
                    int[] io = MatmulBenchmark.dims(shape, MatmulBenchmark.width(size));
                    Problem p = new Problem(rows, io[0], io[1]);
                    for (int op = 0; op < 3; op++) {
                        if (!ops.contains(new String[] {"forward", "dx", "dw"}[op])) {
                            continue;
                        }
                        p.warm(one, two, op);
                        long[] best = {Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE};
                        for (int r = 0; r < rounds; r++) {
                            long t0 = System.nanoTime();
                            waitQuiet();
                            waited += System.nanoTime() - t0;
                            best[0] = Math.min(best[0], p.time(one, 0, op));
                            best[1] = Math.min(best[1], p.time(null, 1, op));
                            best[2] = Math.min(best[2], p.time(two, 0, op));
                            best[3] = Math.min(best[3], p.time(null, 2, op));
                        }
                        double flops = 2.0 * rows * io[0] * io[1];
                        double j1 = flops / best[0], b1 = flops / best[1], j2 = flops / best[2], b2 = flops / best[3];
                        lr1 += Math.log(j1 / b1);
                        lr2 += Math.log(j2 / b2);
                        lsj += Math.log(j2 / j1);
                        lsb += Math.log(b2 / b1);
                        minSj = Math.min(minSj, j2 / j1);
                        count++;
                        String line = String.format(Locale.ROOT, "| %s | %s | %dx%d->%d | %s | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f | %.2fx | %.2fx |%n",
                                size, shape.replace("_", "->"), rows, io[0], io[1], new String[] {"forward", "dx", "dw"}[op],
                                j1, b1, j1 / b1, j2, b2, j2 / b2, j2 / j1, b2 / b1);
                        out.append(line);
                        System.out.print(line);
                    }
                    p.release();
                }
            }
        }
        out.append(String.format(Locale.ROOT, "%nJava/OpenBLAS, geometric mean: 1 thread %.2f, 2 threads %.2f.  %n",
                Math.exp(lr1 / count), Math.exp(lr2 / count)));
        out.append(String.format(Locale.ROOT, "1 -> 2 thread scaling, geometric mean: Java %.2fx (min %.2fx), OpenBLAS %.2fx.  %n",
                Math.exp(lsj / count), minSj, Math.exp(lsb / count)));
        out.append(String.format(Locale.ROOT, "Best of %d rounds x %d calls per cell; %.0f s spent waiting for a quiet machine.%n",
                rounds, CALLS, waited / 1e9));
        System.out.println();
        System.out.print(out);
    }

    /** Blocks until both cores were at least IDLE% idle over 0.5 s (gives up after 60 s). */
    static void waitQuiet() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            long[] a = cpu();
            Thread.sleep(500);
            long[] b = cpu();
            long idle = b[0] - a[0], total = b[1] - a[1];
            if (total > 0 && 100 * idle / total >= IDLE) {
                return;
            }
        }
    }

    /** {idle, total} jiffies from the first line of /proc/stat. */
    static long[] cpu() throws IOException {
        String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
        long total = 0;
        for (int i = 1; i < f.length; i++) {
            total += Long.parseLong(f[i]);
        }
        return new long[] {Long.parseLong(f[4]) + Long.parseLong(f[5]), total};
    }

    static final class Problem {
        final int rows, in, out;
        final float[] x, w, b, y, dy, dx, dw, db;
        final FloatPointer px, pw, py, pdy, pdx, pdw;

        Problem(int rows, int in, int out) {
            this.rows = rows;
            this.in = in;
            this.out = out;
            SplittableRandom rnd = new SplittableRandom(42);
            x = random(rnd, rows * in);
            w = random(rnd, out * in);
            b = random(rnd, out);
            dy = random(rnd, rows * out);
            y = new float[rows * out];
            dx = new float[rows * in];
            dw = new float[out * in];
            db = new float[out];
            px = new FloatPointer(x);
            pw = new FloatPointer(w);
            py = new FloatPointer(y);
            pdy = new FloatPointer(dy);
            pdx = new FloatPointer(dx);
            pdw = new FloatPointer(dw);
        }

        void release() {
            for (FloatPointer p : new FloatPointer[] {px, pw, py, pdy, pdx, pdw}) {
                p.close();
            }
        }

        private static float[] random(SplittableRandom rnd, int n) {
            float[] a = new float[n];
            for (int i = 0; i < n; i++) {
                a[i] = (float) (rnd.nextDouble() * 2 - 1);
            }
            return a;
        }

        /** One call: Java on {@code cpu}, or OpenBLAS with {@code blasThreads} threads. */
        void call(CpuBackend cpu, int op) {
            if (cpu != null) {
                switch (op) {
                    case 0 -> cpu.matmulForward(y, 0, x, 0, w, 0, b, 0, rows, in, out);
                    case 1 -> cpu.matmulBackwardInput(dx, 0, dy, 0, w, 0, rows, in, out);
                    default -> cpu.matmulBackwardWeight(dw, 0, db, 0, dy, 0, x, 0, rows, in, out);
                }
                return;
            }
            int rm = MatmulBenchmark.CBLAS_ROW_MAJOR, nt = MatmulBenchmark.CBLAS_NO_TRANS, tr = MatmulBenchmark.CBLAS_TRANS;
            switch (op) {
                case 0 -> openblas_full.cblas_sgemm(rm, nt, tr, rows, out, in, 1f, px, in, pw, in, 0f, py, out);
                case 1 -> openblas_full.cblas_sgemm(rm, nt, nt, rows, in, out, 1f, pdy, out, pw, in, 1f, pdx, in);
                default -> openblas_full.cblas_sgemm(rm, tr, nt, out, in, rows, 1f, pdy, out, px, in, 1f, pdw, in);
            }
        }

        /** Best of CALLS calls, in nanoseconds. */
        long time(CpuBackend cpu, int blasThreads, int op) {
            if (cpu == null) {
                openblas_full.openblas_set_num_threads(blasThreads);
            }
            long best = Long.MAX_VALUE;
            for (int c = 0; c < CALLS; c++) {
                long t0 = System.nanoTime();
                call(cpu, op);
                best = Math.min(best, System.nanoTime() - t0);
            }
            return best;
        }

        /** JIT and scratch warm-up: a few untimed calls of every configuration. */
        void warm(CpuBackend one, CpuBackend two, int op) {
            for (int k = 0; k < 2; k++) {
                call(one, op);
                call(two, op);
                openblas_full.openblas_set_num_threads(2);
                call(null, op);
            }
        }
    }
}
