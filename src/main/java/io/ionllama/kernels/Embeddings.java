package io.ionllama.kernels;

/**
 * Byte embedding and hashed n-gram embeddings (BLT).
 *
 * <pre>
 *   bytes  [N]          int, values 0..255 (int[] rather than byte[]: device kernels index int
 *                       arrays directly; callers convert a byte[] with b & 0xFF)
 *   E      [256, D]     byte embedding table
 *   tables [numN, B, D] one hashed table per n-gram length ns[k], stacked in one slice
 *   idx    [N, numN]    int, row of the stacked tables each (position, n) reads: k*B + bucket
 *   out    [N, D]
 *
 *   byte embedding   out[t,:]  = E[bytes[t], :]                      (forward WRITES)
 *   n-gram           out[t,:] += sum_k tables[idx[t,k], :]           (forward ADDS, k in order)
 *   bucket           idx[t,k]  = k*B + hash(window of ns[k] bytes ending at t) mod B
 *
 *   backward (scatter-adds, ACCUMULATE):
 *   dE[bytes[t], c]      += dout[t, c]    for t = 0..N-1 in order
 *   dtables[idx[t,k], c] += dout[t, c]    for t = 0..N-1, then k, in order
 * </pre>
 *
 * <p><b>Sequences.</b> A batch is N/T sequences of T bytes laid out back to back. The window
 * ending at position t covers t-n+1..t; positions before its sequence's start
 * {@code (t / T) * T} read as {@link #PAD} (256, never a byte value), so a window never reaches
 * into the previous sequence and the first bytes of a sequence hash the same wherever the
 * sequence sits in the batch.
 *
 * <p><b>Hash.</b> A polynomial hash over the window (int arithmetic, wrapping, fixed odd
 * multiplier) followed by the murmur3 32-bit finaliser, so every bit of every byte reaches the
 * low bits that the modulo keeps (a bare polynomial mod a power of two would ignore high bits).
 * The result is taken modulo B into {@code [0, B)}.
 *
 * <p>Units: a row t for the forwards and the bucket indices; a channel (or a contiguous range of
 * channels) for the backward scatter-adds. A channel unit walks t (and k) in order, so every
 * gradient cell receives its terms in the same order whatever the channel split, and no two
 * units touch the same cell: no atomics, bit-identical for any thread count. The range form
 * loops t outside and channels inside, which reads dout row by row on the CPU and adds in exactly
 * the single-channel order.
 */
public final class Embeddings {
    private Embeddings() {}

    /** Number of byte values; rows of the byte embedding table. */
    public static final int VOCAB = 256;
    /** The value read for positions before a sequence's start. */
    public static final int PAD = 256;
    /** Multiplier of the polynomial window hash (odd, the 32-bit golden ratio). */
    public static final int HASH_MULT = 0x9E3779B1;

    // ---------------------------------------------------------------- byte embedding

    /** One row: out[t,:] = E[bytes[t], :]. */
    public static void byteEmbeddingForwardRow(float[] out, int outOff, float[] emb, int embOff,
                                               int[] bytes, int bytesOff, int D, int t) {
        int er = embOff + bytes[bytesOff + t] * D;
        int orow = outOff + t * D;
        for (int c = 0; c < D; c++) {
            out[orow + c] = emb[er + c];
        }
    }

    /** Channels [cFrom, cTo): dE[bytes[t], c] += dout[t, c] for t = 0..rows-1 in order. */
    public static void byteEmbeddingBackwardChannels(float[] dEmb, int dEmbOff, float[] dout, int doutOff,
                                                     int[] bytes, int bytesOff, int rows, int D,
                                                     int cFrom, int cTo) {
        for (int t = 0; t < rows; t++) {
            int er = dEmbOff + bytes[bytesOff + t] * D;
            int dr = doutOff + t * D;
            for (int c = cFrom; c < cTo; c++) {
                dEmb[er + c] += dout[dr + c];
            }
        }
    }

    /** One channel c of the byte embedding backward (the device's one-thread-per-channel unit). */
    public static void byteEmbeddingBackwardChannel(float[] dEmb, int dEmbOff, float[] dout, int doutOff,
                                                    int[] bytes, int bytesOff, int rows, int D, int c) {
        byteEmbeddingBackwardChannels(dEmb, dEmbOff, dout, doutOff, bytes, bytesOff, rows, D, c, c + 1);
    }

    // ---------------------------------------------------------------- hashed n-grams

    /**
     * The bucket in {@code [0, buckets)} of the n bytes ending at {@code x[t]}. {@code t} and
     * {@code seqOff} are absolute indices into {@code x}: {@code seqOff} is the first byte of t's
     * sequence, and window positions before it read as {@link #PAD}.
     */
    public static int ngramBucket(int[] x, int seqOff, int t, int n, int buckets) {
        int h = n;
        for (int j = t - n + 1; j <= t; j++) {
            int b = j >= seqOff ? x[j] : PAD;
            h = h * HASH_MULT + (b + 1);
        }
        // h >>> k written as (h >> k) & mask (the same bits in Java): TornadoVM 5.2's OpenCL
        // backend emits Java's >>> on an int as C's >>, an arithmetic shift (docs/gpu.md, section 9
        // and its pitfalls table).
        h ^= (h >> 16) & 0xFFFF;
        h *= 0x85EBCA6B;
        h ^= (h >> 13) & 0x7FFFF;
        h *= 0xC2B2AE35;
        h ^= (h >> 16) & 0xFFFF;
        int r = h % buckets;
        if (r < 0) {
            r += buckets;
        }
        return r;
    }

    /**
     * One row: idx[t, k] = k*buckets + ngramBucket(window of ns[nsOff+k] bytes ending at t), for
     * k = 0..numN-1. Row t belongs to the sequence starting at (t / T) * T.
     */
    public static void ngramIndexRow(int[] idx, int idxOff, int[] bytes, int bytesOff,
                                     int[] ns, int nsOff, int numN, int buckets, int T, int t) {
        int seqOff = bytesOff + (t / T) * T;
        for (int k = 0; k < numN; k++) {
            idx[idxOff + t * numN + k] = k * buckets + ngramBucket(bytes, seqOff, bytesOff + t, ns[nsOff + k], buckets);
        }
    }

    /** One row: out[t,:] += tables[idx[t,k], :] for k = 0..numN-1 in order. */
    public static void ngramForwardRow(float[] out, int outOff, float[] tables, int tablesOff,
                                       int[] idx, int idxOff, int numN, int D, int t) {
        int orow = outOff + t * D;
        for (int k = 0; k < numN; k++) {
            int tr = tablesOff + idx[idxOff + t * numN + k] * D;
            for (int c = 0; c < D; c++) {
                out[orow + c] += tables[tr + c];
            }
        }
    }

    /** Channels [cFrom, cTo): dtables[idx[t,k], c] += dout[t, c], t then k in order. */
    public static void ngramBackwardChannels(float[] dTables, int dTablesOff, float[] dout, int doutOff,
                                             int[] idx, int idxOff, int numN, int rows, int D,
                                             int cFrom, int cTo) {
        for (int t = 0; t < rows; t++) {
            int dr = doutOff + t * D;
            for (int k = 0; k < numN; k++) {
                int tr = dTablesOff + idx[idxOff + t * numN + k] * D;
                for (int c = cFrom; c < cTo; c++) {
                    dTables[tr + c] += dout[dr + c];
                }
            }
        }
    }

    /** One channel c of the n-gram backward. */
    public static void ngramBackwardChannel(float[] dTables, int dTablesOff, float[] dout, int doutOff,
                                            int[] idx, int idxOff, int numN, int rows, int D, int c) {
        ngramBackwardChannels(dTables, dTablesOff, dout, doutOff, idx, idxOff, numN, rows, D, c, c + 1);
    }
}
