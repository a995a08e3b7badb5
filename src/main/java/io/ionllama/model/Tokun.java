package io.ionllama.model;

import io.ionllama.backend.Backend;
import io.ionllama.kernels.Losses;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * tokun (seed 004): an autoencoder that merges groups of bytes into one vector, stage by stage
 * (4 then 4: 16 bytes into one {@code dim}-wide vector), and a decoder that mirrors it back to one
 * 256-way distribution per byte. Not a next-byte model: every byte is reconstructed from the
 * latent vector of its own chunk, with no causal order anywhere.
 *
 * <pre>
 *   bytes x [N] (N a multiple of the chunk C = G_0·G_1·…; pad byte 256 fills the last chunk)
 *     │ E[x]                                                                  rows N,      width d
 *     ▼
 *   ┌ encoder stage s = 0 .. S-1 ──────────────────────────────────────────────────────────────────┐
 *   │  block: RMSNorm ─► q,k,v ─► RoPE(i mod G_s) ─► attention inside each group of G_s rows       │
 *   │         (non-causal) ─► W_o ─(+)─► RMSNorm ─► SwiGLU ─(+)─►                                  │
 *   │  merge: [rows, d] read as [rows/G_s, G_s·d] (the group's vectors concatenated) ─► W_merge    │
 *   └──────────────────────────────────────────────────────── rows / G_s, width d ─────────────────┘
 *     ▼
 *   latent z [N/C, d]: one vector per chunk                    (eval adds noise here: addNoise)
 *     ▼
 *   ┌ decoder stage s = S-1 .. 0 (the mirror) ─────────────────────────────────────────────────────┐
 *   │  split: W_split z ─► [rows, G_s·d] read as [rows·G_s, d];  block (as the encoder's)          │
 *   └──────────────────────────────────────────────────────────────────────────────────────────────┘
 *     ▼
 *   RMSNorm ─► head [256, d] ─► logits [N, 256] ─► cross-entropy against x (pads ignored)
 * </pre>
 *
 * Merge and split need no op of their own: G consecutive rows of width d are, in a row-major
 * array, one row of width G·d, so both are the existing matmul on a reshaped view. The pad byte
 * has its own embedding row, so the encoder knows where the text ends; its targets are negative,
 * so pads are left out of the loss and the accuracies (scored apart, {@link Output#pads}).
 */
public final class Tokun extends FlatModel {
    public static final String KIND = "tokun";
    /** The input value of a padding position (its own embedding row). */
    public static final int PAD = 256;

    public static final String[] STAGES = {"encoder", "decoder + loss", "backward decoder", "backward encoder"};

    public final TokunConfig config;
    private final TokunBlock[] enc, dec;
    private final int embed, decNorm, head;
    private final int[] merge, split;

    /**
     * What a forward pass measured: mean cross-entropy over the real bytes, their count and how many
     * were reconstructed exactly (argmax), and the same for chunks (a chunk is exact when every real
     * byte in it is); pads counts the padding positions, which are not scored.
     */
    public record Output(float loss, long bytes, int correct, long chunks, long chunksCorrect, long pads) implements Result {
        @Override
        public float entropyLoss() {
            return 0;
        }

        @Override
        public long patches() {
            return chunks;
        }

        public double byteAccuracy() {
            return bytes == 0 ? 0 : (double) correct / bytes;
        }

        public double chunkAccuracy() {
            return chunks == 0 ? 0 : (double) chunksCorrect / chunks;
        }
    }

    // ---- per-pass state (grow-only buffers) ----
    private int N, capN;
    private int[] rowsAt; // rowsAt[s]: rows entering encoder stage s; rowsAt[S] = chunks
    private int[] x, targets, argmax;
    private float[][] encX, encY, decX, decY, dEncX, dEncY, dDecX, dDecY;
    private float[] normed, rstd, logits, probs, losses, stats, dLogits, dNormed;

    public Tokun(TokunConfig config, Backend backend) {
        super(config.validate().layout(), backend, STAGES);
        this.config = config;
        int S = config.stages();
        enc = new TokunBlock[S];
        dec = new TokunBlock[S];
        merge = new int[S];
        split = new int[S];
        for (int s = 0; s < S; s++) {
            enc[s] = new TokunBlock(layout, "enc." + s, config, config.groups()[s]);
            dec[s] = new TokunBlock(layout, "dec." + s, config, config.groups()[s]);
            merge[s] = layout.get("enc." + s + ".merge").off();
            split[s] = layout.get("dec." + s + ".split").off();
        }
        embed = layout.get("embed.byte").off();
        decNorm = layout.get("dec.norm").off();
        head = layout.get("head").off();
        rowsAt = new int[S + 1];
    }

    @Override
    public String kind() {
        return KIND;
    }

    @Override
    public String describe() {
        return config.describe();
    }

    @Override
    public Map<String, String> configMap() {
        return config.toMap();
    }

    /** tokun reconstructs its input; it does not predict a next byte, so there is nothing to decode incrementally. */
    @Override
    public Decoder decoder(int window) {
        throw new UnsupportedOperationException("tokun is an autoencoder, not a next-byte model: it cannot generate");
    }

    @Override
    public void init(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int d = config.dim(), S = config.stages();
        Init.normal(params, embed, (PAD + 1) * d, 1f, rnd);
        for (int s = 0; s < S; s++) {
            enc[s].init(params, rnd, 2 * S);
            int in = config.groups()[s] * d;
            Init.normal(params, merge[s], d * in, (float) (1 / Math.sqrt(in)), rnd);
        }
        for (int s = S - 1; s >= 0; s--) {
            Init.normal(params, split[s], config.groups()[s] * d * d, (float) (1 / Math.sqrt(d)), rnd);
            dec[s].init(params, rnd, 2 * S);
        }
        Init.fill(params, decNorm, d, 1f);
        Init.normal(params, head, 256 * d, (float) (1 / Math.sqrt(d)), rnd);
    }

    /** Bytes per latent vector. */
    public int chunk() {
        return config.chunk();
    }

    private void ensure(int n) {
        int C = config.chunk();
        if (n <= 0 || n % C != 0) {
            throw new IllegalArgumentException("tokun takes a whole number of " + C + "-byte chunks, got " + n + " bytes");
        }
        N = n;
        rowsAt[0] = n;
        for (int s = 0; s < config.stages(); s++) {
            rowsAt[s + 1] = rowsAt[s] / config.groups()[s];
        }
        if (n <= capN) {
            return;
        }
        capN = n;
        int d = config.dim(), S = config.stages();
        x = new int[n]; targets = new int[n]; argmax = new int[n];
        encX = new float[S + 1][]; encY = new float[S][]; decX = new float[S][]; decY = new float[S][];
        dEncX = new float[S + 1][]; dEncY = new float[S][]; dDecX = new float[S][]; dDecY = new float[S][];
        for (int s = 0; s <= S; s++) {
            encX[s] = new float[rowsAt[s] * d];
            dEncX[s] = new float[rowsAt[s] * d];
        }
        for (int s = 0; s < S; s++) {
            int rd = rowsAt[s] * d;
            encY[s] = new float[rd]; decX[s] = new float[rd]; decY[s] = new float[rd];
            dEncY[s] = new float[rd]; dDecX[s] = new float[rd]; dDecY[s] = new float[rd];
        }
        normed = new float[n * d]; rstd = new float[n]; logits = new float[n * 256]; probs = new float[n * 256];
        losses = new float[n]; stats = new float[Losses.STATS]; dLogits = new float[n * 256]; dNormed = new float[n * d];
    }

    /**
     * Forward and loss over {@code B·T} bytes (T a multiple of the chunk; sequences mean nothing to
     * tokun, chunks are independent): {@code bytes} are 0..255 or {@link #PAD}, {@code targets} the
     * bytes to reconstruct (negative: not scored; normally the input with -1 at pads).
     */
    @Override
    public Output forward(int[] bytes, int[] tgt, int B, int T) {
        encode(bytes, B * T);
        return decode(tgt);
    }

    /** The encoder over {@code n} bytes (a multiple of the chunk); the latent is then {@link #latent}. */
    public void encode(int[] bytes, int n) {
        ensure(n);
        System.arraycopy(bytes, 0, x, 0, n);
        be.hostChanged(x);
        int d = config.dim();
        startTimer();
        be.byteEmbeddingForward(encX[0], 0, params, embed, x, 0, n, d);
        for (int s = 0; s < config.stages(); s++) {
            int G = config.groups()[s];
            enc[s].forward(be, params, encX[s], 0, encY[s], 0, rowsAt[s]);
            be.matmulForward(encX[s + 1], 0, encY[s], 0, params, merge[s], null, 0, rowsAt[s + 1], G * d, d);
        }
        lap(0);
    }

    /** The latent vectors of the last {@link #encode}, [chunks, dim], on the host; call {@link #latentChanged} after writing them. */
    public float[] latent() {
        float[] z = encX[config.stages()];
        be.toHost(z);
        return z;
    }

    /** Latent vectors in the last pass: bytes / chunk. */
    public int latentRows() {
        return rowsAt[config.stages()];
    }

    /** Says the host has overwritten {@link #latent} (noise added): the next {@link #decode} reads the new values. */
    public void latentChanged() {
        be.hostChanged(encX[config.stages()]);
    }

    /** The decoder from the current latent, its logits and the loss against {@code tgt} (negative: not scored). */
    public Output decode(int[] tgt) {
        int n = N, d = config.dim(), S = config.stages();
        System.arraycopy(tgt, 0, targets, 0, n);
        be.hostChanged(targets);
        startTimer();
        for (int s = S - 1; s >= 0; s--) {
            int G = config.groups()[s];
            float[] in = s == S - 1 ? encX[S] : decY[s + 1];
            be.matmulForward(decX[s], 0, in, 0, params, split[s], null, 0, rowsAt[s + 1], d, G * d);
            dec[s].forward(be, params, decX[s], 0, decY[s], 0, rowsAt[s]);
        }
        be.rmsNormForward(normed, 0, rstd, 0, decY[0], 0, params, decNorm, n, d, TokunBlock.EPS);
        be.matmulForward(logits, 0, normed, 0, params, head, null, 0, n, d, 256);
        be.crossEntropyForward(losses, 0, probs, 0, logits, 0, targets, 0, n, 256);
        be.argmax(argmax, 0, logits, 0, n, 256);
        be.lossStats(stats, 0, losses, 0, argmax, 0, targets, 0, n);
        be.toHost(stats);
        be.toHost(argmax);
        lap(1);
        // Exact chunks: a count over ints the host already holds, not model math.
        int C = config.chunk();
        long chunks = 0, exact = 0, pads = 0;
        for (int c = 0; c < n / C; c++) {
            boolean scored = false, ok = true;
            for (int t = c * C; t < (c + 1) * C; t++) {
                if (targets[t] >= 0) {
                    scored = true;
                    ok &= argmax[t] == targets[t];
                } else {
                    pads++;
                }
            }
            if (scored) {
                chunks++;
                exact += ok ? 1 : 0;
            }
        }
        return new Output(stats[Losses.STAT_MEAN_LOSS], (long) stats[Losses.STAT_VALID], (int) stats[Losses.STAT_CORRECT],
                chunks, exact, pads);
    }

    /** The argmax byte of every position of the last pass, [bytes] (a live view). */
    public int[] reconstruction() {
        be.toHost(argmax);
        return argmax;
    }

    @Override
    public void backward(float scale) {
        int n = N, d = config.dim(), S = config.stages();
        startTimer();
        // Scaled for gradient accumulation and restored after: with scale 1 nothing changes,
        // and a device backend need not upload the statistics twice a step.
        if (scale != 1f) {
            stats[Losses.STAT_INV_VALID] *= scale;
            be.hostChanged(stats);
        }
        be.fill(dLogits, 0, 0f, n * 256);
        be.crossEntropyBackward(dLogits, 0, probs, 0, targets, 0, stats, Losses.STAT_INV_VALID, 0, n, 256);
        be.matmulBackwardInputOverwrite(dNormed, 0, dLogits, 0, params, head, n, d, 256);
        be.matmulBackwardWeight(grads, head, null, 0, dLogits, 0, normed, 0, n, d, 256);
        for (int s = 0; s < S; s++) {
            be.fill(dDecY[s], 0, 0f, rowsAt[s] * d);
            be.fill(dDecX[s], 0, 0f, rowsAt[s] * d);
            be.fill(dEncY[s], 0, 0f, rowsAt[s] * d);
        }
        for (int s = 0; s <= S; s++) {
            be.fill(dEncX[s], 0, 0f, rowsAt[s] * d);
        }
        be.rmsNormBackward(dDecY[0], 0, grads, decNorm, dNormed, 0, decY[0], 0, params, decNorm, rstd, 0, n, d);
        for (int s = 0; s < S; s++) {
            int G = config.groups()[s], rows = rowsAt[s + 1];
            dec[s].backward(be, params, grads, dDecY[s], 0, dDecX[s], 0, rowsAt[s]);
            float[] in = s == S - 1 ? encX[S] : decY[s + 1];
            float[] dIn = s == S - 1 ? dEncX[S] : dDecY[s + 1];
            be.matmulBackwardInput(dIn, 0, dDecX[s], 0, params, split[s], rows, d, G * d);
            be.matmulBackwardWeight(grads, split[s], null, 0, dDecX[s], 0, in, 0, rows, d, G * d);
        }
        lap(2);
        for (int s = S - 1; s >= 0; s--) {
            int G = config.groups()[s], rows = rowsAt[s + 1];
            be.matmulBackwardInput(dEncY[s], 0, dEncX[s + 1], 0, params, merge[s], rows, G * d, d);
            be.matmulBackwardWeight(grads, merge[s], null, 0, dEncX[s + 1], 0, encY[s], 0, rows, G * d, d);
            enc[s].backward(be, params, grads, dEncY[s], 0, dEncX[s], 0, rowsAt[s]);
        }
        be.byteEmbeddingBackward(grads, embed, dEncX[0], 0, x, 0, n, d);
        if (scale != 1f) {
            stats[Losses.STAT_INV_VALID] /= scale;
            be.hostChanged(stats);
        }
        lap(3);
    }

    @Override
    public double objective() {
        return meanLoss(losses, stats, N);
    }

    @Override
    public float[] logits() {
        be.toHost(logits);
        return logits;
    }

    /**
     * {@code data[from, from+len)} as tokun's input: bytes padded with {@link #PAD} to a whole number
     * of chunks ({@code [0]}), and the targets ({@code [1]}: the bytes, -1 at the pads).
     */
    public static int[][] padded(byte[] data, int from, int len, int chunk) {
        int n = Math.max(chunk, (len + chunk - 1) / chunk * chunk);
        int[] in = new int[n], tgt = new int[n];
        for (int t = 0; t < n; t++) {
            in[t] = t < len ? data[from + t] & 0xFF : PAD;
            tgt[t] = t < len ? in[t] : -1;
        }
        return new int[][] {in, tgt};
    }
}
