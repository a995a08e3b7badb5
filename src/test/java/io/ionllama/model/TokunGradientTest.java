package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.testing.CpuBackendTest;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/**
 * Whole-model gradient check of tokun, as {@link ModelGradientTest} does for ionLlama: for every
 * parameter tensor, sampled entries and a directional derivative of the hand-written backward
 * against central differences of the objective (float model, step 1e-2 / 1e-3, the same
 * tolerances), with pads in the batch; and the same check rejects a deliberately wrong gradient.
 */
class TokunGradientTest extends CpuBackendTest {

    static TokunConfig nano(int... groups) {
        return new TokunConfig(groups, 8, 2, 12).validate();
    }

    static Tokun model(TokunConfig c) {
        Tokun m = new Tokun(c, cpu);
        m.init(7);
        return m;
    }

    /** Chunks of a short text at random offsets, the last one cut short and padded. */
    static int[][] batch(int chunks, int chunk, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        String text = "the cat sat on the mat. 12 + 34 = 46. spell dog: d-o-g. ";
        int n = chunks * chunk;
        int[] x = new int[n], y = new int[n];
        for (int c = 0; c < chunks; c++) {
            int off = r.nextInt(text.length());
            int cut = c == chunks - 1 ? chunk / 2 + 1 : chunk;
            for (int t = 0; t < chunk; t++) {
                int i = c * chunk + t;
                x[i] = t < cut ? text.charAt((off + t) % text.length()) : Tokun.PAD;
                y[i] = t < cut ? x[i] : -1;
            }
        }
        return new int[][] {x, y};
    }

    @Test
    void initialLossIsNearUniform() {
        Tokun m = model(nano(4, 4));
        int[][] xy = batch(3, 16, 1);
        Tokun.Output o = m.forward(xy[0], xy[1], 1, 48);
        assertThat(o.loss()).isBetween(4.5f, 7.5f);
        assertThat(o.bytes()).isEqualTo(16 + 16 + 9);
        assertThat(o.pads()).isEqualTo(7);
        assertThat(o.chunks()).isEqualTo(3);
    }

    @Test
    void backwardMatchesFiniteDifferencesForEveryTensor() {
        assertThat(check(model(nano(4, 4)), 3, 16, 11, g -> { }, name -> true)).isEmpty();
    }

    @Test
    void backwardMatchesFiniteDifferencesWithThreeUnevenStages() {
        assertThat(check(model(nano(2, 3, 2)), 2, 12, 12, g -> { }, name -> true)).isEmpty();
    }

    /** The check rejects a wrong gradient: one merge's scaled by 1.1, a decoder attention's negated; the head left right. */
    @Test
    void checkRejectsWrongGradients() {
        Tokun m = model(nano(4, 4));
        List<String> failures = check(m, 3, 16, 13, g -> {
            ParamLayout.Tensor merge = m.layout.get("enc.1.merge"), wq = m.layout.get("dec.0.wq");
            for (int i = 0; i < merge.size(); i++) {
                g[merge.off() + i] *= 1.1f;
            }
            for (int i = 0; i < wq.size(); i++) {
                g[wq.off() + i] = -g[wq.off() + i];
            }
        }, name -> name.equals("enc.1.merge") || name.equals("dec.0.wq") || name.equals("head"));
        assertThat(failures).anyMatch(f -> f.startsWith("enc.1.merge")).anyMatch(f -> f.startsWith("dec.0.wq"))
                .noneMatch(f -> f.startsWith("head"));
    }

    private static List<String> check(Tokun m, int chunks, int chunk, long seed, Consumer<float[]> mutate,
                                      Predicate<String> tensors) {
        int[][] xy = batch(chunks, chunk, seed);
        int n = chunks * chunk;
        java.util.Arrays.fill(m.grads, 0f);
        m.forward(xy[0], xy[1], 1, n);
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
                double num = numeric(m, xy, n, i);
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
            double dirNum = directional(m, xy, n, t.off(), v);
            if (Math.abs(dot - dirNum) > 1e-3 + 2e-2 * Math.max(Math.abs(dot), Math.abs(dirNum))) {
                failures.add(String.format("%s: directional analytic %.6g numeric %.6g", t.name(), dot, dirNum));
            }
        }
        return failures;
    }

    static double numeric(Tokun m, int[][] xy, int n, int i) {
        float keep = m.params[i];
        double h = 1e-2;
        m.params[i] = (float) (keep + h);
        m.forward(xy[0], xy[1], 1, n);
        double up = m.objective();
        m.params[i] = (float) (keep - h);
        m.forward(xy[0], xy[1], 1, n);
        double down = m.objective();
        m.params[i] = keep;
        return (up - down) / (2 * h);
    }

    static double directional(Tokun m, int[][] xy, int n, int off, double[] v) {
        float[] keep = new float[v.length];
        System.arraycopy(m.params, off, keep, 0, v.length);
        double h = 1e-3;
        for (int j = 0; j < v.length; j++) {
            m.params[off + j] = (float) (keep[j] + h * v[j]);
        }
        m.forward(xy[0], xy[1], 1, n);
        double up = m.objective();
        for (int j = 0; j < v.length; j++) {
            m.params[off + j] = (float) (keep[j] - h * v[j]);
        }
        m.forward(xy[0], xy[1], 1, n);
        double down = m.objective();
        System.arraycopy(keep, 0, m.params, off, v.length);
        return (up - down) / (2 * h);
    }
}
