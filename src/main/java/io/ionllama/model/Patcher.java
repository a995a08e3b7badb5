package io.ionllama.model;

import io.ionllama.kernels.Patching;
import java.util.Locale;

/**
 * Decides where patches end, causally: whether byte t closes its patch depends only on bytes ≤ t
 * (docs/architecture.md, section 3.3, "Timing"). {@code hNext[t]} is the entropy model's uncertainty about byte
 * t+1, computed from bytes ≤ t.
 *
 * <pre>
 *   entropy     t ends a patch when hNext[t] > θ
 *   monotonic   t ends a patch when hNext[t] - hNext[t-1] > θ   (an entropy rise)
 *   fixed:N     every N bytes
 *   space       after every byte that is not a letter or digit (SpaceByte-style); bytes ≥ 128
 *               count as letters, so UTF-8 sequences stay whole
 *   tokun:PATH  every C bytes, C the chunk of the tokun checkpoint at PATH, whose frozen encoder
 *               then gives each patch its vector ({@link IonLlama}); its boundaries are fixed:C's
 *   all modes   a patch never exceeds maxPatch bytes
 * </pre>
 *
 * <p>θ is calibrated while training so the mean patch length meets the target: each batch's
 * entropy quantile sets θ for the next batch, and the quantile level is corrected from the
 * boundary rate actually measured (the maxPatch cap adds boundaries the quantile does not see).
 * Both adapt within a few steps, so the mean patch length does not lag a fast-improving entropy
 * model. Frozen for evaluation and generation; stored in checkpoints.
 */
public final class Patcher {

    public enum Mode { ENTROPY, MONOTONIC, FIXED, SPACE, TOKUN }

    /** The prefix of a tokun patcher's spec, {@code tokun:PATH}. */
    public static final String TOKUN_PREFIX = "tokun:";

    public final Mode mode;
    /** Bytes per patch for {@code fixed:N}, and for {@code tokun:PATH} the tokun's chunk. */
    public final int fixedLength;
    /** The tokun checkpoint a {@code tokun:PATH} patcher was made from, as given (provenance only: models carry its weights). */
    public final String tokunSource;
    public final int maxPatch;
    public final float target;

    /** The threshold θ and the quantile level it is drawn at (fraction of positions above θ). */
    public float theta;
    public double level;
    private boolean calibrated;

    public Patcher(Mode mode, int fixedLength, int maxPatch, float target) {
        this(mode, fixedLength, maxPatch, target, null);
    }

    private Patcher(Mode mode, int fixedLength, int maxPatch, float target, String tokunSource) {
        this.tokunSource = tokunSource;
        this.mode = mode;
        this.fixedLength = fixedLength;
        this.maxPatch = maxPatch;
        this.target = target;
        this.level = 1.0 / target;
        this.theta = mode == Mode.MONOTONIC ? 0.5f : 2.0f;
    }

    /**
     * Parses {@code entropy}, {@code monotonic}, {@code space} or {@code fixed:N}. A
     * {@code tokun:PATH} spec needs the tokun's chunk, which only its checkpoint knows: it is
     * refused here and built by {@link #tokun} once the checkpoint is read.
     */
    public static Patcher parse(String spec, int maxPatch, float target) {
        if (isTokun(spec)) {
            throw new IllegalArgumentException("--patcher tokun:PATH is for ionllama train (a trained tokun checkpoint as a"
                    + " fixed patch encoder)");
        }
        String s = spec.toLowerCase(Locale.ROOT).strip();
        if (s.startsWith("fixed:")) {
            int n;
            try {
                n = Integer.parseInt(s.substring(6));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--patcher fixed:N needs a number, got '" + spec + "'");
            }
            if (n < 1 || n > maxPatch) {
                throw new IllegalArgumentException("--patcher fixed:N needs 1 <= N <= max-patch (" + maxPatch + ")");
            }
            return new Patcher(Mode.FIXED, n, maxPatch, target);
        }
        return switch (s) {
            case "entropy" -> new Patcher(Mode.ENTROPY, 0, maxPatch, target);
            case "monotonic" -> new Patcher(Mode.MONOTONIC, 0, maxPatch, target);
            case "space" -> new Patcher(Mode.SPACE, 0, maxPatch, target);
            default -> throw new IllegalArgumentException("unknown patcher '" + spec
                    + "' (expected entropy, monotonic, space, fixed:N or tokun:PATH)");
        };
    }

    /** Whether {@code spec} names a tokun patcher, {@code tokun:PATH}. */
    public static boolean isTokun(String spec) {
        return spec.strip().toLowerCase(Locale.ROOT).startsWith(TOKUN_PREFIX);
    }

    /** The PATH of a {@code tokun:PATH} spec; refuses an empty one in one line. */
    public static String tokunPath(String spec) {
        String path = spec.strip().substring(TOKUN_PREFIX.length()).strip();
        if (path.isEmpty()) {
            throw new IllegalArgumentException("--patcher tokun:PATH needs the path of a tokun checkpoint (ionllama tokun train)");
        }
        return path;
    }

    /**
     * The patcher of {@code tokun:source}: patches of exactly {@code chunk} bytes (the tokun's
     * chunk, so each patch is one tokun latent), which the cap must allow.
     */
    public static Patcher tokun(String source, int chunk, int maxPatch, float target) {
        if (chunk < 1 || chunk > maxPatch) {
            throw new IllegalArgumentException("--patcher tokun: the tokun's chunk (" + chunk + " bytes) must fit in max-patch ("
                    + maxPatch + "): give --max-patch " + chunk + " or more");
        }
        return new Patcher(Mode.TOKUN, chunk, maxPatch, target, source);
    }

    public String spec() {
        return switch (mode) {
            case FIXED -> "fixed:" + fixedLength;
            case TOKUN -> TOKUN_PREFIX + tokunSource;
            default -> mode.name().toLowerCase(Locale.ROOT);
        };
    }

    /** Whether this patcher reads the entropy model. */
    public boolean usesEntropy() {
        return mode == Mode.ENTROPY || mode == Mode.MONOTONIC;
    }

    /** The mode's code in {@link Patching}. */
    public int modeCode() {
        return switch (mode) {
            case ENTROPY -> Patching.ENTROPY;
            case MONOTONIC -> Patching.MONOTONIC;
            case FIXED, TOKUN -> Patching.FIXED;
            case SPACE -> Patching.SPACE;
        };
    }

    /**
     * Fills {@code ends[b*T + t]} with 1 where byte t of sequence b closes a patch. With
     * {@code warmupFixed} > 0 the entropy rules are replaced by fixed patches of that length.
     * (The model runs the same units through {@code Backend.patchBoundaries}.)
     */
    public void boundaries(int[] bytes, float[] hNext, int B, int T, int warmupFixed, int[] ends) {
        int[] count = new int[B];
        for (int b = 0; b < B; b++) {
            Patching.decideSequence(ends, count, bytes, hNext, modeCode(), fixedLength, maxPatch, warmupFixed, theta, T, b);
        }
    }

    /**
     * The decision for one byte: {@code len} bytes are in the open patch, this one included.
     * {@code warmupFixed} > 0 replaces the entropy rules with fixed patches of that length.
     */
    public boolean endsAt(int byteValue, float hNextT, float hNextPrev, boolean hasPrev, int len, int warmupFixed) {
        return Patching.endsAt(modeCode(), byteValue, hNextT, hNextPrev, hasPrev ? 1 : 0, len, maxPatch, fixedLength,
                warmupFixed, theta) != 0;
    }

    /**
     * The sorted position of θ among a batch's {@code k} scores: the quantile that leaves
     * {@link #level} of the positions above it.
     */
    public int quantileRank(int k) {
        return (int) Math.min(k - 1, Math.max(0, Math.round((1 - level) * (k - 1))));
    }

    /**
     * Sets θ to the quantile of this batch's scores that leaves {@link #level} of the positions
     * above it. Called during training on each batch's own entropies before its boundaries are
     * drawn, so θ never lags the entropy model; the threshold is a single scalar, so the batch's
     * later bytes tell its earlier boundaries nothing of substance. Frozen outside training.
     * (The model calibrates through {@code Backend.patchBoundaries}, with the same units.)
     */
    public void calibrate(float[] hNext, int B, int T) {
        if (!usesEntropy()) {
            return;
        }
        int k = Patching.scoreCount(modeCode(), B, T);
        if (k == 0) {
            return;
        }
        calibrated(Patching.selectScore(hNext, modeCode(), B, T, quantileRank(k)));
    }

    /** θ calibrated elsewhere (by the backend, on a batch's scores). */
    public void calibrated(float theta) {
        this.theta = theta;
        this.calibrated = true;
    }

    /**
     * Corrects the quantile level from the boundary rate an entropy-patched batch actually had
     * ({@code patches} closed over {@code bytes}): the maxPatch cap and ties add boundaries the
     * quantile does not see.
     */
    public void observe(long patches, long bytes) {
        if (!usesEntropy() || patches <= 0) {
            return;
        }
        double measured = (double) bytes / patches;
        // Too many boundaries (short patches) → fewer positions above θ, and vice versa.
        level *= Math.pow(measured / target, 0.5);
        level = Math.min(0.95, Math.max(1e-3, level));
    }

    /** Restores a stored threshold (a checkpoint's). */
    public void restore(float theta, double level, boolean calibrated) {
        this.theta = theta;
        this.level = level;
        this.calibrated = calibrated;
    }

    public boolean calibrated() {
        return calibrated;
    }
}
