package io.ionllama.backend;

/**
 * Where the kernel library's units run. The math of every op lives once, in
 * {@code io.ionllama.kernels}; a backend only schedules units (a row, a head, a channel, a chunk)
 * onto threads or device work-items. The model calls these methods and never a kernel loop.
 *
 * <p>Conventions shared by every op:
 * <ul>
 *   <li>tensors are row-major {@code float[]} slices given as (array, offset) plus sizes;</li>
 *   <li>backward methods ACCUMULATE ({@code +=}) into every gradient they write, activations'
 *       gradients included, so callers zero gradient buffers once per step;</li>
 *   <li>results are bit-identical for any thread count (each output is summed by one unit in a
 *       fixed order).</li>
 * </ul>
 * A {@code null} bias means "no bias".
 */
public interface Backend extends AutoCloseable {

    /** Short name shown to users: "cpu", "tornado". */
    String name();

    /** One line describing the backend: threads, SIMD width, device. */
    String describe();

    @Override
    void close();

    // ---------------------------------------------------------------- matmul (kernels.Matmul)

    /** y[N,out] = x[N,in] . W[out,in]^T + b. */
    void matmulForward(float[] y, int yOff, float[] x, int xOff, float[] w, int wOff,
                       float[] b, int bOff, int rows, int in, int out);

    /** dx[N,in] += dy[N,out] . W[out,in]. */
    void matmulBackwardInput(float[] dx, int dxOff, float[] dy, int dyOff, float[] w, int wOff,
                             int rows, int in, int out);

    /** dW[out,in] += dy^T . x, and db[out] += column sums of dy when {@code db} is not null. */
    void matmulBackwardWeight(float[] dw, int dwOff, float[] db, int dbOff, float[] dy, int dyOff,
                              float[] x, int xOff, int rows, int in, int out);

    // ---------------------------------------------------------------- norms and activations

    // ---------------------------------------------------------------- losses and embeddings

    // ---------------------------------------------------------------- attention and RoPE
    //
    // Layouts (kernels.Rope, kernels.Attention): q, k, v, out are [B*P, C] with C = heads*headDim,
    // row b*P+i = position i of sequence b, head-major. Probabilities are saved for the backward:
    // dense att [B, heads, P, P], dilated att [B, heads, P, slots].

    /**
     * y = RoPE(x) on rows of [rows, heads*headDim]; row n has position pos0 + n % P (interleaved
     * pairs, theta_j = base^(-2j/headDim)). y may be x (in place).
     */
    void ropeForward(float[] y, int yOff, float[] x, int xOff, int rows, int P, int pos0,
                     int heads, int headDim, float base);

    /** dx += RoPE^T(dy) (rotation by -angle); dx must not alias dy. */
    void ropeBackward(float[] dx, int dxOff, float[] dy, int dyOff, int rows, int P, int pos0,
                      int heads, int headDim, float base);

    /** Dense causal attention, query i reads keys 0..i; writes out and att [B, heads, P, P]. */
    void attentionDenseForward(float[] out, int outOff, float[] att, int attOff,
                               float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                               int B, int P, int heads, int headDim);

    /** dq, dk, dv += gradients of dense attention, from dout, the saved out and att. */
    void attentionDenseBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                                int B, int P, int heads, int headDim);

    /**
     * Sparse dilated causal attention: query i reads keys i - Attention.dilatedOffset(s, window)
     * for the slots s < slots whose offset is <= i; writes out and att [B, heads, P, slots].
     * {@code slots} >= Attention.dilatedSlots(window, P).
     */
    void attentionDilatedForward(float[] out, int outOff, float[] att, int attOff,
                                 float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                 int B, int P, int heads, int headDim, int window, int slots);

    /** dq, dk, dv += gradients of dilated attention (dk, dv as a gather over reading queries). */
    void attentionDilatedBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                  float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                  float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                                  int B, int P, int heads, int headDim, int window, int slots);

    // ---------------------------------------------------------------- IntegralLNN scan
    //
    // kernels.Scan: h[t] = a[t] h[t-1] + (1 - a[t]) u[t], h[-1] = 0, per channel, over B
    // sequences of T steps; a, u, h (and da, du, dh) are [B, T, C] at the same offset.

    /** h = scan(a, u), one sequential unit per (sequence, channel). */
    void scanForward(float[] h, float[] a, float[] u, int off, int B, int T, int C);

    /**
     * The same through the three-phase chunked scan with chunks of {@code chunk} steps;
     * carryA and carryB are scratch of at least B * Scan.chunkCount(T, chunk) * C floats.
     */
    void scanForwardChunked(float[] h, float[] a, float[] u, int off, int B, int T, int C, int chunk,
                            float[] carryA, float[] carryB);

    /** da, du += gradients of the scan given dh and the saved h. */
    void scanBackward(float[] da, float[] du, float[] dh, float[] h, float[] a, float[] u,
                      int off, int B, int T, int C);

    /** The same through the chunked reverse scan (scratch as for scanForwardChunked). */
    void scanBackwardChunked(float[] da, float[] du, float[] dh, float[] h, float[] a, float[] u,
                             int off, int B, int T, int C, int chunk, float[] carryA, float[] carryB);

    /** One generation step in place over n channels: h = a h + (1 - a) u. */
    void scanStep(float[] h, int hOff, float[] a, int aOff, float[] u, int uOff, int n);
}
