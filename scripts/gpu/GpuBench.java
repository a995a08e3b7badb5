import io.ionllama.backend.Backend;
import io.ionllama.backend.Backends;
import io.ionllama.data.ByteSource;
import io.ionllama.data.EmbeddedCorpus;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import io.ionllama.model.StreamingDecoder;
import io.ionllama.train.TrainConfig;
import io.ionllama.train.Trainer;
import java.util.Locale;

/**
 * The timing part of scripts/gpu-check, compiled into the GPU kit by scripts/gpu-kit (it is not part
 * of ionllama.jar). Two modes, each on one backend (cpu or tornado, as {@code Backends.open} opens
 * them; the device is TornadoVM's default or {@code -Dionllama.device}):
 * <pre>
 *   GpuBench step SIZE BACKEND BATCH SEQ WARMUP STEPS THREADS
 *   GpuBench generate SIZE BACKEND WARMUP BYTES THREADS
 * </pre>
 * {@code step}: whole training steps through {@link Trainer} (forward, backward, norm, AdamW;
 * device-resident on the tornado backend, as {@code ionllama train} runs them) on the embedded
 * corpus with fixed seeds, so both backends see the same batches and the first step's loss can be
 * compared. {@code generate}: greedy bytes through {@link StreamingDecoder} after a short prompt.
 * Each prints one line starting with {@code RESULT} (key=value pairs) that gpu-check collects.
 */
public final class GpuBench {

    public static void main(String[] a) {
        Locale.setDefault(Locale.ROOT);
        if (a.length == 7 && a[0].equals("step")) {
            step(a[1], a[2], Integer.parseInt(a[3]), Integer.parseInt(a[4]), Integer.parseInt(a[5]),
                    Integer.parseInt(a[6]), Integer.parseInt(System.getProperty("gpubench.threads", "0")));
        } else if (a.length == 5 && a[0].equals("generate")) {
            generate(a[1], a[2], Integer.parseInt(a[3]), Integer.parseInt(a[4]),
                    Integer.parseInt(System.getProperty("gpubench.threads", "0")));
        } else {
            System.err.println("usage: GpuBench step SIZE cpu|tornado BATCH SEQ WARMUP STEPS | generate SIZE cpu|tornado WARMUP BYTES"
                    + " (-Dgpubench.threads=N for the CPU threads)");
            System.exit(2);
        }
    }

    static Backend open(String backend, int threads) {
        Backend be = Backends.open(backend, threads > 0 ? threads : Backends.defaultThreads(), -1);
        System.out.println("backend: " + be.describe());
        return be;
    }

    static void step(String size, String backend, int batch, int seq, int warmup, int steps, int threads) {
        ModelConfig c = ModelConfig.of(size);
        try (Backend be = open(backend, threads)) {
            IonLlama m = new IonLlama(c, be, Patcher.parse("fixed:4", c.maxPatch(), c.targetPatch()), false);
            m.init(1);
            ByteSource data = ByteSource.of(EmbeddedCorpus.generate(EmbeddedCorpus.TRAIN_SEED, 2_000_000));
            Trainer t = new Trainer(m, data,
                    new TrainConfig(batch, seq, 1, 3e-3f, 3e-4f, 10, 1_000_000, "adamw", 0.1f, 1f, 7, 1_000_000));
            double first = Double.NaN, last = Double.NaN;
            long firstNanos = 0, total = 0, best = Long.MAX_VALUE;
            for (int k = 0; k < warmup + steps; k++) {
                long t0 = System.nanoTime();
                Trainer.Step s = t.step();
                long dt = System.nanoTime() - t0;
                if (k == 0) {
                    first = s.loss();
                    firstNanos = dt;
                }
                last = s.loss();
                if (k >= warmup) {
                    total += dt;
                    best = Math.min(best, dt);
                }
                System.out.printf("step %d: loss %.6f, %.1f ms%n", k + 1, s.loss(), dt / 1e6);
            }
            double mean = total / (double) steps;
            System.out.printf("RESULT kind=step size=%s backend=%s batch=%d seq=%d steps=%d first_step_ms=%.0f mean_ms=%.1f best_ms=%.1f"
                            + " bytes_per_s=%.0f first_loss=%.6f last_loss=%.6f%n",
                    size, backend, batch, seq, steps, firstNanos / 1e6, mean / 1e6, best / 1e6,
                    (double) batch * seq / (mean / 1e9), first, last);
        }
    }

    static void generate(String size, String backend, int warmup, int bytes, int threads) {
        ModelConfig c = ModelConfig.of(size);
        try (Backend be = open(backend, threads)) {
            IonLlama m = new IonLlama(c, be, Patcher.parse("fixed:4", c.maxPatch(), c.targetPatch()), false);
            m.init(1);
            StreamingDecoder d = new StreamingDecoder(m);
            int[] prompt = "Once upon a time there was a little robot who".chars().toArray();
            long t0 = System.nanoTime();
            float[] logits = d.prime(prompt, 0, prompt.length);
            long t1 = System.nanoTime(), tw = t1;
            StringBuilder text = new StringBuilder();
            long hash = 1125899906842597L;
            for (int i = 0; i < warmup + bytes; i++) {
                if (i == warmup) {
                    tw = System.nanoTime();
                }
                int best = 0;
                for (int v = 1; v < 256; v++) {
                    if (logits[v] > logits[best]) {
                        best = v;
                    }
                }
                hash = 31 * hash + best;
                if (text.length() < 40) {
                    text.append(best >= 32 && best < 127 ? (char) best : '.');
                }
                logits = d.feed(best);
            }
            long t2 = System.nanoTime();
            System.out.println("greedy bytes: \"" + text + "\"...");
            System.out.printf("RESULT kind=generate size=%s backend=%s prompt=%d warmup=%d bytes=%d prime_ms=%.1f warmup_ms=%.1f"
                            + " bytes_per_s=%.1f hash=%016x%n",
                    size, backend, prompt.length, warmup, bytes, (t1 - t0) / 1e6, (tw - t1) / 1e6,
                    bytes / ((t2 - tw) / 1e9), hash);
        }
    }
}
