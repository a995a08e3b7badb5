package io.ionllama.cli;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Ctrl-C and SIGTERM during training: asks the run to stop after its current step, and holds the
 * JVM's shutdown until the run has saved and printed its summary ({@link #close}), then lets it
 * go at once.
 *
 * <p>The hook waits for this latch, not for the main thread: a main thread that has finished
 * calls System.exit, which blocks while hooks run, so waiting for it to end would always wait the
 * whole timeout (the old 60-second hang after every Ctrl-C and every training error).
 */
final class StopOnSignal implements AutoCloseable {

    /**
     * Longest wait for the current step and the save. Bounded because a second Ctrl-C does nothing
     * once the JVM is shutting down: a step that never ends must not keep the process forever.
     */
    static final long GRACE_SECONDS = 60;

    private final CountDownLatch finished = new CountDownLatch(1);
    private final Thread hook;

    StopOnSignal(Runnable requestStop) {
        hook = new Thread(() -> {
            requestStop.run();
            try {
                finished.await(GRACE_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "ionllama-stop");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /** The run has ended (saved, or failed): a pending shutdown may go on, and no later one waits. */
    @Override
    public void close() {
        finished.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException ignored) {
            // Already shutting down: the hook has been released above.
        }
    }
}
