package io.ionllama.eval;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.model.Tokun;
import io.ionllama.model.TokunConfig;
import io.ionllama.testing.CpuBackendTest;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * tokun eval's measurements: the score over pieces equals one pass over the whole text, k = 0 is
 * no noise, the noise of both experiments has the intended scale and norm, and a run repeats
 * exactly with its seed.
 */
class TokunScoreTest extends CpuBackendTest {

    static Tokun model() {
        Tokun m = new Tokun(new TokunConfig(new int[] {4, 4}, 8, 2, 16).validate(), cpu);
        m.init(11);
        return m;
    }

    /** Longer than one piece (4096 bytes), ending in a partial chunk. */
    static byte[] text() {
        return "the quick brown fox jumps over the lazy dog; ".repeat(100).substring(0, 4500)
                .getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void piecesAddUpToOnePassAndZeroNoiseIsNone() {
        Tokun m = model();
        byte[] t = text();
        TokunScore.Score s = TokunScore.score(m, t);
        int[][] xy = Tokun.padded(t, 0, t.length, 16);
        Tokun.Output whole = m.forward(xy[0], xy[1], 1, xy[0].length);
        assertThat(s.bytes()).isEqualTo(4500).isEqualTo(whole.bytes());
        assertThat(s.correct()).isEqualTo(whole.correct());
        assertThat(s.chunks()).isEqualTo(whole.chunks()).isEqualTo(282);
        assertThat(s.chunksCorrect()).isEqualTo(whole.chunksCorrect());
        double[] std = TokunScore.latentStd(m, t);
        assertThat(java.util.Arrays.stream(std).min().orElseThrow()).isPositive();
        assertThat(TokunScore.perturbed(m, t, std, 0, TokunScore.Kind.GAUSSIAN, 3)).isEqualTo(s);
        TokunScore.Noise[] a = TokunScore.robustness(m, t, new double[] {0.5, 2}, 9);
        TokunScore.Noise[] b = TokunScore.robustness(m, t, new double[] {0.5, 2}, 9);
        assertThat(a).isEqualTo(b);
    }

    @Test
    void noiseHasItsScaleAndBothExperimentsTheSameNorm() {
        int d = 64, n = 4000;
        double[] std = new double[d];
        for (int j = 0; j < d; j++) {
            std[j] = j < d / 2 ? 0.1 : 2.0;
        }
        double[] e = new double[d], u = new double[d], sq = new double[d];
        SplittableRandom g = new SplittableRandom(1), r = new SplittableRandom(1);
        double lowHalf = 0, highHalf = 0;
        for (int i = 0; i < n; i++) {
            TokunScore.noise(e, u, std, 0.5, TokunScore.Kind.GAUSSIAN, g);
            double ng = 0;
            for (int j = 0; j < d; j++) {
                sq[j] += e[j] * e[j];
                ng += e[j] * e[j];
            }
            TokunScore.noise(e, u, std, 0.5, TokunScore.Kind.DIRECTION, r);
            double nd = 0;
            for (int j = 0; j < d; j++) {
                nd += e[j] * e[j];
                if (j < d / 2) {
                    lowHalf += e[j] * e[j];
                } else {
                    highHalf += e[j] * e[j];
                }
            }
            // Same seed: the direction experiment's vector has exactly the Gaussian one's norm.
            assertThat(Math.sqrt(nd)).isCloseTo(Math.sqrt(ng), org.assertj.core.data.Offset.offset(1e-9));
            g = new SplittableRandom(i + 2);
            r = new SplittableRandom(i + 2);
        }
        // Gaussian: per-dimension std k·σ_j; random direction: the energy spread evenly.
        assertThat(Math.sqrt(sq[0] / n)).isCloseTo(0.05, org.assertj.core.data.Offset.offset(0.005));
        assertThat(Math.sqrt(sq[d - 1] / n)).isCloseTo(1.0, org.assertj.core.data.Offset.offset(0.1));
        assertThat(lowHalf / highHalf).isCloseTo(1.0, org.assertj.core.data.Offset.offset(0.1));
    }
}
