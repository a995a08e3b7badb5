package io.ionllama.train;

import io.ionllama.data.Corpus;
import io.ionllama.generate.Generator;
import io.ionllama.generate.Sampling;
import io.ionllama.model.ByteModel;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A whole training run: steps, evaluation with a generated sample, checkpoints
 * ({@code latest}, {@code best}, {@code step_N} keeping the last k), metrics JSONL, the curve
 * plot, progress, and a summary. A stop request (Ctrl-C) finishes the current step and saves
 * {@code latest} before exiting.
 */
public final class TrainRun {

    /** Run-level settings (the rest is {@link TrainConfig}). */
    public record Options(Path out, long maxSeconds, int evalEvery, int evalBatches, int saveEvery, int keep, int logEvery,
                          int sampleBytes, boolean progressBar) {}

    /** What the run ended with. */
    public record Summary(long steps, double lastLoss, double bestValidBpb, double seconds, double bytesPerSecond,
                          long skipped, Path checkpoint, Path metrics, Path plot, boolean stopped) {}

    private final Trainer trainer;
    private final ByteModel model;
    private final Corpus corpus;
    private final Options opt;
    private final PrintStream log;
    private volatile boolean stopRequested;
    private double bestValidBpb;
    private long bytesSeen;
    private CurvePlot.XAxis plotX = CurvePlot.XAxis.STEP;

    public TrainRun(Trainer trainer, Corpus corpus, Options opt, PrintStream log, double bestValidBpb, long bytesSeen) {
        this.trainer = trainer;
        this.model = trainer.model;
        this.corpus = corpus;
        this.opt = opt;
        this.log = log;
        this.bestValidBpb = bestValidBpb;
        this.bytesSeen = bytesSeen;
    }

    /** What curves.png's x axis shows (default: steps). */
    public TrainRun plotX(CurvePlot.XAxis x) {
        plotX = x;
        return this;
    }

    /**
     * Seconds of training, summed over the resumed runs: the trainer's clock, continued from the
     * checkpoint's {@code train.elapsed_s} (or, for a checkpoint without it, metrics.jsonl's last elapsed_s).
     */
    private double elapsed() {
        return trainer.elapsed();
    }

    /** Asks the loop to stop after the current step (and save). Safe from any thread. */
    public void requestStop() {
        stopRequested = true;
    }

    public Summary run() throws IOException {
        Files.createDirectories(opt.out());
        int stale = Safetensors.removeStaleTemporaries(opt.out());
        if (stale > 0) {
            log.printf("removed %d temporary checkpoint file(s) left by a run that was killed while saving%n", stale);
        }
        Path metricsFile = opt.out().resolve("metrics.jsonl");
        Path plot = opt.out().resolve("curves.png");
        Path latest = opt.out().resolve("latest.safetensors");
        TrainConfig cfg = trainer.cfg;
        Evaluator eval = new Evaluator(corpus.valid(), cfg.batch(), cfg.seqLen(), opt.evalBatches());
        long startStep = trainer.step;
        long t0 = System.nanoTime();
        long bytesAtStart = bytesSeen;
        double lastLoss = Double.NaN;
        boolean stopped = false;
        // A data-parallel run's all-reduce time and step time since the last log line.
        double exchangeSince = 0, stepSince = 0;
        long stepsSince = 0;
        try (MetricsLog metrics = new MetricsLog(metricsFile, startStep, new TensorBoardEvents(opt.out(), startStep));
             ProgressBar bar = opt.progressBar() ? new ProgressBarBuilder().setTaskName("train")
                     .setInitialMax(cfg.timeDriven() ? Math.round(cfg.maxSeconds()) : cfg.maxSteps())
                     .setStyle(ProgressBarStyle.ASCII).continuousUpdate().setUpdateIntervalMillis(500).build() : null) {
            if (Double.isNaN(trainer.elapsedBefore)) {
                trainer.elapsedBefore = metrics.lastElapsed();
            }
            trainer.startClock();
            if (bar != null) {
                bar.stepTo(cfg.timeDriven() ? Math.round(Math.min(elapsed(), cfg.maxSeconds())) : startStep);
            }
            while (trainer.step < cfg.maxSteps()) {
                double elapsed = (System.nanoTime() - t0) / 1e9;
                if (opt.maxSeconds() > 0 && elapsed >= opt.maxSeconds()) {
                    log.printf("time limit reached (%d s)%n", opt.maxSeconds());
                    break;
                }
                if (trainer.budgetSpent()) {
                    log.printf("time budget reached (%.0f s of training)%n", cfg.maxSeconds());
                    break;
                }
                if (stopRequested) {
                    stopped = true;
                    break;
                }
                long toDevice0 = model.backend().bytesToDevice(), toHost0 = model.backend().bytesToHost();
                long launches0 = model.backend().graphExecutions();
                Trainer.Step s = trainer.step();
                long toDevice = model.backend().bytesToDevice() - toDevice0, toHost = model.backend().bytesToHost() - toHost0;
                long launches = model.backend().graphExecutions() - launches0;
                bytesSeen += s.bytes();
                lastLoss = s.loss();
                exchangeSince += s.exchangeSeconds();
                stepSince += s.seconds();
                stepsSince++;
                double rate = (bytesSeen - bytesAtStart) / ((System.nanoTime() - t0) / 1e9);
                if (s.skipped()) {
                    log.printf("step %d skipped: non-finite loss or gradient (%d skipped so far)%n", s.step(), trainer.skippedSteps);
                }
                if (bar != null) {
                    bar.stepTo(cfg.timeDriven() ? Math.round(Math.min(elapsed(), cfg.maxSeconds())) : trainer.step);
                    bar.setExtraMessage(String.format(" loss %.3f bpb %.3f %.0f B/s", s.loss(), s.bpb(), rate));
                }
                if (trainer.step % opt.logEvery() == 0 || trainer.step == 1) {
                    Map<String, Object> rec = record("train", trainer.step, s.loss(), s.bpb(), s.accuracy(), s.bytesPerPatch());
                    rec.put("entropy_loss", s.entropyLoss());
                    rec.put("lr", (double) s.lr());
                    rec.put("grad_norm", s.gradNorm());
                    rec.put("bytes_per_s", rate);
                    rec.put("bytes_seen", bytesSeen);
                    rec.put("elapsed_s", elapsed());
                    rec.put("skipped", trainer.skippedSteps);
                    rec.put("peak_heap_mb", peakHeapMb());
                    if (toDevice + toHost > 0) {
                        rec.put("bytes_to_device", toDevice);
                        rec.put("bytes_to_host", toHost);
                        rec.put("graph_executions", launches);
                    }
                    String workers = "";
                    if (trainer.workers() > 1) {
                        double stepS = stepSince / stepsSince, exchangeS = exchangeSince / stepsSince;
                        rec.put("workers", trainer.workers());
                        rec.put("step_s", stepS);
                        rec.put("allreduce_s", exchangeS);
                        workers = String.format("  %d workers: %.2f steps/s, %.0f bytes/s each, all-reduce %.0f ms/step (%.0f%%)",
                                trainer.workers(), 1 / stepS, rate / trainer.workers(), 1e3 * exchangeS, 100 * exchangeS / stepS);
                    }
                    exchangeSince = stepSince = 0;
                    stepsSince = 0;
                    metrics.write(rec);
                    if (bar == null) {
                        long left = cfg.maxSteps() - trainer.step;
                        double eta = left * ((System.nanoTime() - t0) / 1e9) / Math.max(1, trainer.step - startStep);
                        if (cfg.timeDriven()) {
                            eta = Math.min(eta, Math.max(0, cfg.maxSeconds() - elapsed()));
                        }
                        log.printf("step %d/%s  loss %.4f  bpb %.4f%s  lr %.2e  |g| %.2f  %.0f bytes/s  ETA %s%s%s%n",
                                trainer.step, cfg.timeDriven() && cfg.maxSteps() == Long.MAX_VALUE ? "-" : Long.toString(cfg.maxSteps()), s.loss(), s.bpb(), perPatch(s.bytesPerPatch()), s.lr(), s.gradNorm(), rate,
                                duration(eta), toDevice + toHost > 0 ? String.format("  host->device %.1f MB, device->host %.1f MB, %d graph executions",
                                        toDevice / 1e6, toHost / 1e6, launches) : "", workers);
                    }
                }
                // The last step: the step budget's, or the first to end past the time budget.
                boolean last = trainer.step >= cfg.maxSteps() || trainer.budgetSpent();
                if (trainer.step % opt.evalEvery() == 0 || last) {
                    evaluate(eval, last, metrics, plot, bar);
                }
                if (opt.saveEvery() > 0 && trainer.step % opt.saveEvery() == 0) {
                    Path stepFile = opt.out().resolve("step_" + trainer.step + ".safetensors");
                    Checkpoint.save(stepFile, model, trainer, bytesSeen, bestValidBpb, null);
                    prune();
                }
                if (trainer.step % Math.max(1, Math.min(opt.evalEvery(), opt.saveEvery() > 0 ? opt.saveEvery() : opt.evalEvery())) == 0
                        || last) {
                    Checkpoint.save(latest, model, trainer, bytesSeen, bestValidBpb, null);
                }
            }
            Checkpoint.save(latest, model, trainer, bytesSeen, bestValidBpb, null);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        return new Summary(trainer.step, lastLoss, bestValidBpb, secs, (bytesSeen - bytesAtStart) / secs, trainer.skippedSteps,
                latest, metricsFile, plot, stopped);
    }

    private void evaluate(Evaluator eval, boolean last, MetricsLog metrics, Path plot, ProgressBar bar) throws IOException {
        Evaluator.Result r = eval.run(model, last);
        Map<String, Object> rec = record("valid", trainer.step, r.loss(), r.bpb(), r.accuracy(), r.bytesPerPatch());
        rec.put("perplexity", r.perplexity());
        rec.put("bytes_seen", bytesSeen);
        rec.put("elapsed_s", elapsed());
        rec.put("peak_heap_mb", peakHeapMb());
        metrics.write(rec);
        boolean better = Double.isFinite(r.bpb()) && !(r.bpb() >= bestValidBpb);
        if (better) {
            bestValidBpb = r.bpb();
            Checkpoint.save(opt.out().resolve("best.safetensors"), model, trainer, bytesSeen, bestValidBpb, null);
        }
        CurvePlot.write(plot, model.kind() + " " + model.describe(), metrics.train, metrics.valid, plotX);
        String sample = opt.sampleBytes() > 0 ? sample() : "";
        String line = String.format("eval step %d: valid loss %.4f  bpb %.4f  ppl %.2f  acc %.3f%s%s",
                trainer.step, r.loss(), r.bpb(), r.perplexity(), r.accuracy(), perPatch(r.bytesPerPatch()), better ? "  (best)" : "");
        if (bar != null) {
            System.err.print("\r\033[2K");
        }
        log.println(line);
        if (!sample.isEmpty()) {
            log.println("  sample: " + sample.replace("\n", "\n          "));
        }
    }

    /** "  bytes/patch X" for a model that patches; nothing for one that does not (dense). */
    private static String perPatch(double bytesPerPatch) {
        return bytesPerPatch > 0 ? String.format("  bytes/patch %.2f", bytesPerPatch) : "";
    }

    /** A short sample from a fixed prompt, decoded leniently for display. */
    private String sample() {
        int[] prompt = "Once upon a time".chars().toArray();
        List<Integer> out = new ArrayList<>();
        new Generator(model, trainer.cfg.seqLen()).generate(prompt, opt.sampleBytes(), Sampling.defaults(), trainer.step,
                out::add);
        byte[] bytes = new byte[prompt.length + out.size()];
        for (int i = 0; i < prompt.length; i++) {
            bytes[i] = (byte) prompt[i];
        }
        for (int i = 0; i < out.size(); i++) {
            bytes[prompt.length + i] = (byte) (int) out.get(i);
        }
        // Control characters (an undertrained model emits plenty) are shown as U+00B7, not sent to the terminal.
        StringBuilder shown = new StringBuilder();
        new String(bytes, StandardCharsets.UTF_8).codePoints()
                .forEach(cp -> shown.appendCodePoint(cp != '\n' && Character.isISOControl(cp) ? 0xB7 : cp));
        return shown.toString();
    }

    private void prune() throws IOException {
        if (opt.keep() <= 0) {
            return;
        }
        List<Path> steps;
        try (Stream<Path> s = Files.list(opt.out())) {
            steps = s.filter(p -> p.getFileName().toString().matches("step_\\d+\\.safetensors"))
                    .sorted((a, b) -> Long.compare(stepOf(a), stepOf(b))).toList();
        }
        for (int i = 0; i < steps.size() - opt.keep(); i++) {
            Files.deleteIfExists(steps.get(i));
        }
    }

    private static long stepOf(Path p) {
        String n = p.getFileName().toString();
        return Long.parseLong(n.substring(5, n.length() - ".safetensors".length()));
    }

    private static Map<String, Object> record(String kind, long step, double loss, double bpb, double acc, double bpp) {
        Map<String, Object> rec = new LinkedHashMap<>();
        rec.put("kind", kind);
        rec.put("step", step);
        rec.put("loss", loss);
        rec.put("bpb", bpb);
        rec.put("perplexity", Math.exp(loss));
        rec.put("accuracy", acc);
        rec.put("bytes_per_patch", bpp);
        rec.put("time", System.currentTimeMillis() / 1000.0);
        return rec;
    }

    static double peakHeapMb() {
        long peak = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                peak += pool.getPeakUsage().getUsed();
            }
        }
        return peak / 1048576.0;
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%dh%02dm", s / 3600, s % 3600 / 60) : String.format("%dm%02ds", s / 60, s % 60);
    }
}
