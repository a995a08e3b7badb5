package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.generate.Generator;
import io.ionllama.generate.Sampling;
import io.ionllama.testing.Allocations;
import io.ionllama.testing.CpuBackendTest;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/**
 * {@link ContextRnn} as a {@link ByteModel}: the batch-major logits of a forward pass, the
 * decoder ({@link RnnDecoder}) equal to the full forward, its state the context vectors only, and
 * 100K bytes generated through the tool's {@link Generator} with heap use flat in the length (beyond
 * the generated text the generator itself keeps, one int per byte).
 */
class RnnDecoderTest extends CpuBackendTest {

    static final RnnConfig SMALL = ContextRnnTest.SMALL;

    @Test
    void decoderEqualsTheFullForwardThroughByteModel() {
        ByteModel m = ContextRnnTest.model(SMALL, 5);
        int B = 2, T = 30;
        int[] x = ContextRnnTest.randomBytes(B * T, 6), y = ContextRnnTest.randomBytes(B * T, 7);
        ByteModel.Result r = m.forward(x, y, B, T);
        assertThat(r.bytes()).isEqualTo(B * T);
        assertThat(r.patches()).isZero();
        assertThat((double) r.loss()).isCloseTo(m.objective(), Offset.offset(1e-5));
        float[] full = m.logits().clone();
        ByteModel.Decoder d = m.decoder(8); // the window does not bound it
        for (int b = 0; b < B; b++) {
            d.reset();
            for (int t = 0; t < T; t++) {
                float[] logits = t == 0 ? d.prime(x, b * T, b * T + 1) : d.feed(x[b * T + t]);
                for (int v = 0; v < 256; v++) {
                    float e = full[(b * T + t) * 256 + v];
                    assertThat(logits[v]).as("b %d t %d v %d", b, t, v).isCloseTo(e, Offset.offset(1e-4f + 1e-4f * Math.abs(e)));
                }
            }
            assertThat(d.length()).isEqualTo(T);
        }
        // prime over a whole sequence lands on the same state as feeding it.
        float[] primed = d.prime(x, 0, T).clone();
        for (int v = 0; v < 256; v++) {
            assertThat(primed[v]).isCloseTo(full[(T - 1) * 256 + v], Offset.offset(1e-4f + 1e-4f * Math.abs(full[(T - 1) * 256 + v])));
        }
        assertThat(((RnnDecoder) d).context()).hasSize(SMALL.layers() * SMALL.dContext());
    }

    @Test
    void generatingOneHundredThousandBytesThroughTheGeneratorKeepsHeapFlat() {
        ContextRnn m = ContextRnnTest.model(SMALL, 9);
        int[] prompt = {'a', 'b'};
        int[] count = {0};
        // A window past the length: the decoder carries its state through all 100K bytes, never re-primed.
        Generator g = new Generator(m, 1 << 20);
        // First until C2 has compiled the step (testing.Allocations), on 5K-byte runs...
        Runnable small = () -> g.generate(prompt, 5_000, Sampling.greedy(), 1, b -> ++count[0] > 0);
        Allocations.leastPerRun(cpu, small, 2, 4 * 5_000 + 4 * 1024);
        int n = 100_000;
        // ...then the 100K-byte run itself, the least of three single runs (Allocations' between-round
        // warm-up would run it twenty times more).
        long allocated = Long.MAX_VALUE;
        for (int k = 0; k < 3; k++) {
            allocated = Math.min(allocated, Allocations.leastPerRun(cpu,
                    () -> g.generate(prompt, n, Sampling.greedy(), 1, b -> ++count[0] > 0), 0, Long.MAX_VALUE));
        }
        // The generator keeps the text it makes (one int per byte); everything else is fixed.
        long beyondText = allocated - 4L * (n + prompt.length);
        System.out.printf("rnn generation through Generator: %d bytes allocated over %d bytes (%d beyond the text)%n",
                allocated, n, beyondText);
        assertThat(beyondText).as("bytes allocated beyond the generated text over %d bytes", n).isLessThan(16 * 1024);
    }
}
