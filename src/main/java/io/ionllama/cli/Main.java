package io.ionllama.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code ionllama} command. Subcommands do the work; this class only wires them and turns
 * expected failures into one line on standard error and a non-zero exit.
 */
@Command(name = "ionllama",
        mixinStandardHelpOptions = true,
        versionProvider = Version.class,
        description = "Tokenizer-free byte-level language model (ionLlama v12) on the JVM: CPU kernels and TornadoVM TaskGraphs from one kernel library.",
        subcommands = {TrainCommand.class, EvalCommand.class, GenerateCommand.class, ChatCommand.class, DemoCommand.class, InfoCommand.class, DevicesCommand.class, BenchCommand.class, TokunCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        int code;
        try {
            code = run(args);
        } catch (OutOfMemoryError e) {
            code = Errors.handleOom(e);
        }
        System.exit(code);
    }

    /** Runs the CLI and returns its exit code (tests call this instead of {@link #main}). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler(Errors::handle);
        cli.setParameterExceptionHandler(Errors::handleBadArguments);
        return cli.execute(args);
    }
}
