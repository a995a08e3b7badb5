package io.ionllama.model;

import io.ionllama.backend.cpu.CpuBackend;
import java.util.SplittableRandom;

/**
 * Quick forward+backward throughput of {@link ContextRnn} (not a test; a hand-run probe: the tool's
 * {@code ionllama bench step --model rnn} times the whole step with the optimizer):
 * {@code java -cp target/classes:target/test-classes io.ionllama.model.ContextRnnBench [threads] [B] [T] [layers] [d] [steps]}.
 * Without {@code d} it picks the width whose FLOPs per byte come closest to the ionLlama "tiny"
 * preset's (fixed patches of its target length), so the two GFLOP/s figures compare like for like.
 */
public final class ContextRnnBench {
    private ContextRnnBench() {}

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : Runtime.getRuntime().availableProcessors();
        int B = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int T = args.length > 2 ? Integer.parseInt(args[2]) : 512;
        int L = args.length > 3 ? Integer.parseInt(args[3]) : 4;
        int d = args.length > 4 ? Integer.parseInt(args[4]) : 0;
        int steps = args.length > 5 ? Integer.parseInt(args[5]) : 5;

        ModelConfig tiny = ModelConfig.of("tiny");
        int[] patches = new int[B];
        java.util.Arrays.fill(patches, (int) (T / tiny.targetPatch()));
        double tinyPerByte = StepFlops.perStep(tiny, (long) B * T, patches, false) / ((double) B * T);
        if (d == 0) {
            double best = Double.MAX_VALUE;
            for (int w = 16; w <= 2048; w += 16) {
                double diff = Math.abs(new RnnConfig(w, w, w, L).flopsPerByte() - tinyPerByte);
                if (diff < best) {
                    best = diff;
                    d = w;
                }
            }
        }
        RnnConfig c = new RnnConfig(d, d, d, L);
        System.out.printf("tiny: %.2f MFLOP/byte; rnn d=%d L=%d: %.2f MFLOP/byte, %.2fM params; B=%d T=%d, %d threads%n",
                tinyPerByte / 1e6, d, L, c.flopsPerByte() / 1e6, c.layout().total() / 1e6, B, T, threads);
        int[] x = new int[B * T], y = new int[B * T];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < x.length; i++) {
            x[i] = 'a' + r.nextInt(26);
            y[i] = 'a' + r.nextInt(26);
        }
        try (CpuBackend cpu = new CpuBackend(threads)) {
            ContextRnn m = new ContextRnn(c, cpu);
            m.init(1);
            m.forward(x, y, B, T);
            m.backward(1f); // warm-up
            double bestS = Double.MAX_VALUE, sum = 0;
            for (int k = 0; k < steps; k++) {
                long t0 = System.nanoTime();
                m.forward(x, y, B, T);
                long t1 = System.nanoTime();
                m.backward(1f);
                long t2 = System.nanoTime();
                double s = (t2 - t0) / 1e9;
                bestS = Math.min(bestS, s);
                sum += s;
                System.out.printf("step %d: forward %.3f s, backward %.3f s%n", k, (t1 - t0) / 1e9, (t2 - t1) / 1e9);
            }
            double flops = c.flopsPerByte() * B * T;
            ContextRnn.State st = m.newState();
            int b = 'a';
            for (int k = 0; k < 500; k++) {
                b = 'a' + (Math.abs((int) (m.step(st, b)[7] * 1e4f)) % 26);
            }
            int gen = 2000;
            long g0 = System.nanoTime();
            for (int k = 0; k < gen; k++) {
                b = 'a' + (Math.abs((int) (m.step(st, b)[7] * 1e4f)) % 26);
            }
            double gs = (System.nanoTime() - g0) / 1e9;
            System.out.printf("rnn generation (step, batch 1): %.0f bytes/s, %.2f GFLOP/s forward%n",
                    gen / gs, gen * 2 * c.macsPerByte() / gs / 1e9);
            System.out.printf("rnn: best %.3f s/step = %.0f bytes/s, %.2f GFLOP/s (mean %.3f s = %.0f bytes/s, %.2f GFLOP/s)%n",
                    bestS, B * T / bestS, flops / bestS / 1e9, sum / steps, B * T / (sum / steps), flops / (sum / steps) / 1e9);
        }
    }
}
