package io.ionllama.cli;

import com.google.gson.GsonBuilder;
import io.ionllama.backend.Backend;
import io.ionllama.data.Corpus;
import io.ionllama.eval.TokunPlot;
import io.ionllama.eval.TokunScore;
import io.ionllama.model.Tokun;
import java.nio.charset.StandardCharsets;
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
 * {@code ionllama tokun eval}: per text (language), exact reconstruction (byte and chunk accuracy)
 * and the seed's two robustness experiments at each noise level ({@link TokunScore}); a table on
 * standard output and, with --results, a JSON file (schema {@value #SCHEMA}).
 */
@Command(name = "eval", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        description = "Score a tokun checkpoint: byte and chunk accuracy per text, and accuracy under latent noise.")
final class TokunEvalCommand implements Callable<Integer> {
    static final String SCHEMA = "ionllama-tokun-eval/1";
    /** The --data value that means the embedded corpus's validation bytes. */
    static final String EMBEDDED = "embedded";

    @Option(names = "--checkpoint", required = true, description = "A tokun checkpoint, or a run folder (its latest).")
    Path checkpoint;

    @Option(names = "--data", description = "[LANG=]FILE, repeatable: each text scored on its own, under LANG (default: the file's name); 'embedded' is the embedded corpus's validation bytes, the default.")
    List<String> data = new ArrayList<>();

    @Option(names = "--max-bytes", defaultValue = "65536", description = "Bytes scored per text (its first ones).")
    int maxBytes;

    @Option(names = "--noise", defaultValue = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0",
            description = "Noise levels k (x the latent's per-dimension std); empty: no robustness experiments.")
    String noise;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the noise draws.")
    long seed;

    @Option(names = "--results", description = "Write the results as JSON to this file.")
    Path results;

    @Option(names = "--plot", description = "Draw the robustness curves (byte accuracy against k, both experiments, per text) to this PNG.")
    Path plot;

    @Mixin
    BackendOptions backendOptions = new BackendOptions();

    @Override
    public Integer call() throws Exception {
        Bounds.check("--max-bytes", maxBytes, 1, Bounds.MAX_BYTES * 64L);
        double[] ks = levels(noise);
        List<String> names = new ArrayList<>();
        List<byte[]> texts = new ArrayList<>();
        for (String spec : data.isEmpty() ? List.of(EMBEDDED) : data) {
            int eq = spec.indexOf('=');
            String name = eq > 0 ? spec.substring(0, eq) : spec;
            Path file = Path.of(eq > 0 ? spec.substring(eq + 1) : spec);
            if (file.toString().equals(EMBEDDED) && !Files.exists(file)) {
                try (Corpus c = Corpus.embedded()) {
                    names.add(name);
                    texts.add(TokunCommand.bytes(c.valid(), 0, (int) Math.min(maxBytes, c.valid().size())));
                }
                continue;
            }
            if (!Files.isRegularFile(file)) {
                throw new Errors.UserError("--data: no such file: " + file);
            }
            byte[] all = Files.readAllBytes(file);
            if (all.length == 0) {
                throw new Errors.UserError("--data: " + file + " is empty");
            }
            names.add(eq > 0 ? name : file.getFileName().toString());
            texts.add(all.length > maxBytes ? java.util.Arrays.copyOf(all, maxBytes) : all);
        }
        backendOptions.validate();
        try (Backend be = backendOptions.open()) {
            Tokun m = TokunCommand.load(checkpoint, be);
            System.out.printf("ionllama tokun eval: %s, %s%n", m.config, be.describe());
            List<Map<String, Object>> rows = new ArrayList<>();
            List<TokunPlot.Curve> curves = new ArrayList<>();
            System.out.printf("%-14s %10s %10s %10s %8s%n", "text", "bytes", "byte acc", "chunk acc", "loss");
            for (int i = 0; i < texts.size(); i++) {
                TokunScore.Score s = TokunScore.score(m, texts.get(i));
                System.out.printf(Locale.ROOT, "%-14s %,10d %9.2f%% %9.2f%% %8.4f%n", names.get(i), s.bytes(),
                        100 * s.byteAccuracy(), 100 * s.chunkAccuracy(), s.loss());
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("name", names.get(i));
                row.putAll(json(s));
                if (ks.length > 0) {
                    List<Map<String, Object>> curve = new ArrayList<>();
                    TokunScore.Noise[] noisy = TokunScore.robustness(m, texts.get(i), ks, seed);
                    curves.add(new TokunPlot.Curve(names.get(i), s, noisy));
                    for (TokunScore.Noise n : noisy) {
                        Map<String, Object> point = new LinkedHashMap<>();
                        point.put("k", n.k());
                        point.put("gaussian", json(n.gaussian()));
                        point.put("random_direction", json(n.direction()));
                        curve.add(point);
                    }
                    row.put("noise", curve);
                }
                rows.add(row);
            }
            if (ks.length > 0) {
                System.out.println("\nrobustness: byte / chunk accuracy with noise k x sigma (per-dimension std of the latent)"
                        + " added, and the same norm along random directions");
                System.out.printf("%-14s %5s %22s %22s%n", "text", "k", "gaussian k·sigma", "random direction");
                for (Map<String, Object> row : rows) {
                    for (Object o : (List<?>) row.get("noise")) {
                        Map<?, ?> p = (Map<?, ?>) o;
                        System.out.printf(Locale.ROOT, "%-14s %5.2f %22s %22s%n", row.get("name"), p.get("k"),
                                pair((Map<?, ?>) p.get("gaussian")), pair((Map<?, ?>) p.get("random_direction")));
                    }
                }
            }
            if (plot != null && !curves.isEmpty()) {
                Path parent = plot.toAbsolutePath().getParent();
                if (parent != null) {
                    Files.createDirectories(parent);
                }
                TokunPlot.write(plot, "tokun robustness: " + m.config.describe(), curves);
                System.out.println("plot: " + plot);
            }
            if (results != null) {
                Map<String, Object> doc = new LinkedHashMap<>();
                doc.put("schema", SCHEMA);
                doc.put("checkpoint", checkpoint.toString());
                doc.put("model", m.configMap());
                doc.put("seed", seed);
                doc.put("texts", rows);
                Path parent = results.toAbsolutePath().getParent();
                if (parent != null) {
                    Files.createDirectories(parent);
                }
                Files.writeString(results, new GsonBuilder().setPrettyPrinting().create().toJson(doc) + "\n", StandardCharsets.UTF_8);
                System.out.println("results: " + results);
            }
            return 0;
        }
    }

    private static String pair(Map<?, ?> s) {
        return String.format(Locale.ROOT, "%6.2f%% / %6.2f%%", 100 * (Double) s.get("byte_accuracy"),
                100 * (Double) s.get("chunk_accuracy"));
    }

    private static Map<String, Object> json(TokunScore.Score s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("bytes", s.bytes());
        m.put("byte_accuracy", s.byteAccuracy());
        m.put("chunks", s.chunks());
        m.put("chunk_accuracy", s.chunkAccuracy());
        m.put("loss", s.loss());
        return m;
    }

    /** "0.1,0.5" → {0.1, 0.5}; "" → none; anything else one line. */
    static double[] levels(String s) {
        double[] k = CommaList.doubles("--noise", s, "0.1,0.5,1");
        for (double v : k) {
            Bounds.check("--noise", v, 0, 100);
        }
        return k;
    }
}
