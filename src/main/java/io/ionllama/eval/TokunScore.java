package io.ionllama.eval;

import io.ionllama.model.Tokun;
import java.util.SplittableRandom;

/**
 * What {@code ionllama tokun eval} measures of a text: exact reconstruction (byte accuracy and
 * exact-chunk accuracy) and the two robustness experiments of seed 004, which perturb the latent
 * vectors before decoding:
 *
 * <pre>
 *   sigma[j]       = standard deviation of latent dimension j over the text's chunks
 *   gaussian k     z' = z + k · sigma ⊙ e,          e ~ N(0, I)   (per-dimension scale)
 *   direction k    z' = z + ||k · sigma ⊙ e|| · u,  u uniform on the unit sphere
 *                  (the same norm, isotropic: does the latent tolerate noise only along its
 *                  own spread, or in any direction?)
 * </pre>
 *
 * The text is cut into pieces of whole chunks (the last padded), so memory stays bounded; the
 * noise of piece p depends only on (seed, k, p), so a run is reproducible, and the two experiments
 * draw the same ε, so each chunk's random-direction noise has exactly its Gaussian noise's norm.
 */
public final class TokunScore {
    private TokunScore() {}

    /** Bytes per forward pass (rounded down to whole chunks). */
    static final int PIECE = 4096;

    /** Accuracies over a text: real bytes and scored chunks, and how many of each were exact. */
    public record Score(long bytes, long correct, long chunks, long chunksCorrect, double loss) {
        public double byteAccuracy() {
            return bytes == 0 ? 0 : (double) correct / bytes;
        }

        public double chunkAccuracy() {
            return chunks == 0 ? 0 : (double) chunksCorrect / chunks;
        }
    }

    /** One noise level of both experiments. */
    public record Noise(double k, Score gaussian, Score direction) {}

    /** How the latent is perturbed. */
    public enum Kind { NONE, GAUSSIAN, DIRECTION }

    private static int piece(int chunk) {
        return Math.max(chunk, PIECE / chunk * chunk);
    }

    /** Exact reconstruction of {@code text}. */
    public static Score score(Tokun m, byte[] text) {
        return perturbed(m, text, null, 0, Kind.NONE, 0);
    }

    /** sigma: the per-dimension standard deviation of the latent vectors of {@code text} (two-pass in double). */
    public static double[] latentStd(Tokun m, byte[] text) {
        int d = m.config.dim(), step = piece(m.chunk());
        double[] sum = new double[d], sq = new double[d];
        long rows = 0;
        for (int from = 0; from < text.length; from += step) {
            int[][] xy = Tokun.padded(text, from, Math.min(step, text.length - from), m.chunk());
            m.encode(xy[0], xy[0].length);
            float[] z = m.latent();
            for (int r = 0; r < m.latentRows(); r++) {
                for (int j = 0; j < d; j++) {
                    double v = z[r * d + j];
                    sum[j] += v;
                    sq[j] += v * v;
                }
            }
            rows += m.latentRows();
        }
        double[] std = new double[d];
        for (int j = 0; j < d; j++) {
            double mean = sum[j] / rows;
            std[j] = Math.sqrt(Math.max(0, sq[j] / rows - mean * mean));
        }
        return std;
    }

    /** Both experiments at each of {@code ks}. */
    public static Noise[] robustness(Tokun m, byte[] text, double[] ks, long seed) {
        double[] std = latentStd(m, text);
        Noise[] out = new Noise[ks.length];
        for (int i = 0; i < ks.length; i++) {
            out[i] = new Noise(ks[i], perturbed(m, text, std, ks[i], Kind.GAUSSIAN, seed),
                    perturbed(m, text, std, ks[i], Kind.DIRECTION, seed));
        }
        return out;
    }

    /** Reconstruction of {@code text} with the latent perturbed by {@code kind} at level k. */
    public static Score perturbed(Tokun m, byte[] text, double[] std, double k, Kind kind, long seed) {
        int d = m.config.dim(), step = piece(m.chunk());
        long bytes = 0, correct = 0, chunks = 0, exact = 0;
        double lossSum = 0;
        double[] e = new double[d], u = new double[d];
        for (int from = 0, p = 0; from < text.length; from += step, p++) {
            int[][] xy = Tokun.padded(text, from, Math.min(step, text.length - from), m.chunk());
            m.encode(xy[0], xy[0].length);
            if (kind != Kind.NONE) {
                SplittableRandom rnd = new SplittableRandom(seed * 1_000_003L + Double.hashCode(k) * 31L + p);
                float[] z = m.latent();
                for (int r = 0; r < m.latentRows(); r++) {
                    noise(e, u, std, k, kind, rnd);
                    for (int j = 0; j < d; j++) {
                        z[r * d + j] += (float) e[j];
                    }
                }
                m.latentChanged();
            }
            Tokun.Output o = m.decode(xy[1]);
            bytes += o.bytes();
            correct += o.correct();
            chunks += o.chunks();
            exact += o.chunksCorrect();
            lossSum += (double) o.loss() * o.bytes();
        }
        return new Score(bytes, correct, chunks, exact, bytes == 0 ? 0 : lossSum / bytes);
    }

    /**
     * One latent vector's noise into {@code e}: k·σ⊙ε, or (DIRECTION) a vector of that same norm
     * along a uniformly random direction ({@code u} is scratch of the same length).
     */
    static void noise(double[] e, double[] u, double[] std, double k, Kind kind, SplittableRandom rnd) {
        int d = e.length;
        double norm = 0;
        for (int j = 0; j < d; j++) {
            e[j] = k * std[j] * gaussian(rnd);
            norm += e[j] * e[j];
        }
        if (kind == Kind.DIRECTION) {
            double un = 0;
            for (int j = 0; j < d; j++) {
                u[j] = gaussian(rnd);
                un += u[j] * u[j];
            }
            double scale = Math.sqrt(norm) / Math.max(Math.sqrt(un), 1e-30);
            for (int j = 0; j < d; j++) {
                e[j] = u[j] * scale;
            }
        }
    }

    /** A standard normal draw (Box-Muller; one of the pair, so each draw is independent of call order). */
    private static double gaussian(SplittableRandom rnd) {
        double u1 = rnd.nextDouble(), u2 = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    }
}
