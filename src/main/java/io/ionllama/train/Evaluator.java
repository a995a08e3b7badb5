package io.ionllama.train;

import io.ionllama.backend.Backend;
import io.ionllama.data.ByteSource;
import io.ionllama.model.ByteModel;

/**
 * Validation: the model's loss over fixed, evenly spaced windows of the validation bytes, so
 * every evaluation of a run (and of a resumed run) reads the same text.
 */
public final class Evaluator {

    /**
     * The backend step kinds of an evaluation batch: the same forward pass every batch, so a device
     * backend keeps the weights and activations on the device and replays it. During training it
     * is of the training group (it joins the training step's plan); on its own, its own group.
     */
    static final String TRAINING_EVAL = Backend.TRAIN_STEP + ": eval", EVAL = "eval";

    public record Result(double loss, double bpb, double perplexity, double accuracy, double bytesPerPatch, long bytes) {}

    private final ByteSource source;
    private final int batch, seqLen, batches;
    /** Evaluations run so far by {@link #run}. */
    private int runs;

    public Evaluator(ByteSource source, int batch, int seqLen, int batches) {
        this.source = source;
        this.batch = batch;
        this.seqLen = (int) Math.min(seqLen, source.size() - 1);
        this.batches = batches;
    }

    /**
     * Bits per byte over a whole source, every byte scored exactly once: consecutive windows of
     * {@code seqLen} predicted bytes (each window's first byte is context only, and was predicted
     * at the end of the window before), a final short window for the tail. The source's first byte
     * has no context at all, and the model cannot predict from an empty one: it is charged as a
     * uniform guess, 8 bits, counted as a miss (and left out of bytes per patch).
     */
    public static Result whole(ByteModel model, ByteSource source, int seqLen, int batch) {
        return whole(model, source, seqLen, batch, null);
    }

    /**
     * Sees each batch of {@link #whole}, right after its forward pass, while the model still holds
     * that pass's logits (and, for a patching model, its patch boundaries): the evaluation suite
     * reads per-window losses and patch lengths here without a second pass.
     */
    public interface BatchObserver {
        /**
         * Rows {@code 0..rows-1} of {@code x}/{@code y} ({@code T} positions each) were scored;
         * row b holds {@code lens[b]} predicted bytes, the rest of the row is padding (target -1).
         */
        void batch(ByteModel model, int[] x, int[] y, int rows, int T, int[] lens);
    }

    /** As {@link #whole(ByteModel, ByteSource, int, int)}, showing each batch to {@code observer} (may be null). */
    public static Result whole(ByteModel model, ByteSource source, int seqLen, int batch, BatchObserver observer) {
        long n = source.size();
        int T = (int) Math.min(Math.min(seqLen, model.maxContext()), n - 1);
        java.util.List<long[]> windows = new java.util.ArrayList<>();
        for (long start = 0; start + 1 < n; start += T) {
            windows.add(new long[] {start, Math.min(T, n - 1 - start)});
        }
        int[] x = new int[batch * T], y = new int[batch * T], w = new int[T + 1], lens = new int[batch];
        double lossSum = 0, correct = 0, bytes = 0, patches = 0;
        for (int k = 0; k < windows.size(); k += batch) {
            int rows = Math.min(batch, windows.size() - k);
            java.util.Arrays.fill(y, -1);
            for (int b = 0; b < rows; b++) {
                long start = windows.get(k + b)[0];
                int len = (int) windows.get(k + b)[1];
                lens[b] = len;
                source.read(start, w, 0, len + 1);
                for (int t = 0; t < T; t++) {
                    x[b * T + t] = t < len ? w[t] : 0;
                    y[b * T + t] = t < len ? w[t + 1] : -1;
                }
            }
            // A short last batch is another sequence of ops: it runs outside the replayed step.
            ByteModel.Result o = rows == batch ? forward(model, EVAL, x, y, rows, T) : model.forward(x, y, rows, T);
            if (observer != null) {
                observer.batch(model, x, y, rows, T, lens);
            }
            lossSum += (double) o.loss() * o.bytes();
            correct += o.correct();
            bytes += o.bytes();
            patches += o.patches();
        }
        double modelBytes = bytes;
        if (n > 0) {
            lossSum += UNIFORM_NATS;
            bytes += 1;
        }
        double loss = lossSum / bytes;
        return new Result(loss, loss / Math.log(2), Math.exp(loss), correct / bytes, patches == 0 ? 0 : modelBytes / patches,
                (long) bytes);
    }

    /** The loss of a uniform guess over the 256 byte values: ln 256 nats, 8 bits. */
    static final double UNIFORM_NATS = Math.log(256);

    public Result run(ByteModel model) {
        return run(model, false);
    }

    /**
     * As {@link #run(ByteModel)}; {@code last}: no training step follows, so an evaluation that
     * is also the first of the run runs outside any backend step: a device backend runs it op by
     * op instead of building (and compiling) a plan that nothing would replay.
     */
    public Result run(ByteModel model, boolean last) {
        boolean replay = !last || runs > 0;
        runs++;
        int T = seqLen, n = batch * T;
        int[] x = new int[n], y = new int[n], w = new int[T + 1];
        long windows = (long) batch * batches;
        long span = source.size() - T - 1;
        double lossSum = 0, correct = 0, bytes = 0, patches = 0;
        for (int k = 0; k < batches; k++) {
            for (int b = 0; b < batch; b++) {
                long idx = (long) k * batch + b;
                long start = windows <= 1 ? 0 : span * idx / (windows - 1);
                source.read(start, w, 0, T + 1);
                System.arraycopy(w, 0, x, b * T, T);
                System.arraycopy(w, 1, y, b * T, T);
            }
            ByteModel.Result o = replay ? forward(model, TRAINING_EVAL, x, y, batch, T) : model.forward(x, y, batch, T);
            lossSum += (double) o.loss() * o.bytes();
            correct += o.correct();
            bytes += o.bytes();
            patches += o.patches();
        }
        double loss = lossSum / bytes;
        return new Result(loss, loss / Math.log(2), Math.exp(loss), correct / bytes, patches == 0 ? 0 : bytes / patches,
                (long) bytes);
    }

    /** One batch's forward pass as one backend step of {@code kind}. */
    private static ByteModel.Result forward(ByteModel model, String kind, int[] x, int[] y, int rows, int T) {
        Backend be = model.backend();
        be.beginStep(kind);
        ByteModel.Result o;
        try {
            o = model.forward(x, y, rows, T);
        } catch (RuntimeException | Error e) {
            be.abortStep();
            throw e;
        }
        be.endStep();
        return o;
    }
}
