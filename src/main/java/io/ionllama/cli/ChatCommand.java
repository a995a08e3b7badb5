package io.ionllama.cli;

import io.ionllama.backend.Backend;
import io.ionllama.data.Corpus;
import io.ionllama.generate.Generator;
import io.ionllama.generate.Sampling;
import io.ionllama.generate.StopStrings;
import io.ionllama.model.ByteModel;
import io.ionllama.train.Checkpoint;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.UserInterruptException;
import org.jline.terminal.Size;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ionllama chat}: a REPL. On a terminal it reads lines with JLine (editing, history kept in
 * the cache folder, Ctrl-C stops a reply, Ctrl-D leaves); otherwise it reads standard input line by
 * line with no prompts or escape codes, for scripts. See {@link ChatSession} for the commands.
 */
@Command(name = "chat", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        description = {"Talk to a trained model: each line you type is continued by the model, with the conversation so far as context.",
            "Commands: /help /config /temp X /topk X /topp X /length X /penalty X /seed X /reset /quit.",
            "Ctrl-C stops a reply, Ctrl-D leaves. Reads plain lines from standard input when it is not a terminal."})
final class ChatCommand implements Callable<Integer> {

    @Option(names = "--checkpoint", required = true, description = "A checkpoint file, or a run folder (its best, else latest).")
    Path checkpoint;

    @Mixin
    SamplingOptions sampling = new SamplingOptions();

    @Option(names = "--stop", paramLabel = "STRING", defaultValue = "\\n\\n",
            description = "A reply ends when it ends with STRING (not printed); repeatable; \\n, \\t, \\r, \\\\ are understood.")
    List<String> stop = new ArrayList<>();

    @Option(names = "--plain", description = "No line editing: read lines from standard input even on a terminal.")
    boolean plain;

    @Mixin
    BackendOptions backendOptions = new BackendOptions();

    @Override
    public Integer call() throws Exception {
        Sampling s = sampling.sampling();
        Path file = CheckpointPaths.resolve(checkpoint);
        List<String> stops = new ArrayList<>();
        for (String st : stop) {
            String u = SamplingOptions.unescape(st);
            if (!u.isEmpty()) {
                stops.add(u);
            }
        }
        boolean terminal = !plain && Tty.stdin() && Tty.stdout();
        try (Backend be = backendOptions.open()) {
            ByteModel model = Checkpoint.loadAny(file, be);
            // A model with a fixed context (dense) keeps at most that much conversation.
            int context = Math.min(sampling.context, model.maxContext());
            Generator generator = new Generator(model, context);
            if (terminal) {
                interactive(model, file, generator, s, stops, context);
            } else {
                StreamPrinter printer = new StreamPrinter(System.out, false, StopStrings.of(stops));
                ChatSession session = new ChatSession(generator, printer, m -> printer.text(m + "\n"), System.err::println, s,
                        sampling.maxNewBytes, sampling.seedOrRandom(), context);
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    if (!session.handle(line)) {
                        break;
                    }
                }
            }
            return 0;
        }
    }

    private void interactive(ByteModel model, Path file, Generator generator, Sampling s, List<String> stops,
                             int context) throws IOException {
        // SIG_IGN as the default makes JLine route native signals to handle() instead of the JVM's default (exit).
        try (Terminal t = TerminalBuilder.builder().system(true).nativeSignals(true).signalHandler(Terminal.SignalHandler.SIG_IGN)
                .encoding(StandardCharsets.UTF_8).build()) {
            if (t.getWidth() <= 0) {
                // A pseudo-terminal nobody sized (script, expect): JLine cannot lay out a line 0 columns wide.
                t.setSize(new Size(80, 24));
            }
            LineReaderBuilder rb = LineReaderBuilder.builder().terminal(t).appName("ionllama");
            Path historyFile = historyFile();
            if (historyFile != null) {
                rb.variable(LineReader.HISTORY_FILE, historyFile);
            }
            LineReader reader = rb.build();
            StreamPrinter printer = new StreamPrinter(t.output(), false, StopStrings.of(stops));
            ChatSession session = new ChatSession(generator, printer, m -> printer.text(m + "\n"), m -> printer.text(m + "\n"), s,
                    sampling.maxNewBytes, sampling.seedOrRandom(), context);
            t.handle(Terminal.Signal.INT, sig -> session.interrupt());
            printer.text(String.format("ionllama chat: %s model (%,d parameters) from %s%n%s%n/help for commands, Ctrl-C stops a reply, Ctrl-D or /quit leaves.%n",
                    model.describe(), model.layout().total(), file, session.config()));
            while (true) {
                String line;
                try {
                    line = reader.readLine("> ");
                } catch (UserInterruptException e) {
                    continue;
                } catch (EndOfFileException e) {
                    break;
                }
                if (!session.handle(line)) {
                    break;
                }
            }
        }
    }

    private static Path historyFile() {
        try {
            Path dir = Corpus.defaultCacheDir();
            Files.createDirectories(dir);
            return dir.resolve("chat_history");
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
