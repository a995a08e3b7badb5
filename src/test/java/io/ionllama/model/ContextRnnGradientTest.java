package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.ForwardingBackend;
import io.ionllama.testing.CpuBackendTest;
import io.ionllama.testing.GradCheck;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Whole-model gradient check of {@link ContextRnn}: a plain double-precision reference of the
 * model (per sequence, per byte, the class doc's equations as loops) gives the loss; central
 * differences of it over EVERY parameter are compared with the float model's hand-written
 * backward (truncated BPTT through two stacked layers). The reference also checks the forward
 * loss. A mutant backend whose gate backward drops the gradient through f ⊙ c (the path through
 * time) is rejected by the same check.
 */
class ContextRnnGradientTest extends CpuBackendTest {

    static final RnnConfig TINY = new RnnConfig(4, 6, 3, 2);
    static final int B = 2, T = 7;

    static double gelu(double x) {
        return 0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
    }

    static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    /** Mean cross-entropy (nats) over targets >= 0, in double, from parameters P. */
    static double referenceLoss(RnnConfig c, ParamLayout lay, double[] P, int[] x, int[] y, int B, int T) {
        int dE = c.dEmbed(), dH = c.dHidden(), dC = c.dContext(), L = c.layers();
        double sum = 0;
        int count = 0;
        for (int b = 0; b < B; b++) {
            double[][] ctx = new double[L][dC];
            for (int t = 0; t < T; t++) {
                int e = lay.get("embed").off();
                double[] in = new double[dE];
                for (int k = 0; k < dE; k++) {
                    in[k] = P[e + x[b * T + t] * dE + k];
                }
                for (int l = 0; l < L; l++) {
                    String n = "layer." + l + ".";
                    int wx = lay.get(n + "in_x").off(), wc = lay.get(n + "in_c").off(), bi = lay.get(n + "in_b").off();
                    int wg = lay.get(n + "gates").off(), bg = lay.get(n + "gates_b").off();
                    int nw = lay.get(n + "norm_w").off(), nb = lay.get(n + "norm_b").off();
                    int dIn = in.length;
                    double[] h = new double[dH];
                    for (int j = 0; j < dH; j++) {
                        double s = P[bi + j];
                        for (int k = 0; k < dIn; k++) {
                            s += P[wx + j * dIn + k] * in[k];
                        }
                        for (int k = 0; k < dC; k++) {
                            s += P[wc + j * dC + k] * ctx[l][k];
                        }
                        h[j] = gelu(s);
                    }
                    double[] z = new double[3 * dC];
                    for (int j = 0; j < 3 * dC; j++) {
                        double s = P[bg + j];
                        for (int k = 0; k < dH; k++) {
                            s += P[wg + j * dH + k] * h[k];
                        }
                        z[j] = s;
                    }
                    double[] p = new double[dC];
                    double mean = 0;
                    for (int k = 0; k < dC; k++) {
                        p[k] = sigmoid(z[k]) * ctx[l][k] + sigmoid(z[dC + k]) * Math.tanh(z[2 * dC + k]);
                        mean += p[k] / dC;
                    }
                    double var = 0;
                    for (int k = 0; k < dC; k++) {
                        var += (p[k] - mean) * (p[k] - mean) / dC;
                    }
                    double rstd = 1 / Math.sqrt(var + ContextRnn.EPS);
                    for (int k = 0; k < dC; k++) {
                        ctx[l][k] = (p[k] - mean) * rstd * P[nw + k] + P[nb + k];
                    }
                    in = h;
                }
                int tgt = y[b * T + t];
                if (tgt < 0) {
                    continue;
                }
                int hw = lay.get("head").off(), hb = lay.get("head_b").off();
                double[] logit = new double[256];
                double max = Double.NEGATIVE_INFINITY;
                for (int v = 0; v < 256; v++) {
                    double s = P[hb + v];
                    for (int k = 0; k < dH; k++) {
                        s += P[hw + v * dH + k] * in[k];
                    }
                    logit[v] = s;
                    max = Math.max(max, s);
                }
                double z = 0;
                for (int v = 0; v < 256; v++) {
                    z += Math.exp(logit[v] - max);
                }
                sum += max + Math.log(z) - logit[tgt];
                count++;
            }
        }
        return sum / count;
    }

    static int[][] batch(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] x = new int[B * T], y = new int[B * T];
        for (int i = 0; i < x.length; i++) {
            x[i] = 'a' + r.nextInt(6);
            y[i] = 'a' + r.nextInt(6);
        }
        y[3] = -1; // an ignored target
        return new int[][] {x, y};
    }

    /** The model's float gradient for the batch, after a forward whose loss is checked against the reference. */
    static float[] analytic(ContextRnn m, int[][] xy, double[] P) {
        ContextRnn.Output o = m.forward(xy[0], xy[1], B, T);
        assertThat((double) o.loss()).isCloseTo(referenceLoss(m.config, m.layout, P, xy[0], xy[1], B, T),
                org.assertj.core.api.Assertions.within(1e-5));
        assertThat(o.bytes()).isEqualTo(B * T - 1);
        java.util.Arrays.fill(m.grads, 0f);
        m.backward(1f);
        return m.grads.clone();
    }

    static double[] numeric(ContextRnn m, int[][] xy) {
        double[] P = new double[m.params.length];
        for (int i = 0; i < P.length; i++) {
            P[i] = m.params[i];
        }
        return GradCheck.numeric(q -> referenceLoss(m.config, m.layout, q, xy[0], xy[1], B, T), P);
    }

    static double[] paramsDouble(ContextRnn m) {
        double[] P = new double[m.params.length];
        for (int i = 0; i < P.length; i++) {
            P[i] = m.params[i];
        }
        return P;
    }

    // The float model's rounding (~1e-7 relative per op, through T steps and two layers) against
    // an exact reference: gradients are O(1e-3 .. 1e-1) (a mean over 13 rows).
    static final double RTOL = 2e-3, ATOL = 2e-6;

    @Test
    void backwardMatchesFiniteDifferencesOfDoubleReferenceForEveryParameter() {
        ContextRnn m = new ContextRnn(TINY, cpu);
        m.init(3);
        int[][] xy = batch(5);
        float[] g = analytic(m, xy, paramsDouble(m));
        double[] n = numeric(m, xy);
        for (ParamLayout.Tensor t : m.layout.tensors()) {
            double[] slice = java.util.Arrays.copyOfRange(n, t.off(), t.off() + (int) t.size());
            GradCheck.assertMatches(t.name(), g, t.off(), slice, RTOL, ATOL);
        }
        // The check is not vacuous: the recurrent weights and the first layer get real gradient.
        assertThat(maxAbs(g, m.layout.get("layer.0.in_c"))).isGreaterThan(1e-4);
        assertThat(maxAbs(g, m.layout.get("layer.0.gates"))).isGreaterThan(1e-4);
        assertThat(maxAbs(g, m.layout.get("layer.1.norm_b"))).isGreaterThan(1e-4);
    }

    @Test
    void backwardAccumulatesAndScales() {
        ContextRnn m = new ContextRnn(TINY, cpu);
        m.init(4);
        int[][] xy = batch(6);
        m.forward(xy[0], xy[1], B, T);
        java.util.Arrays.fill(m.grads, 0f);
        m.backward(1f);
        float[] once = m.grads.clone();
        m.forward(xy[0], xy[1], B, T);
        m.backward(0.5f);
        for (int i = 0; i < once.length; i++) {
            assertThat((double) m.grads[i]).as("grad[%d]", i).isCloseTo(1.5 * once[i],
                    org.assertj.core.api.Assertions.within(1e-6 + 1e-5 * Math.abs(once[i])));
        }
    }

    /** A backend whose gate backward loses the gradient into c[t-1] through f ⊙ c. */
    static final class NoCarryThroughForget extends ForwardingBackend {
        NoCarryThroughForget() {
            super(cpu);
        }

        @Override
        public void rnnGatesBackward(float[] dz, int dzOff, float[] dc, int dcOff, float[] dp, int dpOff,
                                     float[] z, int zOff, float[] c, int cOff, int rows, int C) {
            delegate.rnnGatesBackward(dz, dzOff, null, 0, dp, dpOff, z, zOff, c, cOff, rows, C);
        }

        @Override
        public void close() {
            // the shared CPU backend is closed by CpuBackendTest
        }
    }

    @Test
    void checkRejectsABackwardThatDropsTheForgetPathThroughTime() {
        ContextRnn good = new ContextRnn(TINY, cpu), bad = new ContextRnn(TINY, new NoCarryThroughForget());
        good.init(3);
        bad.init(3);
        int[][] xy = batch(5);
        double[] n = numeric(good, xy);
        float[] g = analytic(bad, xy, paramsDouble(bad));
        assertThat(GradCheck.matches(g, n, RTOL, ATOL)).isFalse();
        assertThat(GradCheck.matches(analytic(good, xy, paramsDouble(good)), n, RTOL, ATOL)).isTrue();
    }

    static double maxAbs(float[] g, ParamLayout.Tensor t) {
        double m = 0;
        for (int i = 0; i < t.size(); i++) {
            m = Math.max(m, Math.abs(g[t.off() + i]));
        }
        return m;
    }
}
