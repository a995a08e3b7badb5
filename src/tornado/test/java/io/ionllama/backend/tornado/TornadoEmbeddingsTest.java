package io.ionllama.backend.tornado;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.kernels.Embeddings;
import io.ionllama.testing.Tensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
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
class TornadoEmbeddingsTest {

    static TornadoBackend device;
    static CpuBackend cpu;

    @BeforeAll
    static void open() {
        if (DeviceChecks.WHY != null) {
            System.out.println("TornadoEmbeddingsTest: every test skipped: " + DeviceChecks.WHY);
            return;
        }
        device = new TornadoBackend(-1, 2, true, 0);
        cpu = new CpuBackend(2);
    }

    @BeforeEach
    void needsTornado() {
        Assumptions.assumeTrue(DeviceChecks.WHY == null, DeviceChecks.SKIP + " (" + DeviceChecks.WHY + ")");
    }

    @AfterAll
    static void close() {
        if (device != null) {
            System.out.println("TornadoEmbeddingsTest device stats: " + device.stats());
            device.close();
            cpu.close();
        }
    }

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
}
