package io.ionllama.cli;

import io.ionllama.backend.Backend;
import io.ionllama.backend.Backends;
import io.ionllama.data.ByteSource;
import io.ionllama.data.Corpus;
import io.ionllama.data.EmbeddedCorpus;
import io.ionllama.eval.EvalContext;
import io.ionllama.eval.EvalReport;
import io.ionllama.eval.EvalTask;
import io.ionllama.eval.Metric;
import io.ionllama.eval.ResultsJson;
import io.ionllama.eval.Suite;
import io.ionllama.model.ByteModel;
import io.ionllama.train.Checkpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ionllama eval}: the evaluation suite ({@link Suite}) on a checkpoint: each task's table,
 * results.json ({@link ResultsJson}) and an HTML report ({@link EvalReport}). Without
 * {@code --tasks} it runs {@code lm}: bits per byte of a checkpoint over whole files.
 */
@Command(name = "eval", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = "Evaluate a checkpoint: bits per byte, perplexity, accuracy and bytes per patch over whole files (--tasks lm),"
                + " and the rest of the suite (--tasks all); results.json and an HTML report.")
final class EvalCommand implements Callable<Integer> {

    @Option(names = "--checkpoint", required = true, description = "A checkpoint file or run folder (its best, else latest).")
    Path checkpoint;

    @Option(names = "--data", paramLabel = "[LANG=]FILE", description = "Files (or folders) to score, each optionally labelled with its language"
            + " (en=stories.txt zh=zh.txt); default: the embedded corpus's validation text.")
    List<String> data = new ArrayList<>();

    @Option(names = "--tasks", defaultValue = "lm", description = "Comma-separated tasks: lm, chars, arith, speed, memory, compression,"
            + " multilingual, or all.")
    String tasks;

    @Option(names = "--seq-len", defaultValue = "1024", description = "Bytes per window (each byte is scored once, with the bytes before it in its window as context).")
    int seqLen;

    @Option(names = "--batch-size", defaultValue = "8", description = "Windows per forward pass.")
    int batchSize;

    @Option(names = "--results", description = "Write every figure as JSON to this file (schema ionllama-eval/1, see README).")
    Path results;

    @Option(names = "--report", description = "Write a self-contained HTML report (figures embedded) to this file.")
    Path report;

    @Option(names = "--limit", defaultValue = "0", description = "Samples per slice of the sampled tasks (chars, arith); 0: each task's default.")
    int limit;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the sampled tasks' draws and of the memory task's training step.")
    long seed;

    @Option(names = "--cache-dir", description = "Where decompressed .gz/.xz data is kept (default: ~/.cache/ionllama).")
    Path cacheDir;

    @Mixin
    BackendOptions backendOptions = new BackendOptions();

    /** {@code LANG=FILE}: a short label of letters, digits, '_' or '-' before the first '='. */
    private static final Pattern LABELLED = Pattern.compile("([A-Za-z][A-Za-z0-9_-]{0,31})=(.+)");

    /** One --data value: its label (the language, else the file name) and its path. */
    record DataArg(String label, Path path) {
        static DataArg parse(String arg) {
            Matcher m = LABELLED.matcher(arg);
            if (m.matches() && !Files.exists(Path.of(arg))) {
                return new DataArg(m.group(1), Path.of(m.group(2)));
            }
            Path p = Path.of(arg);
            Path name = p.getFileName();
            return new DataArg(name == null ? arg : name.toString(), p);
        }
    }

    @Override
    public Integer call() throws Exception {
        Bounds.batch("--batch-size", batchSize, "--seq-len", seqLen, 2);
        Bounds.check("--limit", limit, 0, 10_000_000);
        backendOptions.validate();
        // Task names are checked before anything is loaded: a typo costs nothing.
        Suite.Settings settings = new Suite.Settings(seqLen, batchSize);
        List<EvalTask> selected = Suite.select(tasks, settings);
        List<DataArg> dataArgs = data.stream().map(DataArg::parse).toList();
        Path file = CheckpointPaths.resolve(checkpoint);
        checkWritable("--results", results, "results.json");
        checkWritable("--report", report, "report.html");
        Path cache = cacheDir != null ? cacheDir : Corpus.defaultCacheDir();
        List<Corpus> corpora = new ArrayList<>();
        List<Metric> metrics = new ArrayList<>();
        ResultsJson.RunInfo run;
        try (Backend be = backendOptions.open(); AutoCloseable closeCorpora = () -> closeAll(corpora)) {
            // Every file is opened (and checked) before the first table: bad data fails before any output.
            for (DataArg d : dataArgs) {
                // Corpus.open reads files, folders and .gz/.xz; a whole file is scored, no split.
                corpora.add(Corpus.open(d.path(), d.path(), 2, cache));
            }
            ByteModel m = Checkpoint.loadAny(file, be);
            List<EvalContext.Data> files = new ArrayList<>();
            if (dataArgs.isEmpty()) {
                files.add(new EvalContext.Data("embedded-valid", "embedded-valid",
                        ByteSource.of(EmbeddedCorpus.generate(EmbeddedCorpus.VALID_SEED, Corpus.EMBEDDED_VALID_BYTES))));
            }
            for (int i = 0; i < dataArgs.size(); i++) {
                files.add(new EvalContext.Data(dataArgs.get(i).label(), dataArgs.get(i).path().toString(), corpora.get(i).valid()));
            }
            int threads = backendOptions.threads != null ? backendOptions.threads : Backends.defaultThreads();
            EvalContext ctx = new EvalContext(m, be, List.copyOf(files), limit, seed, threads, System.out);
            for (int i = 0; i < selected.size(); i++) {
                if (selected.size() > 1) {
                    System.out.println((i == 0 ? "" : System.lineSeparator()) + "== " + selected.get(i).name());
                }
                metrics.addAll(selected.get(i).run(ctx));
            }
            run = new ResultsJson.RunInfo(file.toString(), m.kind(), m.configMap(), Version.version(), Version.commit(),
                    Instant.now().truncatedTo(ChronoUnit.SECONDS).toString(), seed, threads, be.name(), be.describe(),
                    selected.stream().map(EvalTask::name).toList(), seqLen, batchSize, limit, ctx.data());
        }
        if (results != null) {
            ResultsJson.write(results, run, metrics);
            System.out.println("results: " + results);
        }
        if (report != null) {
            EvalReport.write(report, run, metrics);
            System.out.println("report: " + report);
        }
        return 0;
    }

    /** An output file can be written: checked before the evaluation, not after it. */
    private static void checkWritable(String flag, Path out, String example) {
        if (out == null) {
            return;
        }
        if (Files.isDirectory(out)) {
            throw new Errors.UserError(flag + " " + out + " is a folder (name a file, e.g. " + example + ")");
        }
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            throw new Errors.UserError(flag + " " + out + ": its folder " + parent + " does not exist");
        }
        boolean existed = Files.exists(out);
        // Opening for append creates or keeps the file without changing it: the one sure test of writability.
        try (var ignored = Files.newOutputStream(out, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            // nothing to write yet
        } catch (IOException e) {
            throw new Errors.UserError(flag + " " + out + " cannot be written (" + Checkpoint.reason(e) + ")");
        }
        if (!existed) {
            try {
                Files.deleteIfExists(out);
            } catch (IOException ignored) {
                // An empty file left behind is harmless; it is overwritten at the end.
            }
        }
    }

    private static void closeAll(List<Corpus> corpora) throws IOException {
        for (Corpus c : corpora) {
            c.close();
        }
    }
}
