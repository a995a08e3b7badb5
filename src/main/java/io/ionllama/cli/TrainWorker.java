package io.ionllama.cli;

import io.ionllama.train.GradientExchange;
import java.io.OutputStream;
import java.io.PrintStream;
import picocli.CommandLine;

/**
 * {@code ionllama train} as one worker of a data-parallel run (ionllama-spark, docs/distributed.md):
 * the same flags, with {@code --grad-accum} equal to the worker count; rank 0 evaluates, writes
 * checkpoints and metrics and prints, the others only take the steps. Failures are thrown, not
 * printed, so that the caller (a Spark barrier task) fails and the run can resume.
 */
public final class TrainWorker {

    private TrainWorker() {}

    /** Trains with {@code trainArgs} (the flags of {@code ionllama train}) as worker {@code ex.rank()}. */
    public static void run(String[] trainArgs, GradientExchange ex, PrintStream log) throws Exception {
        TrainCommand command = new TrainCommand();
        command.exchange = ex;
        command.log = ex.rank() == 0 ? log : new PrintStream(OutputStream.nullOutputStream());
        CommandLine cli = new CommandLine(command);
        cli.setExecutionExceptionHandler((e, c, parsed) -> {
            throw e;
        });
        cli.setParameterExceptionHandler((e, args) -> {
            throw new Errors.UserError(e.getMessage());
        });
        int code = cli.execute(trainArgs);
        if (code != 0) {
            throw new Errors.UserError("ionllama train exited with code " + code);
        }
    }

    /** Whether {@code t} (or a cause) is a mistake in the flags, which no retry can fix. */
    public static boolean isUserError(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof Errors.UserError) {
                return true;
            }
        }
        return false;
    }
}
