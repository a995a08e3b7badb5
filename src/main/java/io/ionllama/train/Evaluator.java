package io.ionllama.train;

import io.ionllama.data.ByteSource;
import io.ionllama.model.IonLlama;

/**
 * Validation: the model's loss over fixed, evenly spaced windows of the validation bytes, so
 * every evaluation of a run (and of a resumed run) reads the same text.
 */
public final class Evaluator {

    public record Result(double loss, double bpb, double perplexity, double accuracy, double bytesPerPatch, long bytes) {}

    private final ByteSource source;
    private final int batch, seqLen, batches;

    public Evaluator(ByteSource source, int batch, int seqLen, int batches) {
        this.source = source;
        this.batch = batch;
        this.seqLen = (int) Math.min(seqLen, source.size() - 1);
        this.batches = batches;
    }

    public Result run(IonLlama model) {
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
            IonLlama.Output o = model.forward(x, y, batch, T);
            lossSum += (double) o.loss() * o.bytes();
            correct += o.correct();
            bytes += o.bytes();
            patches += o.patches();
        }
        double loss = lossSum / bytes;
        return new Result(loss, loss / Math.log(2), Math.exp(loss), correct / bytes, patches == 0 ? 0 : bytes / patches,
                (long) bytes);
    }
}
