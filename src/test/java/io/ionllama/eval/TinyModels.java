package io.ionllama.eval;

import io.ionllama.backend.Backend;
import io.ionllama.data.ByteSource;
import io.ionllama.model.ByteModel;
import io.ionllama.model.ContextRnn;
import io.ionllama.model.DenseConfig;
import io.ionllama.model.DenseGpt;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import io.ionllama.model.RnnConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** Small randomly initialised models of every kind, and contexts to run tasks on them. */
final class TinyModels {
    private TinyModels() {}

    static final List<String> KINDS = List.of("ionllama", "dense", "rnn");

    static ByteModel of(String kind, Backend be) {
        ByteModel m = switch (kind) {
            case "ionllama" -> {
                ModelConfig c = new ModelConfig("nano", 16, 16, 1, 2, 1, 1, 8, 1, new int[] {3}, 31, 32, 32, 2, 8, 3f).validate();
                yield new IonLlama(c, be, Patcher.parse("space", c.maxPatch(), c.targetPatch()), false);
            }
            case "dense" -> new DenseGpt(new DenseConfig(16, 1, 2, 32, 128).validate(), be);
            case "rnn" -> new ContextRnn(new RnnConfig(8, 16, 8, 1).validate(), be);
            default -> throw new IllegalArgumentException(kind);
        };
        m.init(5);
        return m;
    }

    static final String TEXT = "the cat sat on the mat. ".repeat(30);

    static EvalContext.Data data(String label, String text) {
        return new EvalContext.Data(label, label + ".txt", ByteSource.of(text.getBytes(StandardCharsets.UTF_8)));
    }

    /** A context over {@code files}, its log kept in {@code log}. */
    static EvalContext context(ByteModel m, ByteArrayOutputStream log, EvalContext.Data... files) {
        return new EvalContext(m, m.backend(), List.of(files), 0, 1, 1, new PrintStream(log, true, StandardCharsets.UTF_8));
    }
}
