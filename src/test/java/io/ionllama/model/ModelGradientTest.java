package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.testing.CpuBackendTest;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Whole-model gradient check: for every parameter tensor, sampled entries of the hand-written
 * backward against central differences of the objective, with patch boundaries held fixed.
 *
 * <p>The model computes in float, so the difference quotient uses a larger step (1e-2) and the
 * objective is summed in double from per-row losses; each kernel's own backward is checked
 * against a true double-precision reference in its kernel test. Tolerance: |a - n| <= 2e-3 +
 * 5e-2 · max(|a|, |n|) per entry, and a directional derivative per tensor within 2%.
 */
class ModelGradientTest extends CpuBackendTest {

    static ModelConfig small() {
        return new ModelConfig("nano", 16, 16, 2, 2, 1, 1, 8, 1, new int[] {3, 4}, 13, 24, 24, 2, 6, 3f).validate();
    }

    static IonLlama model(ModelConfig c, String patcher, boolean dense) {
        IonLlama m = new IonLlama(c, cpu, Patcher.parse(patcher, c.maxPatch(), c.targetPatch()), dense);
        m.init(7);
        return m;
    }

    static int[][] batch(int B, int T, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        String text = "the cat sat on the mat. 12 + 34 = 46. spell dog: d-o-g. ";
        int[] x = new int[B * T], y = new int[B * T];
        for (int b = 0; b < B; b++) {
            int off = r.nextInt(text.length());
            for (int t = 0; t < T; t++) {
                x[b * T + t] = text.charAt((off + t) % text.length());
                y[b * T + t] = text.charAt((off + t + 1) % text.length());
            }
        }
        return new int[][] {x, y};
    }

    @Test
    void initialLossIsNearUniform() {
        IonLlama m = model(small(), "entropy", false);
        int[][] xy = batch(2, 24, 1);
        IonLlama.Output o = m.forward(xy[0], xy[1], 2, 24);
        assertThat(o.loss()).isBetween(4.5f, 7.0f);
        assertThat(o.entropyLoss()).isBetween(4.5f, 7.0f);
        assertThat(o.patches()).isPositive();
    }

    @Test
    void backwardMatchesFiniteDifferencesForEveryTensor() {
        checkAll(model(small(), "fixed:3", false), 3, 11, 101);
    }

    @Test
    void backwardMatchesFiniteDifferencesWithDenseAttentionAndEntropyPatches() {
        IonLlama m = model(small(), "entropy", true);
        checkAll(m, 2, 17, 202);
    }

    /**
     * Two layers in every local stack (entropy, encoder, decoder): the layers of a stack share one
     * array per role at their own offsets (IntegralLayer.Saved), so the second layer's backward
     * reads and writes at non-zero offsets, the scan gradients included.
     */
    @Test
    void backwardMatchesFiniteDifferencesWithTwoLayersPerStack() {
        ModelConfig deep = new ModelConfig("nano", 16, 16, 2, 2, 2, 2, 8, 2, new int[] {3, 4}, 13, 24, 24, 2, 6, 3f).validate();
        checkAll(model(deep, "fixed:3", false), 2, 11, 404);
    }

    /** The same check rejects a deliberately wrong gradient: one tensor's scaled by 1.1, another's negated. */
    @Test
    void checkRejectsWrongGradients() {
        IonLlama m = model(small(), "fixed:3", false);
        List<String> failures = check(m, 2, 11, 303, g -> {
            ParamLayout.Tensor wv = m.layout.get("global.0.wv"), lambda = m.layout.get("enc.0.lambda");
            for (int i = 0; i < wv.size(); i++) {
                g[wv.off() + i] *= 1.1f;
            }
            for (int i = 0; i < lambda.size(); i++) {
                g[lambda.off() + i] = -g[lambda.off() + i];
            }
        }, name -> name.equals("global.0.wv") || name.equals("enc.0.lambda") || name.equals("head"));
        assertThat(failures).anyMatch(f -> f.startsWith("global.0.wv")).anyMatch(f -> f.startsWith("enc.0.lambda"))
                .noneMatch(f -> f.startsWith("head"));
    }

    /**
     * Dropout on (rate 0.3, one fixed draw of masks, so the objective is a smooth function of the
     * parameters): every branch's gradient must be masked as the forward masked the branch.
     */
    @Test
    void backwardMatchesFiniteDifferencesWithDropout() {
        IonLlama m = model(small(), "fixed:3", false);
        m.setDropout(0.3f, 99);
        checkAll(m, 3, 11, 505);
        m.setDropout(0f, 0);
    }

    /** The check rejects a backward whose masks are not the forward's (another draw), in every block kind. */
    @Test
    void dropoutCheckRejectsABackwardWithOtherMasks() {
        IonLlama m = model(small(), "fixed:3", false);
        m.setDropout(0.3f, 99);
        List<String> failures = check(m, 3, 11, 505, g -> { },
                name -> name.equals("global.0.wo") || name.equals("enc.0.w_o") || name.equals("dec.0.mlp.w_down"),
                () -> m.setDropout(0.3f, 100), () -> m.setDropout(0.3f, 99));
        assertThat(failures).anyMatch(f -> f.startsWith("global.0.wo")).anyMatch(f -> f.startsWith("enc.0.w_o"))
                .anyMatch(f -> f.startsWith("dec.0.mlp.w_down"));
        m.setDropout(0f, 0);
    }

    static void checkAll(IonLlama m, int B, int T, long seed) {
        assertThat(check(m, B, T, seed, g -> { }, name -> true)).isEmpty();
    }

    static List<String> check(IonLlama m, int B, int T, long seed, java.util.function.Consumer<float[]> mutate,
                              java.util.function.Predicate<String> tensors) {
        return check(m, B, T, seed, mutate, tensors, () -> { }, () -> { });
    }

    /** {@code beforeBackward} and {@code afterBackward} run around the analytic backward (a test's way to break it). */
    static List<String> check(IonLlama m, int B, int T, long seed, java.util.function.Consumer<float[]> mutate,
                              java.util.function.Predicate<String> tensors, Runnable beforeBackward, Runnable afterBackward) {
        int[][] xy = batch(B, T, seed);
        m.forward(xy[0], xy[1], B, T);
        m.forceBoundaries(m.lastBoundaries());
        java.util.Arrays.fill(m.grads, 0f);
        m.forward(xy[0], xy[1], B, T);
        beforeBackward.run();
        m.backward(1f);
        afterBackward.run();
        float[] g = m.grads.clone();
        mutate.accept(g);
        SplittableRandom r = new SplittableRandom(seed);
        List<String> failures = new ArrayList<>();
        for (ParamLayout.Tensor t : m.layout.tensors()) {
            if (!tensors.test(t.name())) {
                continue;
            }
            // Sampled entries.
            int samples = (int) Math.min(t.size(), 6);
            for (int k = 0; k < samples; k++) {
                int i = t.off() + r.nextInt((int) t.size());
                double num = numeric(m, xy, B, T, i);
                double ana = g[i];
                if (Math.abs(ana - num) > 2e-3 + 5e-2 * Math.max(Math.abs(ana), Math.abs(num))) {
                    failures.add(String.format("%s[%d]: analytic %.6g numeric %.6g", t.name(), i - t.off(), ana, num));
                }
            }
            // Directional derivative along a random direction over the whole tensor.
            double[] v = new double[(int) t.size()];
            double dot = 0;
            for (int j = 0; j < v.length; j++) {
                v[j] = r.nextDouble() * 2 - 1;
                dot += v[j] * g[t.off() + j];
            }
            double dirNum = directional(m, xy, B, T, t.off(), v);
            if (Math.abs(dot - dirNum) > 1e-3 + 2e-2 * Math.max(Math.abs(dot), Math.abs(dirNum))) {
                failures.add(String.format("%s: directional analytic %.6g numeric %.6g", t.name(), dot, dirNum));
            }
        }
        return failures;
    }

    static final double H = 1e-2;

    static double numeric(IonLlama m, int[][] xy, int B, int T, int i) {
        float keep = m.params[i];
        m.params[i] = (float) (keep + H);
        m.forward(xy[0], xy[1], B, T);
        double up = m.objective();
        m.params[i] = (float) (keep - H);
        m.forward(xy[0], xy[1], B, T);
        double down = m.objective();
        m.params[i] = keep;
        return (up - down) / (2 * H);
    }

    static double directional(IonLlama m, int[][] xy, int B, int T, int off, double[] v) {
        float[] keep = new float[v.length];
        System.arraycopy(m.params, off, keep, 0, v.length);
        double h = 1e-3;
        for (int j = 0; j < v.length; j++) {
            m.params[off + j] = (float) (keep[j] + h * v[j]);
        }
        m.forward(xy[0], xy[1], B, T);
        double up = m.objective();
        for (int j = 0; j < v.length; j++) {
            m.params[off + j] = (float) (keep[j] - h * v[j]);
        }
        m.forward(xy[0], xy[1], B, T);
        double down = m.objective();
        System.arraycopy(keep, 0, m.params, off, v.length);
        return (up - down) / (2 * h);
    }
}
