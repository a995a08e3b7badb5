package io.ionllama.eval;

import io.ionllama.data.ByteSource;
import io.ionllama.data.EmbeddedCorpus;
import io.ionllama.model.ByteModel;
import io.ionllama.train.Evaluator;
import io.ionllama.train.TrainConfig;
import io.ionllama.train.Trainer;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code memory}: the peak Java heap and the peak resident memory of the process in two phases,
 * evaluating (scoring the first {@value #EVAL_BYTES} bytes of the first file) and one training
 * step (a {@link Trainer} on the first file, batch {@value #TRAIN_BATCH} x {@value #TRAIN_SEQ}
 * bytes, AdamW: gradients and optimizer state included).
 *
 * <p>Peak heap is the sum of the heap pools' peak usage since the phase began (the JVM's own
 * counters, reset after a full collection): garbage not yet collected counts, and pools peak at
 * different moments, so it is an upper bound of the live heap. Resident memory is the kernel's:
 * {@code VmHWM} of {@code /proc/self/status} after resetting it through
 * {@code /proc/self/clear_refs} (Linux 4.0 and later), else the highest {@code VmRSS} read every
 * few milliseconds during the phase; the {@code rss} tag says which. Without {@code /proc} the
 * figure is NaN. The training step leaves the model as it found it: its weights and patcher
 * state are restored afterwards, so tasks after this one measure the checkpoint.
 */
public final class MemoryTask implements EvalTask {
    public static final String NAME = "memory";
    static final int EVAL_BYTES = 32 << 10, TRAIN_BATCH = 4, TRAIN_SEQ = 256;
    private static final Path STATUS = Path.of("/proc/self/status"), CLEAR_REFS = Path.of("/proc/self/clear_refs");
    private final int seqLen, batch;

    public MemoryTask(int seqLen, int batch) {
        this.seqLen = seqLen;
        this.batch = batch;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Metric> run(EvalContext ctx) throws Exception {
        ByteSource src = ctx.data().get(0).bytes();
        List<Metric> out = new ArrayList<>();
        out.addAll(measure(ctx, "evaluate", Map.of("bytes", Long.toString(Math.min(src.size(), EVAL_BYTES)),
                "window", Integer.toString(seqLen)), () -> Evaluator.whole(ctx.model(), src.slice(0, Math.min(src.size(), EVAL_BYTES)),
                seqLen, batch)));
        int seq = Math.min(TRAIN_SEQ, Math.max(8, ctx.model().maxContext() - 1));
        ByteSource train = src.size() > 4L * seq ? src : ByteSource.of(EmbeddedCorpus.generate(EmbeddedCorpus.VALID_SEED, 64 << 10));
        out.addAll(measure(ctx, "train_step", Map.of("batch", Integer.toString(TRAIN_BATCH), "seq_len", Integer.toString(seq),
                "optimizer", "adamw"), () -> trainStep(ctx.model(), train, seq, ctx.seed())));
        for (Metric m : out) {
            ctx.log().printf(Locale.ROOT, "memory: %-10s %-12s %,10.1f MiB  (%s)%n", m.tags().get("phase"), m.name(), m.value(),
                    m.tags().getOrDefault("rss", "heap pools"));
        }
        return out;
    }

    /** One training step on {@code train}, then the model's weights and patcher state put back as they were. */
    static void trainStep(ByteModel m, ByteSource train, int seq, long seed) {
        float[] params = m.params().clone();
        Map<String, String> state = m.stateMeta();
        try {
            TrainConfig cfg = new TrainConfig(TRAIN_BATCH, seq, 1, 1e-3f, 1e-4f, 0, 1, "adamw", 0.1f, 1f, seed, 0);
            new Trainer(m, train, cfg).step();
        } finally {
            System.arraycopy(params, 0, m.params(), 0, params.length);
            Arrays.fill(m.grads(), 0f);
            m.backend().hostChanged(m.params(), m.grads());
            m.setWarmupFixed(0);
            m.restoreState(state);
        }
    }

    private List<Metric> measure(EvalContext ctx, String phase, Map<String, String> extra, Runnable work) throws Exception {
        System.gc();
        List<MemoryPoolMXBean> heap = ManagementFactory.getMemoryPoolMXBeans().stream()
                .filter(p -> p.getType() == MemoryType.HEAP && p.isValid()).toList();
        heap.forEach(MemoryPoolMXBean::resetPeakUsage);
        boolean hwmReset = resetHighWaterMark();
        RssSampler sampler = hwmReset ? null : RssSampler.start();
        try {
            work.run();
        } finally {
            if (sampler != null) {
                sampler.stop();
            }
        }
        long peakHeap = heap.stream().mapToLong(p -> Math.max(0, p.getPeakUsage().getUsed())).sum();
        double rss = hwmReset ? statusKib("VmHWM") : sampler.maxKib;
        Map<String, String> tags = new LinkedHashMap<>();
        tags.put("phase", phase);
        tags.putAll(new java.util.TreeMap<>(extra));
        tags.put("max_heap_mib", Long.toString(Runtime.getRuntime().maxMemory() >> 20));
        Map<String, String> rssTags = new LinkedHashMap<>(tags);
        rssTags.put("rss", Double.isNaN(rss) ? "no /proc/self/status" : hwmReset ? "VmHWM, reset at the phase start"
                : "highest VmRSS sampled every 5 ms");
        return List.of(new Metric(NAME, "peak_heap_mib", peakHeap / 1048576.0, Double.NaN, 1, tags),
                new Metric(NAME, "peak_rss_mib", rss / 1024, Double.NaN, 1, rssTags));
    }

    /** Resets the kernel's peak resident size of this process (VmHWM); false where it cannot. */
    static boolean resetHighWaterMark() {
        try {
            Files.writeString(CLEAR_REFS, "5");
            return !Double.isNaN(statusKib("VmHWM"));
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** A {@code /proc/self/status} field in KiB, NaN where there is none. */
    static double statusKib(String field) {
        try {
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith(field + ":")) {
                    return Double.parseDouble(line.substring(field.length() + 1).replace("kB", "").strip());
                }
            }
        } catch (IOException | RuntimeException e) {
            // no /proc: NaN
        }
        return Double.NaN;
    }

    /** Reads VmRSS every 5 ms on a daemon thread and keeps the highest. */
    private static final class RssSampler implements Runnable {
        volatile boolean running = true;
        volatile double maxKib = Double.NaN;
        private Thread thread;

        static RssSampler start() {
            RssSampler s = new RssSampler();
            s.sample();
            s.thread = Thread.ofPlatform().daemon().name("ionllama-rss-sampler").start(s);
            return s;
        }

        private void sample() {
            double v = statusKib("VmRSS");
            if (!Double.isNaN(v) && (Double.isNaN(maxKib) || v > maxKib)) {
                maxKib = v;
            }
        }

        @Override
        public void run() {
            while (running) {
                sample();
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        void stop() throws InterruptedException {
            running = false;
            thread.join();
            sample();
        }
    }
}
