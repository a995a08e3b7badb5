package io.ionllama.cli;

import com.google.gson.GsonBuilder;
import io.ionllama.backend.Backend;
import io.ionllama.data.ByteSource;
import io.ionllama.data.Corpus;
import io.ionllama.data.EmbeddedCorpus;
import io.ionllama.model.ByteModel;
import io.ionllama.train.Checkpoint;
import io.ionllama.train.Evaluator;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ionllama eval}: bits per byte of a checkpoint over whole files, as a table and results.json. */
@Command(name = "eval", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = "Bits per byte, perplexity, next-byte accuracy and bytes per patch of a checkpoint over whole files.")
final class EvalCommand implements Callable<Integer> {

    @Option(names = "--checkpoint", required = true, description = "A checkpoint file or run folder (its best, else latest).")
    Path checkpoint;

    @Option(names = "--data", description = "Files (or folders) to score; default: the embedded corpus's validation text.")
    List<Path> data = new ArrayList<>();

    @Option(names = "--seq-len", defaultValue = "1024", description = "Bytes per window (each byte is scored once, with the bytes before it in its window as context).")
    int seqLen;

    @Option(names = "--batch-size", defaultValue = "8", description = "Windows per forward pass.")
    int batchSize;

    @Option(names = "--results", description = "Write the figures as JSON to this file (e.g. results.json).")
    Path results;

    @Option(names = "--cache-dir", description = "Where decompressed .gz/.xz data is kept (default: ~/.cache/ionllama).")
    Path cacheDir;

    @Mixin
    BackendOptions backendOptions = new BackendOptions();

    @Override
    public Integer call() throws Exception {
        Bounds.batch("--batch-size", batchSize, "--seq-len", seqLen, 2);
        backendOptions.validate();
        Path file = CheckpointPaths.resolve(checkpoint);
        checkResultsWritable();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("checkpoint", file.toString());
        List<Map<String, Object>> rows = new ArrayList<>();
        Path cache = cacheDir != null ? cacheDir : Corpus.defaultCacheDir();
        List<Corpus> corpora = new ArrayList<>();
        try (Backend be = backendOptions.open(); AutoCloseable closeCorpora = () -> closeAll(corpora)) {
            // Every file is opened (and checked) before the table starts: bad data fails before any output.
            for (Path p : data) {
                // Corpus.open reads files, folders and .gz/.xz; a whole file is scored, no split.
                corpora.add(Corpus.open(p, p, 2, cache));
            }
            ByteModel m = Checkpoint.loadAny(file, be);
            out.put("architecture", m.kind());
            out.put("model", m.configMap());
            System.out.printf("%-48s %10s %8s %8s %8s %10s %10s%n", "data", "bytes", "BPB", "ppl", "acc", "bytes/pat", "bytes/s");
            if (data.isEmpty()) {
                rows.add(score(m, "embedded-valid", ByteSource.of(EmbeddedCorpus.generate(EmbeddedCorpus.VALID_SEED,
                        Corpus.EMBEDDED_VALID_BYTES))));
            }
            for (int i = 0; i < data.size(); i++) {
                rows.add(score(m, data.get(i).toString(), corpora.get(i).valid()));
            }
        }
        out.put("results", rows);
        if (results != null) {
            Files.writeString(results, new GsonBuilder().setPrettyPrinting().create().toJson(out) + "\n", StandardCharsets.UTF_8);
            System.out.println("results: " + results);
        }
        return 0;
    }

    /** --results can be written: checked before the evaluation, not after it. */
    private void checkResultsWritable() {
        if (results == null) {
            return;
        }
        if (Files.isDirectory(results)) {
            throw new Errors.UserError("--results " + results + " is a folder (name a file, e.g. results.json)");
        }
        Path parent = results.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            throw new Errors.UserError("--results " + results + ": its folder " + parent + " does not exist");
        }
        boolean existed = Files.exists(results);
        // Opening for append creates or keeps the file without changing it: the one sure test of writability.
        try (var ignored = Files.newOutputStream(results, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            // nothing to write yet
        } catch (IOException e) {
            throw new Errors.UserError("--results " + results + " cannot be written (" + Checkpoint.reason(e) + ")");
        }
        if (!existed) {
            try {
                Files.deleteIfExists(results);
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

    private Map<String, Object> score(ByteModel m, String name, ByteSource src) {
        long t0 = System.nanoTime();
        Evaluator.Result r = Evaluator.whole(m, src, seqLen, batchSize);
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf("%-48s %,10d %8.4f %8.3f %8.4f %10.2f %,10.0f%n", shorten(name), r.bytes(), r.bpb(), r.perplexity(),
                r.accuracy(), r.bytesPerPatch(), r.bytes() / secs);
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("data", name);
        row.put("bytes", r.bytes());
        row.put("bpb", r.bpb());
        row.put("loss_nats", r.loss());
        row.put("perplexity", r.perplexity());
        row.put("accuracy", r.accuracy());
        row.put("bytes_per_patch", r.bytesPerPatch());
        row.put("bytes_per_s", r.bytes() / secs);
        return row;
    }

    private static String shorten(String s) {
        return s.length() <= 48 ? s : "..." + s.substring(s.length() - 45);
    }
}
