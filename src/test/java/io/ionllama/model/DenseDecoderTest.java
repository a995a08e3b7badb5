package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.generate.Generator;
import io.ionllama.generate.Sampling;
import io.ionllama.testing.CpuBackendTest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The key/value-cached decoder equals the full forward pass: byte by byte, after a priming pass,
 * and across the sliding window (re-primed with the most recent half window when the cache holds
 * the window, as the {@link Generator} does). Logits match within 1e-4 absolute (logits of order
 * 1-10; the difference is the summation order of one-row versus many-row matmuls).
 */
class DenseDecoderTest extends CpuBackendTest {
    static final double TOL = 1e-4;

    static DenseGpt model(int context) {
        DenseGpt m = new DenseGpt(new DenseConfig(16, 2, 2, 24, context).validate(), cpu);
        m.init(21);
        return m;
    }

    static int[] text(int n) {
        String s = "Once upon a time, a small cat sat on a warm mat. 12 + 34 = 46. ";
        int[] b = new int[n];
        for (int i = 0; i < n; i++) {
            b[i] = s.charAt(i % s.length());
        }
        return b;
    }

    /** Logits of the last position of a full forward pass over {@code bytes[from..to)}. */
    static float[] full(DenseGpt m, int[] bytes, int from, int to) {
        int n = to - from;
        int[] y = new int[n];
        Arrays.fill(y, -1);
        m.forward(Arrays.copyOfRange(bytes, from, to), y, 1, n);
        return Arrays.copyOfRange(m.logits(), (n - 1) * 256, n * 256);
    }

    static void assertClose(float[] got, float[] want, String what) {
        for (int v = 0; v < 256; v++) {
            assertThat((double) got[v]).as("%s, logit %d", what, v).isCloseTo(want[v], org.assertj.core.api.Assertions.within(TOL));
        }
    }

    @Test
    void feedingByteByByteEqualsTheFullForward() {
        DenseGpt m = model(64);
        int[] b = text(40);
        ByteModel.Decoder d = m.decoder(64);
        for (int t = 0; t < b.length; t++) {
            float[] inc = d.feed(b[t]).clone();
            assertClose(inc, full(m, b, 0, t + 1), "after byte " + t);
        }
        assertThat(d.length()).isEqualTo(40);
    }

    @Test
    void primingThenFeedingEqualsTheFullForward() {
        DenseGpt m = model(64);
        int[] b = text(30);
        ByteModel.Decoder d = m.decoder(64);
        assertClose(d.prime(b, 3, 20).clone(), full(m, b, 3, 20), "primed");
        for (int t = 20; t < 30; t++) {
            assertClose(d.feed(b[t]).clone(), full(m, b, 3, t + 1), "after byte " + t);
        }
        // A one-byte prompt goes byte by byte.
        assertClose(d.prime(b, 5, 6).clone(), full(m, b, 5, 6), "one-byte prime");
    }

    /**
     * Past the window: when the cache holds {@code window} bytes, it is re-primed with the last
     * window/2, and from there each byte equals a forward over the bytes since that point, at
     * positions 0.. as in training.
     */
    @Test
    void slidingWindowEqualsTheFullForwardOverTheKeptBytes() {
        int window = 16;
        DenseGpt m = model(window);
        int[] b = text(70);
        ByteModel.Decoder d = m.decoder(window);
        int from = 0;
        float[] inc = d.prime(b, 0, 5);
        int reprimes = 0;
        for (int len = 5; len <= b.length; len++) {
            if (len > 5) {
                if (d.length() >= window) {
                    from = len - window / 2;
                    inc = d.prime(b, from, len);
                    reprimes++;
                } else {
                    inc = d.feed(b[len - 1]);
                }
            }
            assertThat(d.length()).isLessThanOrEqualTo(window).isEqualTo(len - from);
            assertClose(inc.clone(), full(m, b, from, len), "at length " + len);
        }
        assertThat(reprimes).isGreaterThanOrEqualTo(5);
    }

    /** The generator's incremental path slides the same way: greedy bytes equal a reference made of full forward passes. */
    @Test
    void generatorRunsPastTheContextAndMatchesTheReference() {
        int window = 16;
        DenseGpt m = model(window);
        int[] prompt = text(10);
        List<Integer> got = new ArrayList<>();
        // A window larger than the model's context is capped at the context.
        new Generator(m, 1024).generate(prompt, 50, Sampling.greedy(), 1, got::add);
        assertThat(got).hasSize(50);

        int[] ctx = Arrays.copyOf(prompt, prompt.length + 50);
        int len = prompt.length, from = 0;
        List<Integer> want = new ArrayList<>();
        for (int k = 0; k < 50; k++) {
            if (k > 0 && len - 1 - from >= window) {
                from = len - window / 2;
            }
            float[] l = full(m, ctx, from, len);
            int best = 0;
            for (int v = 1; v < 256; v++) {
                best = l[v] > l[best] ? v : best;
            }
            ctx[len++] = best;
            want.add(best);
        }
        assertThat(got).isEqualTo(want);
    }
}
