package io.ionllama.cli;

import io.ionllama.backend.Backend;
import io.ionllama.data.Corpus;
import io.ionllama.model.Architecture;
import io.ionllama.model.ByteModel;
import io.ionllama.model.ContextRnn;
import io.ionllama.model.DenseConfig;
import io.ionllama.model.DenseGpt;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.ParamLayout;
import io.ionllama.model.Patcher;
import io.ionllama.model.RnnConfig;
import io.ionllama.train.Checkpoint;
import io.ionllama.train.CurvePlot;
import io.ionllama.train.GradientExchange;
import io.ionllama.train.TrainConfig;
import io.ionllama.train.TrainRun;
import io.ionllama.train.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ionllama train}: trains a model and writes checkpoints, metrics and curves. */
@Command(name = "train", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        description = {"Train a model. With no arguments: nano on the embedded corpus, a few minutes on 2 cores.",
            "Writes latest/best/step_N checkpoints, metrics.jsonl, TensorBoard events and curves.png to --out."})
final class TrainCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model = new ModelOptions();

    @Option(names = "--data", description = "Training bytes: a file or a directory (recursive, sorted); .gz/.xz read transparently. Default: the embedded corpus.")
    Path data;

    @Option(names = "--val-data", description = "Validation bytes (default: the last 5%% of --data).")
    Path valData;

    @Option(names = "--dataset", description = "A named dataset downloaded once into the cache: tinystories, enwik8, shakespeare.")
    String dataset;

    @Option(names = "--mix-tasks", defaultValue = "0", description = "Fraction of training windows that are task lines (arithmetic, spelling, counting, ...; training words and operand pairs only), in [0, 1). Chosen per (seed, step): resume stays exact.")
    double mixTasks;

    @Option(names = "--cache-dir", description = "Where downloads and decompressed data are kept (default: ~/.cache/ionllama or $IONLLAMA_CACHE).")
    Path cacheDir;

    @Option(names = "--max-steps", defaultValue = "400", description = "Optimizer steps (also the cosine schedule's length unless --max-time is given; with --max-time and no --max-steps: no step limit).")
    long maxSteps;

    @Option(names = "--max-time", defaultValue = "0", description = "Time budget of training, e.g. 90s, 15m, 2h (0: none): the cosine schedule runs over it, not over --max-steps, and the run stops at its end.")
    String maxTime;

    @Option(names = "--dropout", defaultValue = "0", description = "Dropout rate on the residual branches of ionllama's encoder, global and decoder blocks and of dense's blocks, during training (0: off, as the source documents train).")
    double dropout;

    @Option(names = "--clock", defaultValue = "wall", description = "What --max-time and the time axis measure: wall (elapsed time) or cpu (this process's CPU time: equal compute for every run even beside other jobs).")
    String clock;

    @Option(names = "--batch-size", defaultValue = "8", description = "Sequences per micro-batch.")
    int batchSize;

    @Option(names = "--seq-len", defaultValue = "256", description = "Bytes per sequence.")
    int seqLen;

    @Option(names = "--grad-accum", defaultValue = "1", description = "Micro-batches per optimizer step.")
    int gradAccum;

    @Option(names = "--grad-accum-sum", defaultValue = "in-place", description = "How a step's micro-batch gradients are summed: in-place (each backward adds into the last) or separate (each alone, then added in order, as ionllama-spark's workers do: equals --workers N bit for bit; one more gradient-sized array).")
    String gradAccumSum;

    @Option(names = "--lr", description = "Peak learning rate (Muon's under --optimizer muon). Default 3e-3; dense: 0.01 with Muon, 1e-3 with AdamW; rnn: 1e-3.")
    Double lr;

    @Option(names = "--min-lr", description = "Learning rate at the end of the cosine decay. Default 3e-4; dense, rnn: --lr / 10.")
    Double minLr;

    @Option(names = "--adamw-lr", description = "Under Muon: AdamW's peak rate for embeddings, norms and head (same schedule). Default: --lr; dense: 1e-3.")
    Double adamwLr;

    @Option(names = "--warmup", defaultValue = "30", description = "Linear learning-rate warm-up steps.")
    int warmup;

    @Option(names = "--optimizer", description = "adamw, or muon (Muon for hidden matrices, AdamW for the rest). Default adamw; dense: muon.")
    String optimizer;

    @Option(names = "--weight-decay", defaultValue = "0.1", description = "Decoupled weight decay on matrices.")
    double weightDecay;

    @Option(names = "--clip", defaultValue = "1.0", description = "Global gradient-norm clip (0: off).")
    double clip;

    @Option(names = "--seed", defaultValue = "1337", description = "Seed for initialisation and data order.")
    long seed;

    @Option(names = "--patcher", defaultValue = "entropy", description = "entropy, monotonic, space, fixed:N, or tokun:PATH (a trained tokun checkpoint as a frozen patch encoder: patches of its chunk, each the tokun's latent).")
    String patcher;

    @Option(names = "--entropy-warmup", defaultValue = "60", description = "Steps of fixed patches while the entropy model learns.")
    int entropyWarmup;

    @Option(names = "--attention", defaultValue = "dilated", description = "dilated (sparse, O(P log P)) or dense (O(P^2) ablation).")
    String attention;

    @Mixin
    BackendOptions backendOptions = new BackendOptions();

    @Option(names = "--run-name", description = "Name of the run (default: <size>-<date>-<time>).")
    String runName;

    @Option(names = "--out", description = "Output folder (default: checkpoints/<run-name>).")
    Path out;

    @Option(names = "--eval-every", defaultValue = "100", description = "Evaluate (and print a sample) every N steps.")
    int evalEvery;

    @Option(names = "--eval-batches", defaultValue = "4", description = "Validation batches per evaluation.")
    int evalBatches;

    @Option(names = "--save-every", defaultValue = "200", description = "Write step_N checkpoints every N steps (0: only latest and best).")
    int saveEvery;

    @Option(names = "--keep", defaultValue = "3", description = "step_N checkpoints to keep.")
    int keep;

    @Option(names = "--log-every", defaultValue = "10", description = "Log metrics every N steps.")
    int logEvery;

    @Option(names = "--sample-bytes", defaultValue = "120", description = "Bytes generated at each evaluation (0: none).")
    int sampleBytes;

    @Option(names = "--plot-x", defaultValue = "step", description = "curves.png's x axis: step, bytes (bytes seen) or time (training time).")
    String plotX;

    @Option(names = "--resume", arity = "0..1", fallbackValue = "", description = "Continue from a checkpoint file or run folder (its latest); without a value: --out's latest.")
    String resume;

    @Option(names = "--progress", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Live progress bar on a terminal (plain log lines otherwise).")
    boolean progress;

    @Spec
    CommandSpec spec;

    /** Where the run's lines go (a data-parallel worker other than rank 0 prints nothing). */
    java.io.PrintStream log;

    /** Set by {@link TrainWorker}: this process is one worker of a data-parallel run (null: the whole run). */
    GradientExchange exchange;

    @Override
    public Integer call() throws Exception {
        if (log == null) {
            log = System.out;
        }
        boolean denseModel = model.dense();
        boolean rnnModel = model.rnn();
        long maxSeconds = checkFlags();
        check(!(rnnModel && dropout > 0), "--dropout: --model rnn has no residual branches to drop (it is for ionllama and dense)");
        CurvePlot.XAxis plotAxis;
        try {
            plotAxis = CurvePlot.XAxis.parse(plotX);
        } catch (IllegalArgumentException e) {
            throw new Errors.UserError(e.getMessage());
        }
        Path resumeFrom = resumePath();
        ModelConfig config = denseModel || rnnModel ? null : model.config();
        DenseConfig denseConfig = denseModel ? model.denseConfig() : null;
        RnnConfig rnnConfig = rnnModel ? model.rnnConfig() : null;
        String patcherSpec = patcher;
        boolean dense = attention.equals("dense");
        Checkpoint.Meta resumeMeta = null;
        if (resumeFrom != null) {
            Checkpoint.Meta meta = Checkpoint.readMeta(resumeFrom);
            Checkpoint.checkArchitecture(resumeFrom, meta, model.kind());
            ResumeCheck resumeCheck = new ResumeCheck(resumeFrom, meta, this::given);
            if (!denseModel && !rnnModel) {
                resumeCheck.model(config, modelFlags(), patcherSpec, attention);
            }
            resumeCheck.training(this).throwIfConflicts();
            maxSeconds = parseDuration(maxTime); // the checkpoint's time budget when --max-time is not given
            config = meta.config();
            denseConfig = meta.denseConfig();
            rnnConfig = meta.rnnConfig();
            patcherSpec = meta.patcher();
            dense = meta.dense();
            resumeMeta = meta;
            if (meta.step() >= maxSteps) {
                throw new Errors.UserError("nothing left to do: " + resumeFrom + " is at step " + meta.step() + " and --max-steps is "
                        + maxSteps + " (give a larger --max-steps to train further)");
            }
        }
        TokunPatcher tokunPatcher = resumeFrom == null && config != null && Patcher.isTokun(patcherSpec)
                ? tokunPatcher(patcherSpec, config) : null;
        if (exchange != null) {
            // Each worker's clock differs: a time-driven schedule would give them different rates.
            check(maxSeconds == 0, "--max-time: a data-parallel run is step-driven (give --max-steps)");
            check(gradAccum == exchange.workers(), "--grad-accum must equal --workers (" + exchange.workers()
                    + "): a step's micro-batches are the workers' (got " + gradAccum + ")");
        }
        if (denseModel) {
            check(seqLen <= denseConfig.context(), "--seq-len (" + seqLen + ") is longer than the dense model's --context ("
                    + denseConfig.context() + ")");
        } else if (config != null && !Architecture.layout(config).fitsInOneArray()) {
            throw new Errors.UserError("model " + config.size() + " has more than 2^31 parameters: they cannot live in one Java array");
        }
        // The seed's optimizer for the dense model: Muon at 0.01 for the hidden matrices, AdamW at 1e-3 for the rest.
        // The context-vector RNN: AdamW at 1e-3 (its seed trains with Adam), decaying to a tenth.
        String opt = optimizer != null ? optimizer : denseModel ? "muon" : "adamw";
        double peak = lr != null ? lr : rnnModel ? 1e-3 : !denseModel ? 3e-3 : opt.equals("muon") ? 1e-2 : 1e-3;
        double floor = minLr != null ? minLr : denseModel || rnnModel ? peak / 10 : Math.min(3e-4, peak);
        double adamwPeak = adamwLr != null ? adamwLr : denseModel ? 1e-3 : 0;
        Bounds.check("--min-lr", floor, 0, peak);
        // With a time budget the cosine runs over time (TrainConfig.lrAt), and --max-steps, given too, is only a cap.
        long steps = maxSeconds > 0 && !given("--max-steps") && resumeFrom == null ? Long.MAX_VALUE : maxSteps;
        TrainConfig cfg = new TrainConfig(batchSize, seqLen, gradAccum, (float) peak, (float) floor, warmup, steps, opt,
                (float) weightDecay, (float) clip, seed, entropyWarmup, (float) adamwPeak, maxSeconds, (float) dropout).validate();
        if (runName == null) {
            runName = out != null ? out.getFileName().toString()
                    : (config == null ? model.kind() : config.size()) + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        }
        if (out == null) {
            out = resumeFrom != null ? resumeFrom.toAbsolutePath().getParent() : Path.of("checkpoints", runName);
        }
        if (exchange == null || exchange.rank() == 0) {
            createOut();
        }
        Path cache = cacheDir != null ? cacheDir : Corpus.defaultCacheDir();

        try (Backend be = backendOptions.open(); Corpus corpus = openCorpus(cache)) {
            ByteModel m = denseModel ? new DenseGpt(denseConfig, be) : rnnModel ? new ContextRnn(rnnConfig, be)
                    : resumeMeta != null ? Checkpoint.newModel(resumeMeta, be) // its tokun patch encoder, if any, loads with it
                    : tokunPatcher != null ? new IonLlama(config, be, tokunPatcher.patcher(), dense,
                            Checkpoint.loadTokun(tokunPatcher.path(), be))
                    : new IonLlama(config, be, Patcher.parse(patcherSpec, config.maxPatch(), config.targetPatch()), dense);
            m.init(seed);
            Trainer trainer = new Trainer(m, corpus.train(), cfg).clock(clock).mixTasks(mixTasks)
                    .accumSum(Trainer.AccumSum.parse(gradAccumSum));
            if (exchange != null) {
                trainer.dataParallel(exchange);
            }
            double best = Double.NaN;
            long bytesSeen = 0;
            if (resumeFrom != null) {
                Checkpoint.Meta meta = Checkpoint.load(resumeFrom, m, trainer);
                best = meta.bestValidBpb();
                bytesSeen = meta.bytesSeen();
                log.printf("resuming from %s at step %d%n", resumeFrom, trainer.step);
            }
            ParamLayout layout = m.layout();
            if (denseModel) {
                log.printf("ionllama train: %s (%,d params, context %d), %s%n", m.describe(), layout.total(),
                        denseConfig.context(), be.describe());
            } else if (rnnModel) {
                log.printf("ionllama train: %s (%,d params), %s%n", m.describe(), layout.total(), be.describe());
            } else {
                log.printf("ionllama train: %s (%,d params), %s, patcher %s, %s attention%n", config.size(), layout.total(),
                        be.describe(), m.patcher().spec(), dense ? "dense" : "dilated");
            }
            log.printf("data: %s%s%n", corpus.description(), mixTasks > 0
                    ? String.format(java.util.Locale.ROOT, ", %.1f%% of windows task lines (--mix-tasks)", 100 * mixTasks) : "");
            String rates = opt.equals("muon") && adamwPeak > 0
                    ? String.format("Muon lr %.1e -> %.1e, AdamW lr %.1e", peak, floor, adamwPeak)
                    : String.format("lr %.1e -> %.1e, %s", peak, floor, opt);
            log.printf("batch %d x %d bytes x %d accum, %s, %s -> %s%n", batchSize, seqLen, gradAccum, rates,
                    maxSeconds == 0 ? steps + " steps" : "cosine over " + maxTime + " of training"
                            + (steps != Long.MAX_VALUE ? " (at most " + steps + " steps)" : ""), out);
            if (exchange != null && exchange.rank() > 0) {
                // Only rank 0 evaluates, saves and logs; the others take the same steps.
                while (trainer.step < cfg.maxSteps()) {
                    trainer.step();
                }
                return 0;
            }
            boolean bar = progress && System.console() != null && exchange == null;
            TrainRun run = new TrainRun(trainer, corpus, new TrainRun.Options(out, 0, evalEvery, evalBatches, saveEvery,
                    keep, logEvery, sampleBytes, bar), log, Double.isNaN(best) ? Double.POSITIVE_INFINITY : best, bytesSeen)
                    .plotX(plotAxis);
            // The summary is printed before the signal handler lets the JVM go: a Ctrl-C run ends with it.
            if (exchange != null) {
                // A stop must reach every worker at once: Spark cancels the job, the workers do not stop alone.
                printSummary(run.run());
                return 0;
            }
            try (StopOnSignal ignored = new StopOnSignal(run::requestStop)) {
                printSummary(run.run());
            }
            return 0;
        }
    }

    private void printSummary(TrainRun.Summary s) {
        boolean evaluated = Double.isFinite(s.bestValidBpb());
        log.printf("%s after %d steps in %s: last loss %.4f, %s, %.0f bytes/s%s%n",
                s.stopped() ? "stopped" : "done", s.steps(), duration(s.seconds()), s.lastLoss(),
                evaluated ? String.format("best valid BPB %.4f", s.bestValidBpb()) : "no evaluation yet",
                s.bytesPerSecond(), s.skipped() > 0 ? ", " + s.skipped() + " steps skipped (non-finite)" : "");
        log.println("checkpoint: " + s.checkpoint() + (Files.exists(out.resolve("best.safetensors"))
                ? "  (best: " + out.resolve("best.safetensors") + ")" : ""));
        log.println("metrics:    " + s.metrics());
        if (Files.exists(s.plot())) {
            log.println("plot:       " + s.plot());
        }
    }

    /** A {@code --patcher tokun:PATH}'s checkpoint, the patcher it implies and the tokun's dimensions. */
    record TokunPatcher(Path path, Patcher patcher, io.ionllama.model.TokunConfig config) {}

    /**
     * Reads {@code tokun:PATH}'s checkpoint metadata before any work, so a missing file, a
     * checkpoint of another model, or a chunk longer than --max-patch is one line; the weights load
     * once the backend is open.
     */
    static TokunPatcher tokunPatcher(String spec, ModelConfig config) throws java.io.IOException {
        String source = Patcher.tokunPath(spec);
        Path path = Path.of(source);
        Checkpoint.Meta meta;
        try {
            meta = Checkpoint.readMeta(path);
            Checkpoint.checkArchitecture(path, meta, io.ionllama.model.Tokun.KIND);
        } catch (Checkpoint.CheckpointException e) {
            throw new Errors.UserError("--patcher tokun: " + e.getMessage());
        }
        return new TokunPatcher(path, Patcher.tokun(source, meta.tokunConfig().chunk(), config.maxPatch(), config.targetPatch()),
                meta.tokunConfig());
    }

    /** The names of the model-shape flags (the ModelOptions mixin's). */
    private java.util.List<String> modelFlags() {
        return spec.mixins().get("model").options().stream().map(o -> o.longestName()).toList();
    }

    /** Whether {@code flag} was given on the command line (not just defaulted). */
    boolean given(String flag) {
        return spec.commandLine().getParseResult() != null && spec.commandLine().getParseResult().hasMatchedOption(flag);
    }

    /** Every numeric flag within what a run can do (see {@link Bounds}); returns --max-time in seconds. */
    private long checkFlags() {
        Bounds.check("--dropout", dropout, 0, 0.9);
        if (!clock.equals("wall") && !clock.equals("cpu")) {
            throw new Errors.UserError("--clock must be wall or cpu (got '" + clock + "')");
        }
        Bounds.batch("--batch-size", batchSize, "--seq-len", seqLen, 8);
        Bounds.check("--grad-accum", gradAccum, 1, Bounds.MAX_GRAD_ACCUM);
        Bounds.fraction("--mix-tasks", mixTasks);
        try {
            Trainer.AccumSum.parse(gradAccumSum);
        } catch (IllegalArgumentException e) {
            throw new Errors.UserError(e.getMessage());
        }
        if (lr != null) {
            Bounds.positive("--lr", lr, Bounds.MAX_LR);
        }
        if (adamwLr != null) {
            Bounds.positive("--adamw-lr", adamwLr, Bounds.MAX_LR);
        }
        if (minLr != null) {
            Bounds.check("--min-lr", minLr, 0, lr != null ? lr : Bounds.MAX_LR);
        }
        Bounds.check("--warmup", warmup, 0, Bounds.MAX_INTERVAL);
        Bounds.check("--max-steps", maxSteps, 1, Bounds.MAX_STEPS);
        Bounds.check("--weight-decay", weightDecay, 0, 10);
        Bounds.check("--clip", clip, 0, 1e6);
        Bounds.check("--entropy-warmup", entropyWarmup, 0, Bounds.MAX_INTERVAL);
        Bounds.check("--eval-every", evalEvery, 1, Bounds.MAX_INTERVAL);
        Bounds.check("--eval-batches", evalBatches, 1, 10_000);
        Bounds.check("--save-every", saveEvery, 0, Bounds.MAX_INTERVAL);
        Bounds.check("--keep", keep, 0, 10_000);
        Bounds.check("--log-every", logEvery, 1, Bounds.MAX_INTERVAL);
        Bounds.check("--sample-bytes", sampleBytes, 0, Bounds.MAX_BYTES);
        check(optimizer == null || optimizer.equals("adamw") || optimizer.equals("muon"),
                "--optimizer must be adamw or muon (got " + optimizer + ")");
        check(attention.equals("dilated") || attention.equals("dense"), "--attention must be dilated or dense (got " + attention + ")");
        backendOptions.validate();
        return parseDuration(maxTime);
    }

    /** Creates --out now, so a file in its way is one clear line before any work. */
    private void createOut() {
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw new Errors.UserError("--out " + out + " is a file, not a folder (name a folder for the run's checkpoints)");
        }
        try {
            Files.createDirectories(out);
        } catch (java.io.IOException e) {
            throw new Errors.UserError("--out: cannot create the folder " + out + " (" + Checkpoint.reason(e) + ")");
        }
    }

    private Corpus openCorpus(Path cache) throws java.io.IOException {
        if (dataset != null && data != null) {
            throw new Errors.UserError("give either --data or --dataset, not both");
        }
        if (dataset != null) {
            io.ionllama.data.Datasets.Local local = io.ionllama.data.Datasets.ensure(dataset, cache, log);
            return Corpus.open(local.train(), valData != null ? valData : local.valid(), seqLen + 1, cache);
        }
        if (data == null) {
            if (valData != null) {
                throw new Errors.UserError("--val-data needs --data");
            }
            return Corpus.embedded();
        }
        return Corpus.open(data, valData, seqLen + 1, cache);
    }

    private Path resumePath() {
        if (resume == null) {
            return null;
        }
        Path p;
        if (resume.isEmpty()) {
            if (out == null) {
                throw new Errors.UserError("--resume without a value needs --out (the run folder to continue)");
            }
            p = out;
        } else {
            p = Path.of(resume);
        }
        if (Files.isDirectory(p)) {
            p = p.resolve("latest.safetensors");
        }
        if (!Files.exists(p)) {
            throw new Errors.UserError("nothing to resume: no checkpoint at " + p);
        }
        return p;
    }

    static long parseDuration(String s) {
        String v = s.strip().toLowerCase();
        double seconds;
        try {
            long mult = 1;
            if (v.endsWith("h")) {
                mult = 3600;
            } else if (v.endsWith("m")) {
                mult = 60;
            }
            seconds = Double.parseDouble(v.endsWith("h") || v.endsWith("m") || v.endsWith("s") ? v.substring(0, v.length() - 1) : v)
                    * mult;
        } catch (NumberFormatException e) {
            throw new Errors.UserError("--max-time: cannot read '" + s + "' (examples: 90s, 15m, 2h)");
        }
        if (!(seconds >= 0 && seconds <= Bounds.MAX_SECONDS)) {
            throw new Errors.UserError("--max-time must be between 0 and " + Bounds.MAX_SECONDS / 3600 + "h (got " + s + ")");
        }
        return Math.round(seconds);
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new Errors.UserError(message);
        }
    }

    private static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%dh%02dm", s / 3600, s % 3600 / 60) : String.format("%dm%02ds", s / 60, s % 60);
    }
}
