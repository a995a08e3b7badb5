package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.kernels.Attention;
import org.junit.jupiter.api.Test;

/** The analytic FLOP count: attention keys match the kernel's key sets, matmul terms add up by hand. */
class StepFlopsTest {

    @Test
    void keysReadMatchTheKernelsKeySets() {
        for (int w : new int[] {1, 3, 8}) {
            for (int P : new int[] {1, 2, 9, 100, 1000}) {
                long brute = 0;
                int slots = Attention.dilatedSlots(w, P);
                for (int i = 0; i < P; i++) {
                    for (int s = 0; s < slots; s++) {
                        if (Attention.dilatedOffset(s, w) <= i) {
                            brute++;
                        }
                    }
                }
                assertThat(StepFlops.keysRead(P, w, false)).as("w %d P %d", w, P).isEqualTo((double) brute);
            }
        }
        assertThat(StepFlops.keysRead(100, 8, true)).isEqualTo(5050.0);
    }

    @Test
    void matmulTermsByHand() {
        // nano: dE 64 (1 layer), dL 96 (1 enc + 1 dec, mlp 256), dM 128 (2 layers, mlp 384, 4 heads of 32), window 8.
        ModelConfig c = ModelConfig.of("nano");
        int bytes = 100;
        int[] patches = {3};
        double perByte = (4 * 64 * 64 + 3 * 64 * 128) + 256 * 64 + 2 * (4 * 96 * 96 + 3 * 96 * 256) + 256 * 96;
        double perPatch = 2 * (4 * 128 * 128 + 3 * 128 * 384) + 96 * 128 + 128 * 96;
        double macs = perByte * bytes + perPatch * 3 + 128 * 96;
        double attention = 12.0 * 32 * 4 * 2 * (1 + 2 + 3); // 4 hd forward + 8 hd backward per key
        assertThat(StepFlops.perStep(c, bytes, patches, false)).isEqualTo(6 * macs + attention);
    }

    @Test
    void denseTermsByHand() {
        // d 192, 6 layers of 8 heads (24 each), SwiGLU 448; 2 sequences of 10 bytes.
        DenseConfig c = DenseConfig.defaults();
        double perByte = 6 * (4.0 * 192 * 192 + 3.0 * 192 * 448) + 256 * 192;
        double attention = 12.0 * 24 * 8 * 6 * 2 * 55;
        assertThat(StepFlops.perStepDense(c, 2, 10)).isEqualTo(6 * perByte * 20 + attention);
    }

    /**
     * A frozen tokun's encoder: its matmul FLOPs are what the products of one {@link Tokun#encode}
     * actually multiply (counted by {@link io.ionllama.backend.OpProfile} from their shapes), and
     * the rest is the in-group attention, by hand.
     */
    @Test
    void tokunEncoderForwardCountsWhatEncodeMultiplies() {
        TokunConfig t = TokunConfig.of(new int[] {4, 2}, 32); // 2 heads of 16, SwiGLU 64, chunk 8
        int bytes = 64;
        io.ionllama.backend.OpProfile profile = new io.ionllama.backend.OpProfile();
        try (io.ionllama.backend.cpu.CpuBackend cpu = new io.ionllama.backend.cpu.CpuBackend(1)) {
            Tokun tokun = new Tokun(t, profile.wrap(cpu));
            tokun.init(1);
            tokun.encode(new int[bytes], bytes);
        }
        long matmul = 0;
        for (io.ionllama.backend.OpProfile.Entry e : profile.entries()) {
            assertThat(e.op()).as("the encoder's only products are forward matmuls").doesNotStartWith("matmulBackward");
            matmul += e.flops();
        }
        // Stage 0: 64 rows in groups of 4 keys; stage 1: 16 rows in groups of 2; 4 d FLOPs per key read.
        double attention = 64 * 4 * 4 * 32 + 16 * 2 * 4 * 32;
        assertThat(matmul).isPositive();
        assertThat(StepFlops.tokunEncoderForward(t, bytes)).isEqualTo(matmul + attention);
    }

    /** With a tokun patcher: tokun.proj (dT dM per patch) in place of W_p (dL dM), plus the frozen encoder's forward. */
    @Test
    void aTokunPatcherSwapsTheProjectionAndAddsTheFrozenEncoder() {
        ModelConfig c = ModelConfig.of("nano");
        TokunConfig t = TokunConfig.of(new int[] {4, 4}, 64);
        int[] patches = {6};
        double pooled = StepFlops.perStep(c, 100, patches, false), withTokun = StepFlops.perStep(c, 100, patches, false, t);
        assertThat(withTokun - pooled).isEqualTo(6 * 6 * (64 - 96) * 128.0 + StepFlops.tokunEncoderForward(t, 100));
        assertThat(StepFlops.perStep(c, 100, patches, false, null)).isEqualTo(pooled);
    }

    /** The dense estimate counts the attention weights, which grow with the square of the sequence. */
    @Test
    void denseMemoryGrowsWithTheSquareOfTheSequence() {
        DenseConfig c = DenseConfig.defaults();
        ParamLayout l = Architecture.dense(c);
        MemoryEstimate m = MemoryEstimate.ofDense(c, l, 8, 512);
        assertThat(m.optimizerState()).isEqualTo(16L * 2_533_824);
        // 6 layers x 8 heads x 512 keys per byte, 4096 bytes: 400 MB of attention weights alone.
        assertThat(m.activations()).isGreaterThan(6L * 8 * 512 * 4096 * 4);
    }

    /**
     * A tokun patcher's estimate against the buffers its frozen tokun really holds after encoding a
     * batch (every array field of {@code Tokun} and of its blocks, summed by reflection), less the
     * patcher's own copy of the bytes: equal but for the few ints of the stage tables.
     */
    @Test
    void tokunPatcherMemoryIsWhatTheFrozenTokunAllocates() throws Exception {
        TokunConfig t = TokunConfig.of(new int[] {4, 2}, 32);
        int batch = 2, seqLen = 64, n = batch * seqLen;
        try (io.ionllama.backend.cpu.CpuBackend cpu = new io.ionllama.backend.cpu.CpuBackend(1)) {
            Tokun tokun = new Tokun(t, cpu);
            tokun.encode(new int[n], n);
            MemoryEstimate m = MemoryEstimate.ofTokunPatcher(t, tokun.params.length, batch, seqLen);
            assertThat(m.optimizerState()).as("weights and gradient array").isEqualTo(8L * tokun.params.length);
            long held = elements(tokun, Tokun.class);
            for (java.lang.reflect.Field f : Tokun.class.getDeclaredFields()) {
                if (f.getType() == TokunBlock[].class) {
                    f.setAccessible(true);
                    for (TokunBlock b : (TokunBlock[]) f.get(tokun)) {
                        held += elements(b, TokunBlock.class);
                    }
                }
            }
            long estimated = m.activations() / Float.BYTES - (n + n / 4);
            int tables = 3 * t.stages() + 1; // merge, split, rowsAt
            assertThat(estimated).as("floats and ints of the tokun's buffers").isBetween(held - tables, held);
        }
    }

    /** Elements of the non-static array fields {@code type} declares on {@code o} (arrays of arrays: their rows). */
    private static long elements(Object o, Class<?> type) throws IllegalAccessException {
        long sum = 0;
        for (java.lang.reflect.Field f : type.getDeclaredFields()) {
            if (java.lang.reflect.Modifier.isStatic(f.getModifiers()) || !f.getType().isArray()) {
                continue;
            }
            f.setAccessible(true);
            Object a = f.get(o);
            if (a instanceof float[][] rows) {
                for (float[] r : rows) {
                    sum += r == null ? 0 : r.length;
                }
            } else if (a instanceof float[] || a instanceof int[]) {
                sum += java.lang.reflect.Array.getLength(a);
            }
        }
        return sum;
    }
}
