package io.ionllama.cli;

import com.google.gson.GsonBuilder;
import io.ionllama.backend.Backend;
import io.ionllama.data.ByteSource;
import io.ionllama.data.Corpus;
import io.ionllama.data.EmbeddedCorpus;
import io.ionllama.model.ByteModel;
import io.ionllama.train.Checkpoint;
import io.ionllama.train.Evaluator;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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

    @Option(names = "--seq-len", defaultValue = "1024", description = "Bytes per window (each byte is scored once, with its window as context).")
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
        if (seqLen < 2 || batchSize < 1) {
            throw new Errors.UserError("--seq-len must be >= 2 and --batch-size >= 1");
        }
        Path file = CheckpointPaths.resolve(checkpoint);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("checkpoint", file.toString());
        List<Map<String, Object>> rows = new ArrayList<>();
        try (Backend be = backendOptions.open()) {
            ByteModel m = Checkpoint.loadAny(file, be);
            out.put("architecture", m.kind());
            out.put("model", m.configMap());
            System.out.printf("%-48s %10s %8s %8s %8s %10s %10s%n", "data", "bytes", "BPB", "ppl", "acc", "bytes/pat", "bytes/s");
            if (data.isEmpty()) {
                rows.add(score(m, "embedded-valid", ByteSource.of(EmbeddedCorpus.generate(EmbeddedCorpus.VALID_SEED,
                        Corpus.EMBEDDED_VALID_BYTES))));
            }
            for (Path p : data) {
                // Corpus.open reads files, folders and .gz/.xz; a whole file is scored, no split.
                try (Corpus c = Corpus.open(p, p, 2, cacheDir != null ? cacheDir : Corpus.defaultCacheDir())) {
                    rows.add(score(m, p.toString(), c.valid()));
                }
            }
        }
        out.put("results", rows);
        if (results != null) {
            Files.writeString(results, new GsonBuilder().setPrettyPrinting().create().toJson(out) + "\n", StandardCharsets.UTF_8);
            System.out.println("results: " + results);
        }
        return 0;
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
