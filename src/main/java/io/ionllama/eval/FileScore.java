package io.ionllama.eval;

import io.ionllama.data.ByteSource;
import io.ionllama.model.ByteModel;
import io.ionllama.model.IonLlama;
import io.ionllama.train.Evaluator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One scoring pass over one file ({@link Evaluator#whole}: every byte once, in consecutive windows)
 * and what the suite reads off it: the totals, each window's bits per byte (for the standard error)
 * and, for a patching model, the lengths of the patches it cut. The lm, compression and
 * multilingual tasks share one pass per file through a {@link ScoreCache}.
 */
public final class FileScore {

    /** The file scored. */
    public final EvalContext.Data data;
    /** The totals, as {@code ionllama eval} has always printed them. */
    public final Evaluator.Result result;
    /** Bytes per window: the window length the protocol ran with (the model's context or the file may cap {@code --seq-len}). */
    public final int window;
    /** Seconds the pass took. */
    public final double seconds;
    /** Bits per byte of each window (bytes after the file's first; its own 8 bits are in {@link #result} only). */
    public final double[] windowBpb;
    /** Closed patches by length ({@code [k]}: patches of k bytes); null for a model that does not patch. */
    public final long[] patchLengths;

    private FileScore(EvalContext.Data data, Evaluator.Result result, int window, double seconds, double[] windowBpb,
                      long[] patchLengths) {
        this.data = data;
        this.result = result;
        this.window = window;
        this.seconds = seconds;
        this.windowBpb = windowBpb;
        this.patchLengths = patchLengths;
    }

    /** Scores all of {@code data} in windows of {@code seqLen} bytes, {@code batch} windows per pass. */
    public static FileScore of(ByteModel model, EvalContext.Data data, int seqLen, int batch) {
        ByteSource src = data.bytes();
        Collector c = new Collector(model.patcher() != null && model instanceof IonLlama);
        long t0 = System.nanoTime();
        Evaluator.Result r = Evaluator.whole(model, src, seqLen, batch, c);
        double secs = (System.nanoTime() - t0) / 1e9;
        int window = (int) Math.max(1, Math.min(Math.min(seqLen, model.maxContext()), src.size() - 1));
        return new FileScore(data, r, window, secs, c.windows.stream().mapToDouble(Double::doubleValue).toArray(),
                c.patches ? Arrays.copyOf(c.lengths, c.longest + 1) : null);
    }

    /**
     * Standard error of the bits per byte over windows: the sample standard deviation of the
     * windows' BPB over the square root of their count (NaN with fewer than two windows). Windows
     * of one file are neighbours in one text, not independent draws, so this says how much the
     * figure would move over another sample of similar windows, not over other kinds of text.
     */
    public double bpbStderr() {
        return stderr(windowBpb);
    }

    static double stderr(double[] xs) {
        int n = xs.length;
        if (n < 2) {
            return Double.NaN;
        }
        double mean = 0;
        for (double x : xs) {
            mean += x;
        }
        mean /= n;
        double ss = 0;
        for (double x : xs) {
            ss += (x - mean) * (x - mean);
        }
        return Math.sqrt(ss / (n - 1) / n);
    }

    /** Closed patches in all. */
    public long patchCount() {
        return patchLengths == null ? 0 : Arrays.stream(patchLengths).sum();
    }

    /** Mean length of the closed patches (NaN with none). */
    public double meanPatchLength() {
        long n = 0, bytes = 0;
        for (int k = 0; patchLengths != null && k < patchLengths.length; k++) {
            n += patchLengths[k];
            bytes += k * patchLengths[k];
        }
        return n == 0 ? Double.NaN : (double) bytes / n;
    }

    /** The {@code q}-quantile (0..1) of the closed patches' lengths: the smallest length with at least q of them at or below it. */
    public double patchLengthQuantile(double q) {
        long n = patchCount();
        if (n == 0) {
            return Double.NaN;
        }
        long need = Math.max(1, (long) Math.ceil(q * n));
        long seen = 0;
        for (int k = 0; k < patchLengths.length; k++) {
            seen += patchLengths[k];
            if (seen >= need) {
                return k;
            }
        }
        return patchLengths.length - 1;
    }

    /**
     * Reads each batch as the evaluator scores it: the loss of every predicted byte from the
     * logits (log-sum-exp in double), and the patch boundaries. A patch still open at the end of a
     * window was cut by the window, not by the patcher: it is not counted.
     */
    private static final class Collector implements Evaluator.BatchObserver {
        final boolean patches;
        final List<Double> windows = new ArrayList<>();
        long[] lengths = new long[16];
        int longest;

        Collector(boolean patches) {
            this.patches = patches;
        }

        @Override
        public void batch(ByteModel model, int[] x, int[] y, int rows, int T, int[] lens) {
            float[] logits = model.logits();
            for (int b = 0; b < rows; b++) {
                double nats = 0;
                for (int t = 0; t < lens[b]; t++) {
                    nats += loss(logits, (b * T + t) * 256, y[b * T + t]);
                }
                windows.add(lens[b] == 0 ? 0 : nats / lens[b] / Math.log(2));
            }
            if (patches) {
                int[] ends = ((IonLlama) model).lastBoundaries();
                for (int b = 0; b < rows; b++) {
                    int run = 0;
                    for (int t = 0; t < lens[b]; t++) {
                        run++;
                        if (ends[b * T + t] != 0) {
                            count(run);
                            run = 0;
                        }
                    }
                }
            }
        }

        private void count(int len) {
            if (len >= lengths.length) {
                lengths = Arrays.copyOf(lengths, Math.max(len + 1, lengths.length * 2));
            }
            lengths[len]++;
            longest = Math.max(longest, len);
        }

        /** -log softmax(logits)[target], in nats. */
        static double loss(float[] logits, int off, int target) {
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < 256; i++) {
                max = Math.max(max, logits[off + i]);
            }
            double sum = 0;
            for (int i = 0; i < 256; i++) {
                sum += Math.exp(logits[off + i] - max);
            }
            return max + Math.log(sum) - logits[off + target];
        }
    }
}
