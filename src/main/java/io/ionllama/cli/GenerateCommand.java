package io.ionllama.cli;

import io.ionllama.backend.Backend;
import io.ionllama.generate.Generator;
import io.ionllama.generate.Sampling;
import io.ionllama.generate.StopStrings;
import io.ionllama.model.ByteModel;
import io.ionllama.train.Checkpoint;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ionllama generate}: continues a prompt, streaming the bytes as they are sampled. */
@Command(name = "generate", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        description = {"Continue a prompt with a trained model, streaming the text as it is generated.",
            "The prompt comes from --prompt, --prompt-file, or standard input when it is not a terminal.",
            "Output is valid UTF-8 (incomplete or broken sequences appear as U+FFFD) unless --raw."})
final class GenerateCommand implements Callable<Integer> {

    @Option(names = "--checkpoint", required = true, description = "A checkpoint file, or a run folder (its best, else latest).")
    Path checkpoint;

    @Option(names = "--prompt", description = "The prompt text.")
    String prompt;

    @Option(names = "--prompt-file", description = "Read the prompt's bytes from this file.")
    Path promptFile;

    @Mixin
    SamplingOptions sampling = new SamplingOptions();

    @Option(names = "--stop", paramLabel = "STRING",
            description = "Stop when the generated text ends with STRING (not printed); repeatable; \\n, \\t, \\r, \\\\ are understood.")
    List<String> stop = new ArrayList<>();

    @Option(names = "--echo", negatable = true, defaultValue = "true", fallbackValue = "true", description = "Print the prompt before the continuation.")
    boolean echo;

    @Option(names = "--raw", description = "Write the bytes exactly as generated (no UTF-8 repair, no final newline).")
    boolean raw;

    @Mixin
    BackendOptions backendOptions = new BackendOptions();

    @Override
    public Integer call() throws Exception {
        Sampling s = sampling.sampling();
        byte[] promptBytes = readPrompt();
        Path file = CheckpointPaths.resolve(checkpoint);
        List<String> stops = new ArrayList<>();
        for (String st : stop) {
            String u = SamplingOptions.unescape(st);
            if (u.isEmpty()) {
                throw new Errors.UserError("--stop must not be empty");
            }
            stops.add(u);
        }
        try (Backend be = backendOptions.open()) {
            ByteModel model = Checkpoint.loadAny(file, be);
            StreamPrinter printer = new StreamPrinter(System.out, raw, StopStrings.of(stops));
            if (echo) {
                printer.prompt(promptBytes);
            }
            int[] p = new int[promptBytes.length];
            for (int i = 0; i < p.length; i++) {
                p[i] = promptBytes[i] & 0xFF;
            }
            new Generator(model, sampling.context).generate(p, sampling.maxNewBytes, s, sampling.seedOrRandom(), printer::generated);
            printer.end();
            printer.newlineIfNeeded();
            return 0;
        }
    }

    private byte[] readPrompt() throws IOException {
        if (prompt != null && promptFile != null) {
            throw new Errors.UserError("give either --prompt or --prompt-file, not both");
        }
        if (prompt != null) {
            return prompt.getBytes(StandardCharsets.UTF_8);
        }
        if (promptFile != null) {
            if (!Files.isRegularFile(promptFile)) {
                throw new Errors.UserError("no prompt file at " + promptFile);
            }
            return Files.readAllBytes(promptFile);
        }
        if (Tty.stdin()) {
            throw new Errors.UserError("no prompt: give --prompt TEXT or --prompt-file FILE, or pipe it on standard input");
        }
        return System.in.readAllBytes();
    }
}
