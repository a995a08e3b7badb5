package io.ionllama.cli;

import io.ionllama.backend.Backend;
import io.ionllama.data.Corpus;
import io.ionllama.generate.Generator;
import io.ionllama.generate.Sampling;
import io.ionllama.generate.StopStrings;
import io.ionllama.model.ByteModel;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import io.ionllama.train.Checkpoint;
import io.ionllama.train.TrainConfig;
import io.ionllama.train.TrainRun;
import io.ionllama.train.Trainer;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ionllama demo}: a few prompts of each kind the embedded corpus teaches (a story,
 * arithmetic, spelling), from a given checkpoint, the newest local one, or a nano model trained
 * on the spot.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        description = {"Show what a model does with a few example prompts: a story, arithmetic, spelling, reversal.",
            "Uses --checkpoint, else the newest run under --checkpoints-dir (its best, else latest checkpoint),",
            "else first trains a nano model on the embedded corpus into <checkpoints-dir>/demo."})
final class DemoCommand implements Callable<Integer> {

    /** One demo prompt; {@code expected} is the right answer for task prompts, null for stories. */
    record Example(String title, String prompt, Sampling sampling, int maxNew, String stop, String expected) {}

    static final List<Example> EXAMPLES = List.of(
            new Example("story (temperature 0.6)", "Once upon a time", new Sampling(0.6f, 40, 0.95f, 1.1f, 64), 300, "\n\n", null),
            new Example("arithmetic (greedy)", "12 + 34 = ", Sampling.greedy(), 16, "\n", "46"),
            new Example("arithmetic (greedy)", "7 * 8 = ", Sampling.greedy(), 16, "\n", "56"),
            new Example("spelling (greedy)", "spell garden: ", Sampling.greedy(), 32, "\n", "g-a-r-d-e-n"),
            new Example("reversal (greedy)", "reverse stone: ", Sampling.greedy(), 32, "\n", "enots"));

    @Option(names = "--checkpoint", description = "A checkpoint file or run folder (default: the newest under --checkpoints-dir).")
    Path checkpoint;

    @Option(names = "--checkpoints-dir", defaultValue = "checkpoints", description = "Where to look for runs, and where the demo run is trained when there is none.")
    Path checkpointsDir;

    @Option(names = "--train-steps", defaultValue = "300", description = "Steps of the nano model trained when no checkpoint is found.")
    long trainSteps;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the sampled examples (and of the training run).")
    long seed;

    @Option(names = "--progress", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Progress bar while training on a terminal (plain log lines otherwise).")
    boolean progress;

    @Mixin
    BackendOptions backendOptions = new BackendOptions();

    @Override
    public Integer call() throws Exception {
        Bounds.check("--train-steps", trainSteps, 1, 1_000_000);
        backendOptions.validate();
        Path file = checkpoint != null ? CheckpointPaths.resolve(checkpoint) : CheckpointPaths.newest(checkpointsDir);
        try (Backend be = backendOptions.open()) {
            if (file == null) {
                file = train(be);
                be.forgetSteps(); // the training plan will not run again: let generation's steps stay on the device
            }
            ByteModel model = Checkpoint.loadAny(file, be);
            Checkpoint.Meta meta = Checkpoint.readMeta(file);
            System.out.printf("ionllama demo: %s model (%,d parameters), step %d, from %s%n", model.describe(),
                    model.layout().total(), meta.step(), file);
            Generator generator = new Generator(model, 1024);
            int right = 0, tasks = 0;
            for (Example ex : EXAMPLES) {
                System.out.println();
                System.out.println("== " + ex.title() + " ==");
                StreamPrinter printer = new StreamPrinter(System.out, false, StopStrings.of(List.of(ex.stop())));
                byte[] prompt = ex.prompt().getBytes(StandardCharsets.UTF_8);
                printer.prompt(prompt);
                ByteArrayOutputStream answer = new ByteArrayOutputStream();
                int[] p = new int[prompt.length];
                for (int i = 0; i < p.length; i++) {
                    p[i] = prompt[i] & 0xFF;
                }
                generator.generate(p, ex.maxNew(), ex.sampling(), seed, b -> {
                    answer.write(b);
                    return printer.generated(b);
                });
                printer.end();
                if (ex.expected() != null) {
                    String got = answer.toString(StandardCharsets.UTF_8).strip();
                    boolean ok = got.equals(ex.expected());
                    right += ok ? 1 : 0;
                    tasks++;
                    printer.text("   [expected " + ex.expected() + ": " + (ok ? "right" : "wrong") + "]");
                }
                printer.newlineIfNeeded();
            }
            System.out.printf("%n%d of %d task answers right. Try: ionllama chat --checkpoint %s%n", right, tasks, file);
            return 0;
        }
    }

    /** Trains nano on the embedded corpus into {@code <checkpoints-dir>/demo}; returns its best checkpoint. */
    private Path train(Backend be) throws Exception {
        Path out = checkpointsDir.resolve("demo");
        System.out.printf("No checkpoint under %s: training a nano model on the embedded corpus first (%d steps) into %s.%n",
                checkpointsDir, trainSteps, out);
        ModelConfig config = ModelConfig.of("nano");
        TrainConfig cfg = new TrainConfig(8, 256, 1, 3e-3f, 3e-4f, (int) Math.min(30, trainSteps / 4), trainSteps, "adamw", 0.1f,
                1.0f, seed, (int) Math.min(60, trainSteps / 5)).validate();
        try (Corpus corpus = Corpus.embedded()) {
            IonLlama m = new IonLlama(config, be, Patcher.parse("entropy", config.maxPatch(), config.targetPatch()), false);
            m.init(seed);
            Trainer trainer = new Trainer(m, corpus.train(), cfg);
            boolean bar = progress && Tty.stdout();
            long every = Math.max(1, trainSteps / 3);
            TrainRun run = new TrainRun(trainer, corpus, new TrainRun.Options(out, 0, (int) every, 2, 0, 0,
                    (int) Math.max(1, trainSteps / 12), 0, bar), System.out, Double.POSITIVE_INFINITY, 0);
            TrainRun.Summary s = run.run();
            System.out.printf("trained %d steps in %.0f s: last loss %.3f, best valid BPB %.3f%n", s.steps(), s.seconds(),
                    s.lastLoss(), s.bestValidBpb());
        }
        return CheckpointPaths.resolve(out);
    }
}
