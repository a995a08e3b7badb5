package io.ionllama.kernels;

import static io.ionllama.testing.GradCheck.assertClose;
import static io.ionllama.testing.GradCheck.assertMatches;
import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.testing.GradCheck;
import io.ionllama.testing.Tensors;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Byte embedding and hashed n-gram embeddings: forwards against double references, the
 * scatter-add backwards against central differences (with many repeated bytes, so cells collect
 * several terms), mutants the check rejects, bit-identical results for any thread count, and the
 * n-gram buckets' contract: in range, restarting at every sequence start (a byte in another
 * sequence never moves this sequence's buckets), local (a byte only moves the windows holding it)
 * and well spread.
 */
class EmbeddingsTest {

    /** Bytes from a small alphabet, so the same byte (and n-gram) repeats within a batch. */
    static int[] bytes(SplittableRandom rnd, int off, int rows) {
        int[] b = new int[off + rows];
        int[] alphabet = {0, 32, 101, 128, 255};
        for (int t = 0; t < rows; t++) {
            b[off + t] = rnd.nextInt(3) == 0 ? rnd.nextInt(256) : alphabet[rnd.nextInt(alphabet.length)];
        }
        return b;
    }

    // ------------------------------------------------------------------------ byte embedding

    static double[] byteReference(double[] emb, int[] bytes, int off, int rows, int D) {
        double[] out = new double[rows * D];
        for (int t = 0; t < rows; t++) {
            for (int c = 0; c < D; c++) {
                out[t * D + c] = emb[bytes[off + t] * D + c];
            }
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4})
    void byteEmbeddingForwardAndBackward(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int rows = 5 + rnd.nextInt(30), D = 1 + rnd.nextInt(5), off = 1 + rnd.nextInt(4);
        int[] x = bytes(rnd, off, rows);
        float[] emb = Tensors.uniform(rnd, off + 256 * D, -1, 1);
        double[] r = Tensors.toDouble(Tensors.uniform(rnd, rows * D, -1, 1));
        float[] dout = new float[off + rows * D];
        for (int i = 0; i < r.length; i++) {
            dout[off + i] = (float) r[i];
        }
        float[] out = new float[off + rows * D], dEmb = new float[off + 256 * D];
        try (CpuBackend cpu = new CpuBackend(2)) {
            cpu.byteEmbeddingForward(out, off, emb, off, x, off, rows, D);
            cpu.byteEmbeddingBackward(dEmb, off, dout, off, x, off, rows, D);
        }
        double[] e = Tensors.slice(emb, off, 256 * D);
        assertClose("out", out, off, byteReference(e, x, off, rows, D), 0, 0);
        double[] numeric = GradCheck.numeric(p -> Tensors.dot(r, byteReference(p, x, off, rows, D)), e);
        assertMatches("dE", dEmb, off, numeric, 1e-5, 1e-6);

        // Mutant: the scatter-add stops one row early.
        float[] bad = new float[256 * D];
        Embeddings.byteEmbeddingBackwardChannels(bad, 0, dout, off, x, off, rows - 1, D, 0, D);
        assertThat(GradCheck.matches(bad, numeric, 1e-5, 1e-6)).isFalse();
    }

    // ------------------------------------------------------------------------ n-gram buckets

    /** The spec of the bucket, written from the class javadoc: window with PAD, polynomial, fmix32, mod. */
    static int referenceBucket(int[] window, int B) {
        int h = window.length;
        for (int b : window) {
            h = h * 0x9E3779B1 + (b + 1);
        }
        h ^= h >>> 16;
        h *= 0x85EBCA6B;
        h ^= h >>> 13;
        h *= 0xC2B2AE35;
        h ^= h >>> 16;
        return Math.floorMod(h, B);
    }

    static int[] index(int[] x, int off, int[] ns, int B, int T, int rows) {
        int[] idx = new int[1 + rows * ns.length];
        try (CpuBackend cpu = new CpuBackend(2)) {
            cpu.ngramIndex(idx, 1, x, off, ns, B, T, rows);
        }
        return Arrays.copyOfRange(idx, 1, idx.length);
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void bucketsFollowTheSpecAndStayInRange(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int T = 1 + rnd.nextInt(9), seqs = 1 + rnd.nextInt(4), rows = T * seqs, off = rnd.nextInt(3);
        int B = 1 + rnd.nextInt(50);
        int[] ns = {3, 4, 5};
        int[] x = bytes(rnd, off, rows);
        int[] idx = index(x, off, ns, B, T, rows);
        for (int t = 0; t < rows; t++) {
            int start = (t / T) * T;
            for (int k = 0; k < ns.length; k++) {
                int n = ns[k];
                int[] window = new int[n];
                for (int j = 0; j < n; j++) {
                    int pos = t - n + 1 + j;
                    window[j] = pos < start ? Embeddings.PAD : x[off + pos];
                }
                int v = idx[t * ns.length + k];
                assertThat(v).as("t %d n %d", t, n).isBetween(k * B, k * B + B - 1);
                assertThat(v - k * B).as("t %d n %d", t, n).isEqualTo(referenceBucket(window, B));
            }
        }
    }

    @Test
    void bucketsRestartAtEverySequenceAndAreLocal() {
        SplittableRandom rnd = new SplittableRandom(5);
        int T = 16, seqs = 4, rows = T * seqs, B = 1021;
        int[] ns = {3, 4, 5};
        int[] x = bytes(rnd, 0, rows);
        // The same sequence content in every slot: identical bucket rows whatever precedes it.
        for (int s = 1; s < seqs; s++) {
            System.arraycopy(x, 0, x, s * T, T);
        }
        int[] base = index(x, 0, ns, B, T, rows);
        for (int s = 1; s < seqs; s++) {
            assertThat(Arrays.copyOfRange(base, s * T * 3, (s + 1) * T * 3))
                    .as("sequence %d", s).isEqualTo(Arrays.copyOfRange(base, 0, T * 3));
        }
        // Changing any byte of sequence 1 leaves sequences 0, 2, 3 untouched, and inside sequence
        // 1 only the windows that hold it.
        for (int p = T; p < 2 * T; p++) {
            int[] y = x.clone();
            y[p] = (y[p] + 1 + rnd.nextInt(255)) % 256;
            int[] moved = index(y, 0, ns, B, T, rows);
            for (int t = 0; t < rows; t++) {
                for (int k = 0; k < ns.length; k++) {
                    boolean holds = t >= p && t - ns[k] + 1 <= p && t / T == p / T;
                    if (!holds) {
                        assertThat(moved[t * 3 + k]).as("t %d n %d after changing %d", t, ns[k], p)
                                .isEqualTo(base[t * 3 + k]);
                    }
                }
            }
        }
        // A pad is not byte 0: a sequence starting with zeros hashes differently from one that
        // follows zeros (the first n-1 windows see pads).
        int[] zeros = new int[2 * T];
        int[] zi = index(zeros, 0, new int[] {3}, B, 2 * T, 2 * T);
        assertThat(zi[0]).isNotEqualTo(zi[T]);
    }

    @Test
    void bucketsAreSpreadAndSeeEveryBit() {
        SplittableRandom rnd = new SplittableRandom(11);
        int B = 64, windows = 20_000;
        int[] counts = new int[B];
        int sameAfterHighBitFlip = 0;
        int[] w = new int[4];
        for (int i = 0; i < windows; i++) {
            for (int j = 0; j < 4; j++) {
                w[j] = rnd.nextInt(256);
            }
            int b = Embeddings.ngramBucket(w, 0, 3, 4, B);
            counts[b]++;
            w[rnd.nextInt(4)] ^= 0x80;
            if (Embeddings.ngramBucket(w, 0, 3, 4, B) == b) {
                sameAfterHighBitFlip++;
            }
        }
        double mean = windows / (double) B;
        for (int c : counts) {
            assertThat((double) c).isBetween(0.7 * mean, 1.3 * mean);
        }
        // A bare polynomial mod 64 would ignore bit 7 entirely (every flip a collision).
        assertThat(sameAfterHighBitFlip).isLessThan(windows * 3 / B);
    }

    // ------------------------------------------------------------------------ n-gram embeddings

    static double[] ngramReference(double[] tables, int[] idx, int numN, int rows, int D, double[] base) {
        double[] out = base.clone();
        for (int t = 0; t < rows; t++) {
            for (int k = 0; k < numN; k++) {
                for (int c = 0; c < D; c++) {
                    out[t * D + c] += tables[idx[t * numN + k] * D + c];
                }
            }
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4})
    void ngramForwardAndBackward(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int T = 3 + rnd.nextInt(6), rows = T * (1 + rnd.nextInt(3)), D = 1 + rnd.nextInt(4);
        int B = 2 + rnd.nextInt(6), off = 1 + rnd.nextInt(4);
        int[] ns = {3, 4, 5};
        int numN = ns.length;
        int[] x = bytes(rnd, 0, rows);
        int[] idx = new int[off + rows * numN];
        float[] tables = Tensors.uniform(rnd, off + numN * B * D, -1, 1);
        float[] out = Tensors.uniform(rnd, off + rows * D, -1, 1);
        double[] base = Tensors.slice(out, off, rows * D);
        double[] r = Tensors.toDouble(Tensors.uniform(rnd, rows * D, -1, 1));
        float[] dout = new float[off + rows * D];
        for (int i = 0; i < r.length; i++) {
            dout[off + i] = (float) r[i];
        }
        float[] dTables = new float[off + numN * B * D];
        try (CpuBackend cpu = new CpuBackend(2)) {
            cpu.ngramIndex(idx, off, x, 0, ns, B, T, rows);
            cpu.ngramEmbeddingForward(out, off, tables, off, idx, off, numN, rows, D);
            cpu.ngramEmbeddingBackward(dTables, off, dout, off, idx, off, numN, rows, D);
        }
        int[] ix = Arrays.copyOfRange(idx, off, off + rows * numN);
        double[] tb = Tensors.slice(tables, off, numN * B * D);
        assertClose("out", out, off, ngramReference(tb, ix, numN, rows, D, base), 1e-6, 1e-6);
        double[] zero = new double[rows * D];
        double[] numeric = GradCheck.numeric(p -> Tensors.dot(r, ngramReference(p, ix, numN, rows, D, zero)), tb);
        assertMatches("dtables", dTables, off, numeric, 1e-5, 1e-6);

        // Mutant: the backward reads the bucket row of the next position (idx shifted by one row).
        float[] bad = new float[numN * B * D];
        int[] shifted = new int[rows * numN];
        for (int i = 0; i < shifted.length; i++) {
            shifted[i] = ix[(i + numN) % shifted.length];
        }
        Embeddings.ngramBackwardChannels(bad, 0, dout, off, shifted, 0, numN, rows, D, 0, D);
        assertThat(GradCheck.matches(bad, numeric, 1e-5, 1e-6)).isFalse();
    }

    // ------------------------------------------------------------------------ determinism

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 5})
    void resultsAreBitIdenticalForAnyThreadCount(int threads) {
        Object[] one = run(1);
        Object[] many = run(threads);
        for (int k = 0; k < one.length; k++) {
            assertThat(many[k]).as("output %d", k).isEqualTo(one[k]);
        }
    }

    private static Object[] run(int threads) {
        SplittableRandom rnd = new SplittableRandom(99);
        int T = 32, rows = 4 * T, D = 48, B = 16;
        int[] ns = {3, 4, 5};
        int[] x = bytes(rnd, 0, rows);
        float[] emb = Tensors.uniform(rnd, 256 * D, -1, 1), tables = Tensors.uniform(rnd, ns.length * B * D, -1, 1);
        float[] dout = Tensors.uniform(rnd, rows * D, -1, 1);
        float[] out = new float[rows * D], dEmb = new float[256 * D], dTables = new float[ns.length * B * D];
        int[] idx = new int[rows * ns.length];
        try (CpuBackend cpu = new CpuBackend(threads)) {
            cpu.byteEmbeddingForward(out, 0, emb, 0, x, 0, rows, D);
            cpu.ngramIndex(idx, 0, x, 0, ns, B, T, rows);
            cpu.ngramEmbeddingForward(out, 0, tables, 0, idx, 0, ns.length, rows, D);
            cpu.byteEmbeddingBackward(dEmb, 0, dout, 0, x, 0, rows, D);
            cpu.ngramEmbeddingBackward(dTables, 0, dout, 0, idx, 0, ns.length, rows, D);
        }
        return new Object[] {out, idx, dEmb, dTables};
    }
}
