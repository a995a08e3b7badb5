package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ionllama.testing.CpuBackendTest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The dense byte GPT: whole-model gradients against central differences (and the check shown to
 * reject wrong ones), causality, and the defaults the seed states.
 *
 * <p>As in {@link ModelGradientTest}, the model computes in float and the objective is summed in
 * double from per-row losses, so the difference quotient uses a step of 1e-2; the kernels'
 * backwards are checked against double-precision references in their own tests. Tolerance:
 * |a - n| <= 2e-3 + 5e-2 · max(|a|, |n|) per sampled entry, and the directional derivative along a
 * random direction over each whole tensor within 2%.
 */
class DenseGptTest extends CpuBackendTest {

    static DenseConfig tiny() {
        return new DenseConfig(16, 2, 2, 24, 32).validate();
    }

    static DenseGpt model(DenseConfig c, long seed) {
        DenseGpt m = new DenseGpt(c, cpu);
        m.init(seed);
        return m;
    }

    @Test
    void defaultsAreTheSeeds() {
        DenseConfig c = DenseConfig.defaults();
        assertThat(c.layers()).isEqualTo(6);
        assertThat(c.heads()).isEqualTo(8);
        assertThat(c.context()).isEqualTo(512);
        // "about 2.5M parameters"
        assertThat(Architecture.dense(c).total()).isEqualTo(2_533_824L);
        assertThat(DenseConfig.defaultMlp(256)).isEqualTo(576);
    }

    @Test
    void initialLossIsNearUniformAndPatchesAreNone() {
        DenseGpt m = model(tiny(), 7);
        int[][] xy = ModelGradientTest.batch(2, 24, 1);
        ByteModel.Result o = m.forward(xy[0], xy[1], 2, 24);
        assertThat(o.loss()).isBetween(4.5f, 7.0f);
        assertThat(o.bytes()).isEqualTo(48);
        assertThat(o.patches()).isZero();
        assertThat(m.objective()).isCloseTo(o.loss(), org.assertj.core.api.Assertions.within(1e-4));
    }

    @Test
    void sequencesLongerThanTheContextAreRefused() {
        DenseGpt m = model(new DenseConfig(16, 1, 2, 24, 8), 1);
        int[][] xy = ModelGradientTest.batch(1, 9, 1);
        assertThatThrownBy(() -> m.forward(xy[0], xy[1], 1, 9)).hasMessageContaining("context");
    }

    @Test
    void backwardMatchesFiniteDifferencesForEveryTensor() {
        assertThat(check(model(tiny(), 7), 2, 11, 101, g -> { }, name -> true)).isEmpty();
    }

    /** With ignored targets (generation's priming pass, an evaluation's short last window) the mean is over the valid ones only. */
    @Test
    void backwardMatchesFiniteDifferencesWithIgnoredTargets() {
        DenseGpt m = model(new DenseConfig(8, 1, 2, 16, 16), 3);
        int[][] xy = ModelGradientTest.batch(2, 9, 77);
        xy[1][3] = -1;
        xy[1][12] = -1;
        assertThat(check(m, xy, 2, 9, 202, g -> { }, name -> true)).isEmpty();
    }

    /** The same check rejects a deliberately wrong gradient: one tensor's scaled by 1.1, another's negated. */
    @Test
    void checkRejectsWrongGradients() {
        DenseGpt m = model(tiny(), 7);
        List<String> failures = check(m, 2, 11, 303, g -> {
            ParamLayout.Tensor wv = m.layout.get("block.1.wv"), norm = m.layout.get("norm");
            for (int i = 0; i < wv.size(); i++) {
                g[wv.off() + i] *= 1.1f;
            }
            for (int i = 0; i < norm.size(); i++) {
                g[norm.off() + i] = -g[norm.off() + i];
            }
        }, name -> name.equals("block.1.wv") || name.equals("norm") || name.equals("head"));
        assertThat(failures).anyMatch(f -> f.startsWith("block.1.wv")).anyMatch(f -> f.startsWith("norm"))
                .noneMatch(f -> f.startsWith("head"));
    }

    /** Dropout on (rate 0.3, one fixed draw): the backward masks each branch's gradient as the forward masked the branch. */
    @Test
    void backwardMatchesFiniteDifferencesWithDropout() {
        DenseGpt m = model(tiny(), 7);
        m.setDropout(0.3f, 99);
        assertThat(check(m, 2, 11, 505, g -> { }, name -> true)).isEmpty();
        m.setDropout(0f, 0);
    }

    /** Changing byte s leaves every logit before s bit for bit unchanged, in every sequence of the batch. */
    @Test
    void isCausal() {
        DenseGpt m = model(tiny(), 11);
        int B = 2, T = 20;
        int[][] xy = ModelGradientTest.batch(B, T, 5);
        m.forward(xy[0], xy[1], B, T);
        float[] before = m.logits().clone();
        for (int s : new int[] {0, 7, 19}) {
            int[] x = xy[0].clone();
            x[T + s] = (x[T + s] + 101) % 256; // sequence 1
            m.forward(x, xy[1], B, T);
            float[] after = m.logits();
            assertThat(Arrays.copyOfRange(after, 0, B * T * 256)).as("sequence 0 is untouched")
                    .startsWith(Arrays.copyOfRange(before, 0, T * 256));
            assertThat(Arrays.copyOfRange(after, T * 256, (T + s) * 256)).as("positions before %d", s)
                    .isEqualTo(Arrays.copyOfRange(before, T * 256, (T + s) * 256));
            assertThat(Arrays.copyOfRange(after, (T + s) * 256, (T + s + 1) * 256)).as("position %d itself changes", s)
                    .isNotEqualTo(Arrays.copyOfRange(before, (T + s) * 256, (T + s + 1) * 256));
        }
    }

    @Test
    void aFewStepsOfTrainingLowerTheLoss() {
        DenseGpt m = model(tiny(), 3);
        io.ionllama.data.ByteSource data = io.ionllama.data.ByteSource.of(io.ionllama.data.EmbeddedCorpus.generate(1, 50_000));
        io.ionllama.train.Trainer t = new io.ionllama.train.Trainer(m, data,
                new io.ionllama.train.TrainConfig(4, 32, 1, 1e-2f, 1e-3f, 2, 40, "muon", 0.1f, 1f, 9, 0, 1e-3f));
        double first = 0, last = 0;
        for (int i = 0; i < 40; i++) {
            double loss = t.step().loss();
            if (i < 5) {
                first += loss / 5;
            }
            if (i >= 35) {
                last += loss / 5;
            }
        }
        assertThat(last).isLessThan(first - 0.5);
    }

    private static List<String> check(DenseGpt m, int B, int T, long seed, java.util.function.Consumer<float[]> mutate,
                                      java.util.function.Predicate<String> tensors) {
        return check(m, ModelGradientTest.batch(B, T, seed), B, T, seed, mutate, tensors);
    }

    private static List<String> check(DenseGpt m, int[][] xy, int B, int T, long seed, java.util.function.Consumer<float[]> mutate,
                                      java.util.function.Predicate<String> tensors) {
        Arrays.fill(m.grads, 0f);
        m.forward(xy[0], xy[1], B, T);
        m.backward(1f);
        float[] g = m.grads.clone();
        mutate.accept(g);
        SplittableRandom r = new SplittableRandom(seed);
        List<String> failures = new ArrayList<>();
        for (ParamLayout.Tensor t : m.layout.tensors()) {
            if (!tensors.test(t.name())) {
                continue;
            }
            int samples = (int) Math.min(t.size(), 6);
            for (int k = 0; k < samples; k++) {
                int i = t.off() + r.nextInt((int) t.size());
                double num = numeric(m, xy, B, T, i);
                double ana = g[i];
                if (Math.abs(ana - num) > 2e-3 + 5e-2 * Math.max(Math.abs(ana), Math.abs(num))) {
                    failures.add(String.format("%s[%d]: analytic %.6g numeric %.6g", t.name(), i - t.off(), ana, num));
                }
            }
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

    private static double numeric(DenseGpt m, int[][] xy, int B, int T, int i) {
        float keep = m.params[i];
        double h = ModelGradientTest.H;
        m.params[i] = (float) (keep + h);
        m.forward(xy[0], xy[1], B, T);
        double up = m.objective();
        m.params[i] = (float) (keep - h);
        m.forward(xy[0], xy[1], B, T);
        double down = m.objective();
        m.params[i] = keep;
        return (up - down) / (2 * h);
    }

    private static double directional(DenseGpt m, int[][] xy, int B, int T, int off, double[] v) {
        float[] keep = Arrays.copyOfRange(m.params, off, off + v.length);
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
