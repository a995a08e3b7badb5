package io.ionllama.cli;

import io.ionllama.backend.Backends;
import io.ionllama.backend.cpu.CpuBackend;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ionllama bench}: quick built-in benchmarks of the CPU backend (no JMH, no OpenBLAS; the
 * JMH suite against OpenBLAS lives in {@code bench/}). One subcommand per kernel family; add new
 * ones (attention, scan, step) to the {@code subcommands} list.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Quick benchmarks of the CPU kernels (see bench/ for the JMH suite against OpenBLAS).",
        subcommands = {BenchCommand.MatmulBench.class, BenchStepCommand.class, BenchGenerateCommand.class})
final class BenchCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Model widths the benchmarks use; d is the residual width. */
    enum Size {
        tiny(256), small(512);

        final int d;

        Size(int d) {
            this.d = d;
        }
    }

    /** {@code ionllama bench matmul}: the three matmul products at the model's linear-layer shapes. */
    @Command(name = "matmul", mixinStandardHelpOptions = true, showDefaultValues = true,
            description = {
                "GFLOP/s of the CPU matmul (forward y = x.W^T + b, input grad dx += dy.W, weight grad dW += dy^T.x with db)",
                "at the shapes of a model of the given size: d->d, d->3d, d->4d, 4d->d, d->256, on 1 and N threads."})
    static final class MatmulBench implements Callable<Integer> {

        @Option(names = "--threads", description = "Worker threads for the multi-threaded column (all hardware threads unless given).")
        int threads = Backends.defaultThreads();

        @Option(names = "--size", description = "Model size whose shapes to run: ${COMPLETION-CANDIDATES}.")
        Size size = Size.tiny;

        @Option(names = "--rows", description = "Rows of activations (batch x context, B*T).")
        int rows = 4096;

        @Option(names = "--repeats", description = "Timed calls per product and thread count (the best is reported).")
        int repeats = 5;

        @Option(names = "--scalar", description = "Use the scalar kernel units instead of the Vector API matmul.")
        boolean scalar;

        @Override
        public Integer call() {
            Bounds.check("--threads", threads, 1, Bounds.maxThreads());
            Bounds.check("--rows", rows, 1, Bounds.MAX_BATCH_BYTES);
            Bounds.check("--repeats", repeats, 1, 10_000);
            int d = size.d;
            int[][] shapes = {{d, d}, {d, 3 * d}, {d, 4 * d}, {4 * d, d}, {d, 256}};
            String[] labels = {"d->d", "d->3d", "d->4d", "4d->d", "d->256"};
            try (CpuBackend one = new CpuBackend(1, !scalar); CpuBackend many = threads > 1 ? new CpuBackend(threads, !scalar) : null) {
                System.out.printf(Locale.ROOT, "matmul: size %s (d=%d), rows %d, best of %d; %s%n",
                        size, d, rows, repeats, (many != null ? many : one).describe());
                String nCol = threads + " threads";
                System.out.printf(Locale.ROOT, "%-7s %-18s %-8s %10s %12s %8s%n", "layer", "rows x in -> out", "product", "1 thread", nCol, "scaling");
                // Warm-up: JIT-compile the kernels and grow the packing scratch before timing.
                Problem warm = new Problem(Math.min(rows, 512), d, d, new SplittableRandom(-1));
                for (int op = 0; op < 3; op++) {
                    warm.spin(one, op, 150_000_000L);
                    if (many != null) {
                        warm.spin(many, op, 150_000_000L);
                    }
                }
                double sumOne = 0, sumMany = 0;
                int count = 0;
                for (int s = 0; s < shapes.length; s++) {
                    int in = shapes[s][0], out = shapes[s][1];
                    Problem p = new Problem(rows, in, out, new SplittableRandom(s));
                    for (int op = 0; op < 3; op++) {
                        double g1 = p.gflops(one, op, repeats);
                        double gn = many != null ? p.gflops(many, op, repeats) : Double.NaN;
                        sumOne += g1;
                        sumMany += many != null ? gn : 0;
                        count++;
                        System.out.printf(Locale.ROOT, "%-7s %-18s %-8s %10.1f %12s %8s%n",
                                op == 0 ? labels[s] : "", op == 0 ? rows + "x" + in + "->" + out : "", Problem.OPS[op], g1,
                                many != null ? String.format(Locale.ROOT, "%.1f", gn) : "-",
                                many != null ? String.format(Locale.ROOT, "%.2fx", gn / g1) : "-");
                    }
                }
                System.out.printf(Locale.ROOT, "%-7s %-18s %-8s %10.1f %12s %8s%n", "mean", "", "", sumOne / count,
                        many != null ? String.format(Locale.ROOT, "%.1f", sumMany / count) : "-",
                        many != null ? String.format(Locale.ROOT, "%.2fx", sumMany / sumOne) : "-");
                System.out.println("GFLOP/s = 2 * rows * in * out / seconds");
            }
            return 0;
        }
    }

    /** Tensors for one shape; every product is timed on the same data. */
    static final class Problem {
        static final String[] OPS = {"forward", "dx", "dW+db"};

        final int rows, in, out;
        final float[] x, w, b, y, dy, dx, dw, db;

        Problem(int rows, int in, int out, SplittableRandom rnd) {
            this.rows = rows;
            this.in = in;
            this.out = out;
            x = random(rnd, (long) rows * in);
            w = random(rnd, (long) out * in);
            b = random(rnd, out);
            dy = random(rnd, (long) rows * out);
            y = new float[rows * out];
            dx = new float[rows * in];
            dw = new float[out * in];
            db = new float[out];
        }

        private static float[] random(SplittableRandom rnd, long n) {
            if (n > Integer.MAX_VALUE - 16) {
                throw new Errors.UserError("tensor of " + n + " floats is too large; use a smaller --rows");
            }
            float[] a = new float[(int) n];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) (rnd.nextDouble() * 2 - 1);
            }
            return a;
        }

        void call(CpuBackend cpu, int op) {
            switch (op) {
                case 0 -> cpu.matmulForward(y, 0, x, 0, w, 0, b, 0, rows, in, out);
                case 1 -> cpu.matmulBackwardInput(dx, 0, dy, 0, w, 0, rows, in, out);
                default -> cpu.matmulBackwardWeight(dw, 0, db, 0, dy, 0, x, 0, rows, in, out);
            }
        }

        /** Calls {@code op} for at least {@code nanos}. */
        void spin(CpuBackend cpu, int op, long nanos) {
            long t0 = System.nanoTime();
            do {
                call(cpu, op);
            } while (System.nanoTime() - t0 < nanos);
        }

        /** Best GFLOP/s over {@code repeats} timed calls, after two untimed ones (JIT, scratch). */
        double gflops(CpuBackend cpu, int op, int repeats) {
            call(cpu, op);
            call(cpu, op);
            long best = Long.MAX_VALUE;
            for (int r = 0; r < repeats; r++) {
                long t0 = System.nanoTime();
                call(cpu, op);
                best = Math.min(best, System.nanoTime() - t0);
            }
            return 2.0 * rows * in * out / Math.max(best, 1);
        }
    }
}
