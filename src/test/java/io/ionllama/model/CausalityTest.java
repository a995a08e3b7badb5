package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.testing.CpuBackendTest;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Strict causality: changing byte s leaves every logit at positions before s, and every patch
 * boundary before s, bit-for-bit unchanged — for every patcher and both attention forms.
 */
class CausalityTest extends CpuBackendTest {

    @ParameterizedTest
    @CsvSource({"entropy,false,1", "entropy,true,2", "monotonic,false,3", "fixed:3,false,4", "space,false,5",
        "space,true,6", "entropy,false,7"})
    void perturbingByteSChangesNothingBeforeS(String patcher, boolean dense, long seed) {
        ModelConfig c = new ModelConfig("nano", 32, 32, 2, 2, 1, 1, 16, 1, new int[] {3, 4, 5}, 97, 48, 48, 3, 8, 3f).validate();
        IonLlama m = new IonLlama(c, cpu, Patcher.parse(patcher, c.maxPatch(), c.targetPatch()), dense);
        m.init(seed);
        SplittableRandom r = new SplittableRandom(seed);
        int B = 2, T = 96;
        int[] x = new int[B * T], y = new int[B * T];
        String alphabet = "abcde fgh,.XY01";
        for (int i = 0; i < x.length; i++) {
            x[i] = alphabet.charAt(r.nextInt(alphabet.length()));
            y[i] = r.nextInt(256);
        }
        m.forward(x, y, B, T);
        if (m.patcher.usesEntropy()) {
            // A threshold inside the entropy range, so boundaries depend on the bytes.
            float[] h = m.lastEntropies();
            float[] sorted = h.clone();
            Arrays.sort(sorted);
            m.patcher.theta = m.patcher.mode == Patcher.Mode.ENTROPY ? sorted[sorted.length * 2 / 3] : 0f;
        }
        m.forward(x, y, B, T);
        float[] before = m.logits().clone();
        int[] endsBefore = m.lastBoundaries();
        assertThat(Arrays.stream(endsBefore).sum()).as("some boundaries").isBetween(2, B * T - 2);
        for (int trial = 0; trial < 4; trial++) {
            int b = r.nextInt(B);
            int s = 1 + r.nextInt(T - 1);
            int[] x2 = x.clone();
            x2[b * T + s] = (x2[b * T + s] + 1 + r.nextInt(250)) % 256;
            m.forward(x2, y, B, T);
            float[] after = m.logits();
            int[] endsAfter = m.lastBoundaries();
            for (int t = 0; t < s; t++) {
                int i = b * T + t;
                assertThat(Arrays.copyOfRange(after, i * 256, i * 256 + 256))
                        .as("logits at %d after changing byte %d (sequence %d)", t, s, b)
                        .isEqualTo(Arrays.copyOfRange(before, i * 256, i * 256 + 256));
                assertThat(endsAfter[i]).as("boundary at %d", t).isEqualTo(endsBefore[i]);
            }
            // The change must reach the perturbed position itself, or the test proves nothing.
            int i = b * T + s;
            assertThat(Arrays.copyOfRange(after, i * 256, i * 256 + 256))
                    .isNotEqualTo(Arrays.copyOfRange(before, i * 256, i * 256 + 256));
        }
    }
}
