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
        // parseArgs and call, not execute: execute prints a failure and returns a code, and the task must throw it.
        try {
            new CommandLine(command).parseArgs(trainArgs);
        } catch (CommandLine.ParameterException e) {
            throw new Errors.UserError(e.getMessage());
        }
        command.call();
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
