package io.ionllama.cli;

import io.ionllama.backend.Backend;
import io.ionllama.data.ByteSource;
import io.ionllama.data.Corpus;
import io.ionllama.eval.TokunScore;
import io.ionllama.model.Tokun;
import io.ionllama.model.TokunConfig;
import io.ionllama.train.Checkpoint;
import io.ionllama.train.MetricsLog;
import io.ionllama.train.TokunBatches;
import io.ionllama.train.TrainConfig;
import io.ionllama.train.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ionllama tokun train}: trains tokun with the tool's {@link Trainer} (AdamW, warm-up and
 * cosine, clipping, time budget, exact resume), drawing chunks at random offsets
 * ({@link TokunBatches}); every --eval-every steps it scores exact reconstruction of the held-out
 * bytes and writes latest.safetensors and metrics.jsonl to --out.
 */
@Command(name = "train", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        description = "Train tokun. With no --data: the embedded corpus.")
final class TokunTrainCommand implements Callable<Integer> {

    @Option(names = "--data", description = "Training bytes: a file or a directory (recursive); repeat for several (each keeps its last 5%% for validation). Default: the embedded corpus.")
    List<Path> data = new ArrayList<>();

    @Option(names = "--groups", defaultValue = "4,4", description = "Bytes merged per stage: 4,4 is tokun-16 (16 bytes per vector), 4,4,4 tokun-64.")
    String groups;

    @Option(names = "--dim", defaultValue = "256", description = "Width of every vector (byte embeddings and the latent).")
    int dim;

    @Option(names = "--heads", description = "Attention heads per block (default: 4 where the width allows).")
    Integer heads;

    @Option(names = "--mlp", description = "SwiGLU hidden width (default: 2 x --dim).")
    Integer mlp;

    @Option(names = "--max-steps", description = "Optimizer steps, the cosine's length (default 400; with --max-time and no --max-steps: no step limit).")
    Long maxStepsGiven;

    @Option(names = "--max-time", defaultValue = "0", description = "Time budget, e.g. 90s, 15m (0: none): the cosine runs over it and the run stops at its end.")
    String maxTime;

    @Option(names = "--batch-size", defaultValue = "64", description = "Chunks per step.")
    int batchSize;

    @Option(names = "--lr", defaultValue = "3e-3", description = "Peak learning rate (AdamW).")
    double lr;

    @Option(names = "--min-lr", description = "Learning rate at the end of the cosine (default: --lr / 10).")
    Double minLr;

    @Option(names = "--warmup", defaultValue = "30", description = "Linear warm-up steps.")
    int warmup;

    @Option(names = "--weight-decay", defaultValue = "0", description = "Decoupled weight decay on matrices.")
    double weightDecay;

    @Option(names = "--clip", defaultValue = "1.0", description = "Global gradient-norm clip (0: off).")
    double clip;

    @Option(names = "--seed", defaultValue = "1337", description = "Seed for initialisation and data order.")
    long seed;

    @Option(names = "--out", defaultValue = "checkpoints/tokun", description = "Output folder: latest.safetensors, metrics.jsonl.")
    Path out;

    @Option(names = "--resume", description = "Continue from a tokun checkpoint file or run folder (its latest).")
    Path resume;

    @Option(names = "--log-every", defaultValue = "10", description = "Log training metrics every N steps.")
    int logEvery;

    @Option(names = "--eval-every", defaultValue = "100", description = "Score the held-out bytes and write latest.safetensors every N steps.")
    int evalEvery;

    @Option(names = "--eval-bytes", defaultValue = "16384", description = "Held-out bytes scored at each evaluation.")
    int evalBytes;

    @Option(names = "--cache-dir", description = "Where decompressed data is kept (default: ~/.cache/ionllama or $IONLLAMA_CACHE).")
    Path cacheDir;

    @Mixin
    BackendOptions backendOptions = new BackendOptions();

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** Whether {@code flag} was given on the command line (not just defaulted). */
    private boolean given(String flag) {
        return spec.commandLine().getParseResult() != null && spec.commandLine().getParseResult().hasMatchedOption(flag);
    }

    @Override
    public Integer call() throws Exception {
        TokunConfig config = config();
        long maxSteps = maxStepsGiven != null ? maxStepsGiven : 400;
        Bounds.check("--batch-size", batchSize, 1, Bounds.MAX_BATCH);
        Bounds.positive("--lr", lr, Bounds.MAX_LR);
        double floor = minLr != null ? minLr : lr / 10;
        Bounds.check("--min-lr", floor, 0, lr);
        Bounds.check("--warmup", warmup, 0, Bounds.MAX_INTERVAL);
        Bounds.check("--max-steps", maxSteps, 1, Bounds.MAX_STEPS);
        Bounds.check("--weight-decay", weightDecay, 0, 10);
        Bounds.check("--clip", clip, 0, 1e6);
        Bounds.check("--log-every", logEvery, 1, Bounds.MAX_INTERVAL);
        Bounds.check("--eval-every", evalEvery, 1, Bounds.MAX_INTERVAL);
        Bounds.check("--eval-bytes", evalBytes, 1, Bounds.MAX_BYTES);
        backendOptions.validate();
        long maxSeconds = TrainCommand.parseDuration(maxTime);
        Path resumeFrom = resume == null ? null : TokunCommand.checkpoint(resume);
        if (resumeFrom != null) {
            Checkpoint.Meta meta = Checkpoint.readMeta(resumeFrom);
            Checkpoint.checkArchitecture(resumeFrom, meta, Tokun.KIND);
            if (!meta.tokunConfig().equals(config) && (given("--groups") || given("--dim") || given("--heads") || given("--mlp"))) {
                throw new Errors.UserError("--resume: " + resumeFrom + " holds " + meta.tokunConfig() + ", not the " + config
                        + " asked for (leave out --groups/--dim/--heads/--mlp to continue it)");
            }
            config = meta.tokunConfig(); // the file's shape
            if (meta.step() >= maxSteps) {
                throw new Errors.UserError("nothing left to do: " + resumeFrom + " is at step " + meta.step() + " and --max-steps is "
                        + maxSteps + " (give a larger --max-steps to train further)");
            }
        }
        int chunk = config.chunk(), seqLen = TokunBatches.seqLen(chunk);
        int rows = Math.max(1, (batchSize * chunk + seqLen - 1) / seqLen);
        long steps = maxSeconds > 0 && maxStepsGiven == null ? Long.MAX_VALUE : maxSteps;
        TrainConfig cfg = new TrainConfig(rows, seqLen, 1, (float) lr, (float) floor, warmup, steps, "adamw",
                (float) weightDecay, (float) clip, seed, 0, 0f, maxSeconds).validate();
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw new Errors.UserError("--out " + out + " is a file, not a folder");
        }
        Files.createDirectories(out);
        List<Corpus> corpora = new ArrayList<>();
        try (Backend be = backendOptions.open()) {
            Tokun m = new Tokun(config, be);
            m.init(seed);
            List<ByteSource> trains = new ArrayList<>(), valids = new ArrayList<>();
            String desc = openData(corpora, trains, valids, seqLen);
            ByteSource train = ByteSource.concat(trains), valid = ByteSource.concat(valids);
            Trainer trainer = new Trainer(m, train, cfg).batches(new TokunBatches(train, seed, chunk));
            long bytesSeen = 0;
            if (resumeFrom != null) {
                bytesSeen = Checkpoint.load(resumeFrom, m, trainer).bytesSeen();
                System.out.printf("resuming from %s at step %d%n", resumeFrom, trainer.step);
            }
            System.out.printf("ionllama tokun train: %s (%,d params, %d bytes per vector), %s%n", config, m.layout.total(), chunk,
                    be.describe());
            System.out.printf("data: %s%n", desc);
            System.out.printf(Locale.ROOT, "batch %d chunks (%d bytes), lr %.1e -> %.1e, %s -> %s%n", rows * seqLen / chunk,
                    rows * seqLen, lr, floor, maxSeconds > 0 ? "cosine over " + maxTime : steps + " steps", out);
            byte[] held = TokunCommand.bytes(valid, 0, (int) Math.min(evalBytes, valid.size()));
            Path latest = out.resolve("latest.safetensors");
            try (MetricsLog log = new MetricsLog(out.resolve("metrics.jsonl"), trainer.step)) {
                trainer.startClock();
                Trainer.Step s = null;
                while (trainer.step < steps && !trainer.budgetSpent()) {
                    s = trainer.step();
                    bytesSeen += s.bytes();
                    boolean last = trainer.step >= steps || trainer.budgetSpent();
                    if (trainer.step % logEvery == 0 || last) {
                        System.out.printf(Locale.ROOT, "step %6d  loss %.4f  byte acc %6.2f%%  lr %.2e  grad %.3f%n", trainer.step,
                                s.loss(), 100 * s.accuracy(), s.lr(), s.gradNorm());
                        log.write(record("train", trainer, bytesSeen, Map.of("loss", s.loss(), "accuracy", s.accuracy(),
                                "lr", (double) s.lr(), "grad_norm", s.gradNorm())));
                    }
                    if (trainer.step % evalEvery == 0 || last) {
                        TokunScore.Score v = TokunScore.score(m, held);
                        System.out.printf(Locale.ROOT, "valid  %6d  loss %.4f  byte acc %6.2f%%  chunk acc %6.2f%%%n", trainer.step,
                                v.loss(), 100 * v.byteAccuracy(), 100 * v.chunkAccuracy());
                        log.write(record("valid", trainer, bytesSeen, Map.of("loss", v.loss(), "accuracy", v.byteAccuracy(),
                                "chunk_accuracy", v.chunkAccuracy())));
                        Map<String, String> extra = new LinkedHashMap<>();
                        extra.put("tokun.valid_byte_accuracy", Double.toString(v.byteAccuracy()));
                        extra.put("tokun.valid_chunk_accuracy", Double.toString(v.chunkAccuracy()));
                        Checkpoint.save(latest, m, trainer, bytesSeen, Double.NaN, extra);
                    }
                }
                System.out.printf(Locale.ROOT, "done after %d steps in %.1f s%s%ncheckpoint: %s%n", trainer.step, trainer.elapsed(),
                        s == null ? "" : String.format(Locale.ROOT, ", last loss %.4f", s.loss()), latest);
            }
            return 0;
        } finally {
            for (Corpus c : corpora) {
                c.close();
            }
        }
    }

    private TokunConfig config() {
        int[] g;
        try {
            g = TokunConfig.parseGroups(groups);
        } catch (IllegalArgumentException e) {
            throw new Errors.UserError("--groups: " + e.getMessage());
        }
        Bounds.check("--dim", dim, 2, 8192);
        TokunConfig base = TokunConfig.of(g, dim);
        TokunConfig c = new TokunConfig(g, dim, heads != null ? heads : base.heads(), mlp != null ? mlp : base.mlp());
        try {
            return c.validate();
        } catch (IllegalArgumentException e) {
            throw new Errors.UserError("tokun: " + e.getMessage());
        }
    }

    private String openData(List<Corpus> corpora, List<ByteSource> trains, List<ByteSource> valids, int seqLen)
            throws java.io.IOException {
        if (data.isEmpty()) {
            Corpus c = Corpus.embedded();
            corpora.add(c);
            trains.add(c.train());
            valids.add(c.valid());
            return c.description();
        }
        StringBuilder desc = new StringBuilder();
        for (Path p : data) {
            Corpus c = Corpus.open(p, null, seqLen + 1, cacheDir != null ? cacheDir : Corpus.defaultCacheDir());
            corpora.add(c);
            trains.add(c.train());
            valids.add(c.valid());
            desc.append(desc.length() == 0 ? "" : "; ").append(c.description());
        }
        return desc.toString();
    }

    private static Map<String, Object> record(String kind, Trainer t, long bytesSeen, Map<String, Double> values) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("kind", kind);
        r.put("step", t.step);
        r.put("bytes_seen", bytesSeen);
        r.put("elapsed_s", t.elapsed());
        r.putAll(new java.util.TreeMap<>(values));
        return r;
    }
}
