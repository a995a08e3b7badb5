package io.ionllama.backend.tornado;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.Backend;
import io.ionllama.kernels.Embeddings;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The embeddings' TaskGraphs (byte embedding gather and per-channel scatter backward, n-gram
 * bucket indices, n-gram forward and backward) on the TornadoVM device against the CPU backend.
 *
 * <p>Tolerance: none. Gathers copy, and the sums (n-gram forward, both scatter-adds) are plain
 * float additions in the same order as on the CPU (no product for the device to fuse), so every
 * result must be bit-equal; the bucket indices are integer hashing.
 */
class TornadoEmbeddingsTest extends DeviceTest {

    static void assertBitEqual(String what, float[] dev, float[] ref) {
        DeviceChecks.assertMatchesCpu(what, dev, ref, new float[dev.length], 0, 0, dev.length);
    }

    /** B sequences of T bytes (skewed towards a few values, so the scatter-adds collide). */
    static void check(long seed, int B, int T, int D, int[] ns, int buckets) {
        SplittableRandom r = new SplittableRandom(seed);
        int rows = B * T, xo = r.nextInt(5), eo = r.nextInt(9), oo = r.nextInt(7), pad = 3;
        int[] x = new int[xo + rows + pad];
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextInt(4) == 0 ? r.nextInt(256) : 97 + r.nextInt(4);
        }
        float[] emb = Tensors.gaussian(r, eo + Embeddings.VOCAB * D + pad, 1);
        float[] out0 = Tensors.uniform(r, oo + rows * D + pad, -1, 1);
        String what = "B=" + B + " T=" + T + " D=" + D;

        float[] od = out0.clone(), oc = out0.clone();
        device.byteEmbeddingForward(od, oo, emb, eo, x, xo, rows, D);
        cpu.byteEmbeddingForward(oc, oo, emb, eo, x, xo, rows, D);
        assertBitEqual("byte embedding " + what, od, oc);

        float[] dout = Tensors.gaussian(r, oo + rows * D + pad, 1);
        float[] dEmb0 = Tensors.uniform(r, emb.length, -1, 1), dEd = dEmb0.clone(), dEc = dEmb0.clone();
        device.byteEmbeddingBackward(dEd, eo, dout, oo, x, xo, rows, D);
        cpu.byteEmbeddingBackward(dEc, eo, dout, oo, x, xo, rows, D);
        assertBitEqual("byte embedding backward " + what, dEd, dEc);

        int numN = ns.length, io = r.nextInt(6);
        int[] idxd = new int[io + rows * numN + pad], idxc = idxd.clone();
        idxd[0] = idxc[0] = -7;
        device.ngramIndex(idxd, io, x, xo, ns, buckets, T, rows);
        cpu.ngramIndex(idxc, io, x, xo, ns, buckets, T, rows);
        assertThat(idxd).as("ngram index " + what).isEqualTo(idxc);

        int to = r.nextInt(11);
        float[] tables = Tensors.gaussian(r, to + numN * buckets * D, 1);
        od = out0.clone();
        oc = out0.clone();
        device.ngramEmbeddingForward(od, oo, tables, to, idxc, io, numN, rows, D);
        cpu.ngramEmbeddingForward(oc, oo, tables, to, idxc, io, numN, rows, D);
        assertBitEqual("ngram forward " + what, od, oc);

        float[] dT0 = Tensors.uniform(r, tables.length, -1, 1), dTd = dT0.clone(), dTc = dT0.clone();
        device.ngramEmbeddingBackward(dTd, to, dout, oo, idxc, io, numN, rows, D);
        cpu.ngramEmbeddingBackward(dTc, to, dout, oo, idxc, io, numN, rows, D);
        assertBitEqual("ngram backward " + what, dTd, dTc);
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void matchesCpu(long seed) {
        SplittableRandom r = new SplittableRandom(seed * 31);
        check(seed, 1 + r.nextInt(4), 8 + r.nextInt(40), 1 + r.nextInt(24), new int[] {3, 4, 5}, 64 + r.nextInt(300));
    }

    /** Rows (B x T) change between executions; one graph per shape serves them. */
    @Test
    void rowsChangeBetweenExecutions() {
        long f0 = device.stats(EmbeddingGraphs.NGRAM_BACKWARD).graphsBuilt();
        long i0 = device.stats(EmbeddingGraphs.NGRAM_INDEX).graphsBuilt();
        long b0 = device.stats(EmbeddingGraphs.BYTE_BACKWARD).graphsBuilt();
        int[] ns = {2, 3};
        check(10, 2, 24, 16, ns, 200);
        check(11, 3, 17, 16, ns, 200);
        check(12, 1, 64, 16, ns, 200);
        check(13, 5, 9, 16, ns, 200);
        assertThat(device.stats(EmbeddingGraphs.NGRAM_INDEX).graphsBuilt() - i0).isEqualTo(1);
        assertThat(device.stats(EmbeddingGraphs.BYTE_BACKWARD).graphsBuilt() - b0).isEqualTo(1);
        // The table rows reached may grow once (staged in steps of 256 rows), the rows never exceed 64.
        assertThat(device.stats(EmbeddingGraphs.NGRAM_BACKWARD).graphsBuilt() - f0).isBetween(1L, 2L);
        DeviceChecks.assertRanOnDevice(device, EmbeddingGraphs.BYTE_FORWARD, EmbeddingGraphs.BYTE_BACKWARD,
                EmbeddingGraphs.NGRAM_INDEX, EmbeddingGraphs.NGRAM_FORWARD, EmbeddingGraphs.NGRAM_BACKWARD);
    }

    /** The model also uses the byte-embedding op as a row gather over tables of any row count (patch and encoder rows). */
    @Test
    void rowGatherOverLargerTables() {
        SplittableRandom r = new SplittableRandom(77);
        int rows = 90, D = 12, tableRows = 700, xo = 2, eo = 5, oo = 3;
        int[] x = new int[xo + rows];
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextInt(tableRows);
        }
        float[] table = Tensors.gaussian(r, eo + tableRows * D, 1), out0 = Tensors.uniform(r, oo + rows * D + 2, -1, 1);
        float[] od = out0.clone(), oc = out0.clone();
        device.byteEmbeddingForward(od, oo, table, eo, x, xo, rows, D);
        cpu.byteEmbeddingForward(oc, oo, table, eo, x, xo, rows, D);
        assertBitEqual("gather", od, oc);
        float[] dt0 = Tensors.uniform(r, table.length, -1, 1), dtd = dt0.clone(), dtc = dt0.clone();
        device.byteEmbeddingBackward(dtd, eo, out0, oo, x, xo, rows, D);
        cpu.byteEmbeddingBackward(dtc, eo, out0, oo, x, xo, rows, D);
        assertBitEqual("gather backward", dtd, dtc);
    }

    // Offsets of the resident test's arrays in the caller's arrays (all non-zero).
    static final int XO = 3, EO = 5, OO = 2, IO = 4, TO = 7, GO = 6, PAD = 3;

    /** One step of the resident test: every op of this file, the device's n-gram indices feeding the n-gram ops and a gather. */
    static void embeddingStep(Backend be, int[] x, float[] emb, float[] tables, float[] dout, int[] ns, float[] out, int[] idx,
                              float[] g, float[] dEmb, float[] dT, int rows, int T, int D, int buckets) {
        int numN = ns.length;
        be.byteEmbeddingForward(out, OO, emb, EO, x, XO, rows, D);
        be.ngramIndex(idx, IO, x, XO, ns, buckets, T, rows);
        be.ngramEmbeddingForward(out, OO, tables, TO, idx, IO, numN, rows, D);
        // The byte-embedding op as a row gather over the n-gram tables, by the indices just computed.
        be.byteEmbeddingForward(g, GO, tables, TO, idx, IO, rows * numN, D);
        be.byteEmbeddingBackward(dEmb, EO, dout, OO, x, XO, rows, D);
        be.ngramEmbeddingBackward(dT, TO, dout, OO, idx, IO, numN, rows, D);
    }

    static final int STEP_OPS = 6;

    static void assertUntouched(String what, float[] dev, float[] before, int off, int len) {
        for (int i = 0; i < dev.length; i++) {
            if (i < off || i >= off + len) {
                assertThat(dev[i]).as("%s[%d] lies outside the slice [%d, %d) and must be untouched", what, i, off, off + len)
                        .isEqualTo(before[i]);
            }
        }
    }

    static void fillBytes(SplittableRandom r, int[] x, int from, int to) {
        for (int i = from; i < to; i++) {
            x[i] = r.nextInt(4) == 0 ? r.nextInt(256) : 97 + r.nextInt(4);
        }
    }

    /**
     * Every op of this file on device-resident arrays ({@link Residency}), at non-zero offsets.
     * Step 1 runs per-op and builds the plan; step 2 runs the sites with fewer rows and new bytes
     * and output gradients from the host, the n-gram indices never leaving the device between
     * the ops that use them. Bit-equal to the CPU backend, and nothing outside the slices moves.
     */
    @Test
    void residentStepsMatchCpu() {
        SplittableRandom r = new SplittableRandom(2024);
        int T = 16, B1 = 3, B2 = 2, D = 8, buckets = 100;
        int[] ns = {2, 3};
        int numN = ns.length, maxRows = B1 * T;
        int[] x = new int[XO + maxRows + PAD];
        fillBytes(r, x, 0, x.length);
        float[] emb = Tensors.gaussian(r, EO + Embeddings.VOCAB * D + PAD, 1);
        float[] tables = Tensors.gaussian(r, TO + numN * buckets * D + PAD, 1);
        float[] dout = Tensors.gaussian(r, OO + maxRows * D + PAD, 1);
        float[] out0 = Tensors.uniform(r, OO + maxRows * D + PAD, -1, 1);
        float[] g0 = Tensors.uniform(r, GO + maxRows * numN * D + PAD, -1, 1);
        float[] dEmb0 = Tensors.uniform(r, emb.length, -1, 1), dT0 = Tensors.uniform(r, tables.length, -1, 1);
        int[] idx0 = new int[IO + maxRows * numN + PAD];
        java.util.Arrays.fill(idx0, -7);
        float[] outd = out0.clone(), outc = out0.clone(), gd = g0.clone(), gc = g0.clone();
        float[] dEd = dEmb0.clone(), dEc = dEmb0.clone(), dTd = dT0.clone(), dTc = dT0.clone();
        int[] idxd = idx0.clone(), idxc = idx0.clone();

        TornadoBackend res = new TornadoBackend(-1, 2, true, 0, true);
        try {
            res.beginStep();
            embeddingStep(res, x, emb, tables, dout, ns, outd, idxd, gd, dEd, dTd, B1 * T, T, D, buckets);
            res.endStep();
            embeddingStep(cpu, x, emb, tables, dout, ns, outc, idxc, gc, dEc, dTc, B1 * T, T, D, buckets);
            assertThat(res.residency().rebuilds()).isEqualTo(1);

            // The host's part between steps: new bytes and output gradients, the accumulated gradients reset.
            fillBytes(r, x, XO, XO + B2 * T);
            float[] dout2 = Tensors.gaussian(r, dout.length, 1);
            System.arraycopy(dout2, 0, dout, 0, dout.length);
            System.arraycopy(dEmb0, 0, dEd, 0, dEd.length);
            System.arraycopy(dEmb0, 0, dEc, 0, dEc.length);
            System.arraycopy(dT0, 0, dTd, 0, dTd.length);
            System.arraycopy(dT0, 0, dTc, 0, dTc.length);
            res.hostChanged(x);
            res.hostChanged(dout, dEd, dTd);

            long runs = res.residency().runs();
            res.beginStep();
            embeddingStep(res, x, emb, tables, dout, ns, outd, idxd, gd, dEd, dTd, B2 * T, T, D, buckets);
            res.endStep();
            assertThat(res.residency().runs() - runs).as("ops run on the resident plan in step 2").isEqualTo(STEP_OPS);
            assertThat(res.residency().rebuilds()).isEqualTo(1);
            res.toHost(outd, gd, dEd, dTd);
            res.toHost(idxd);
            embeddingStep(cpu, x, emb, tables, dout, ns, outc, idxc, gc, dEc, dTc, B2 * T, T, D, buckets);

            assertBitEqual("resident byte + ngram forward", outd, outc);
            assertThat(idxd).as("resident ngram index").isEqualTo(idxc);
            assertBitEqual("resident gather", gd, gc);
            assertBitEqual("resident byte backward", dEd, dEc);
            assertBitEqual("resident ngram backward", dTd, dTc);
            assertUntouched("resident out", outd, out0, OO, maxRows * D);
            assertUntouched("resident gather", gd, g0, GO, maxRows * numN * D);
            assertUntouched("resident dEmb", dEd, dEmb0, EO, Embeddings.VOCAB * D);
            assertUntouched("resident dTables", dTd, dT0, TO, numN * buckets * D);
            for (int i = 0; i < idxd.length; i++) {
                if (i < IO || i >= IO + maxRows * numN) {
                    assertThat(idxd[i]).as("resident idx[%d] outside the slice", i).isEqualTo(-7);
                }
            }
        } finally {
            res.close();
        }
    }
}
