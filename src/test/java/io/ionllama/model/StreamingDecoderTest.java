package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.testing.CpuBackendTest;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Incremental decoding equals the full forward pass: for random prompts and every patcher, the
 * logits after each byte match the full pass within 1e-4 (absolute, logits of order 1-10: the
 * only difference is the summation order of one-row versus many-row matmuls), and the patch
 * boundaries are identical.
 */
class StreamingDecoderTest extends CpuBackendTest {

    @ParameterizedTest
    @CsvSource({"entropy,false,1", "entropy,true,2", "monotonic,false,3", "fixed:3,false,4", "space,false,5", "fixed:2,true,6"})
    void incrementalLogitsEqualTheFullPass(String patcherSpec, boolean dense, long seed) {
        ModelConfig c = new ModelConfig("nano", 32, 32, 2, 2, 2, 2, 16, 2, new int[] {3, 4, 5}, 97, 48, 48, 3, 8, 3f).validate();
        IonLlama m = new IonLlama(c, cpu, Patcher.parse(patcherSpec, c.maxPatch(), c.targetPatch()), dense);
        m.init(seed);
        SplittableRandom r = new SplittableRandom(seed);
        int T = 120;
        int[] x = new int[T], y = new int[T];
        String alphabet = "the quick brown fox, 0123. ";
        for (int i = 0; i < T; i++) {
            x[i] = alphabet.charAt(r.nextInt(alphabet.length()));
            y[i] = -1;
        }
        m.forward(x, y, 1, T);
        if (m.patcher.usesEntropy()) {
            float[] sorted = m.lastEntropies().clone();
            Arrays.sort(sorted);
            m.patcher.theta = m.patcher.mode == Patcher.Mode.ENTROPY ? sorted[T * 2 / 3] : 0.01f;
        }
        m.forward(x, y, 1, T);
        float[] full = m.logits().clone();
        int[] ends = m.lastBoundaries();
        assertThat(Arrays.stream(ends).sum()).isBetween(3, T - 3);

        StreamingDecoder dec = new StreamingDecoder(m);
        double worst = 0;
        for (int t = 0; t < T; t++) {
            float[] logits = dec.feed(x[t]);
            assertThat(dec.lastClosedPatch()).as("boundary at %d", t).isEqualTo(ends[t] != 0);
            for (int v = 0; v < 256; v++) {
                worst = Math.max(worst, Math.abs(logits[v] - full[t * 256 + v]));
            }
        }
        assertThat(worst).as("largest logit difference").isLessThan(1e-4);
        assertThat(dec.patches()).isEqualTo(Arrays.stream(ends).sum());

        // Priming with one forward pass leaves the decoder where feeding byte by byte does.
        int P = 90;
        StreamingDecoder fed = new StreamingDecoder(m), primed = new StreamingDecoder(m);
        float[] a = null;
        for (int t = 0; t < P; t++) {
            a = fed.feed(x[t]);
        }
        float[] b = primed.prime(x, 0, P);
        assertThat(primed.length()).isEqualTo(P);
        assertThat(primed.patches()).as("patches after priming").isEqualTo(fed.patches());
        assertThat(primed.lastClosedPatch()).isEqualTo(fed.lastClosedPatch());
        assertThat(maxDiff(a, b)).as("logits after priming").isLessThan(1e-4);
        for (int t = P; t < T; t++) {
            a = fed.feed(x[t]);
            b = primed.feed(x[t]);
            assertThat(primed.lastClosedPatch()).as("boundary at %d after priming", t).isEqualTo(ends[t] != 0);
            assertThat(maxDiff(a, b)).as("logits at %d after priming", t).isLessThan(1e-4);
        }
    }

    /**
     * Every prompt length from 0 to 20 bytes primes to where byte-by-byte feeding gets, for every
     * patcher, including prompts that close no patch (the global keys and values are empty then)
     * and prompts that end on a boundary; the bytes generated after it match too.
     */
    @ParameterizedTest
    @CsvSource({"entropy,false,11", "entropy,true,12", "monotonic,false,13", "fixed:3,false,14", "fixed:8,true,15", "space,false,16"})
    void everyShortPromptPrimesAsFeedingDoes(String patcherSpec, boolean dense, long seed) {
        ModelConfig c = new ModelConfig("nano", 32, 32, 2, 2, 2, 2, 16, 2, new int[] {3, 4, 5}, 97, 48, 48, 3, 8, 3f).validate();
        IonLlama m = new IonLlama(c, cpu, Patcher.parse(patcherSpec, c.maxPatch(), c.targetPatch()), dense);
        m.init(seed);
        // A high threshold: entropy patches close only at the cap, so short prompts close none.
        m.patcher.theta = 50f;
        SplittableRandom r = new SplittableRandom(seed);
        String alphabet = "Once upon a time, 12 + 3 = ";
        int[] x = new int[32];
        for (int i = 0; i < x.length; i++) {
            // No space in the first bytes, so a 2-byte prompt closes no patch for any patcher.
            x[i] = i < 6 ? "Onceup".charAt(i) : alphabet.charAt(r.nextInt(alphabet.length()));
        }
        boolean sawNoPatch = false, sawPatch = false;
        for (int P = 0; P <= 20; P++) {
            StreamingDecoder fed = new StreamingDecoder(m), primed = new StreamingDecoder(m);
            float[] a = null;
            for (int t = 0; t < P; t++) {
                a = fed.feed(x[t]);
            }
            float[] b = primed.prime(x, 0, P);
            assertThat(primed.length()).as("length after priming %d bytes", P).isEqualTo(P);
            assertThat(primed.patches()).as("patches after priming %d bytes", P).isEqualTo(fed.patches());
            assertThat(primed.lastClosedPatch()).as("last boundary after priming %d bytes", P).isEqualTo(fed.lastClosedPatch());
            if (P == 0) {
                assertThat(b).isNull();
            } else {
                assertThat(maxDiff(a, b)).as("logits after priming %d bytes", P).isLessThan(1e-4);
            }
            sawNoPatch |= P >= 2 && fed.patches() == 0;
            sawPatch |= fed.patches() > 0;
            for (int t = P; t < P + 6; t++) {
                a = fed.feed(x[t]);
                b = primed.feed(x[t]);
                assertThat(primed.lastClosedPatch()).as("boundary at %d after priming %d", t, P).isEqualTo(fed.lastClosedPatch());
                assertThat(maxDiff(a, b)).as("logits at %d after priming %d", t, P).isLessThan(1e-4);
            }
        }
        assertThat(sawPatch).as("some prompt closes a patch").isTrue();
        assertThat(sawNoPatch).as("some prompt of 2+ bytes closes no patch").isTrue();
    }

    static double maxDiff(float[] a, float[] b) {
        double w = 0;
        for (int v = 0; v < 256; v++) {
            w = Math.max(w, Math.abs(a[v] - b[v]));
        }
        return w;
    }
}
