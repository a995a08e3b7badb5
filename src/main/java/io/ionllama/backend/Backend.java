package io.ionllama.backend;

import io.ionllama.kernels.Optim;

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

    /**
     * Bytes this backend has copied from host memory to device memory so far (0 for a backend that
     * computes in host memory, like the CPU backend). A training step's share is the difference
     * across the step.
     */
    default long bytesToDevice() {
        return 0;
    }

    /** Bytes copied from device memory back to host memory so far (0 for the CPU backend). */
    default long bytesToHost() {
        return 0;
    }

    /**
     * Device graph executions so far: each is one launch of a graph's transfers and kernels, the
     * unit a GPU pays launch latency for (0 for a backend that computes in host memory). A training
     * step's share is the difference across the step.
     */
    default long graphExecutions() {
        return 0;
    }

    // ---------------------------------------------------------------- glue (kernels.Elementwise, kernels.IntegralGate)

    /** dst[0..n) = src[0..n). */
    void copy(float[] dst, int dstOff, float[] src, int srcOff, int n);

    /** dst[0..n) += src[0..n) (residual connections and their backward). */
    void accumulate(float[] dst, int dstOff, float[] src, int srcOff, int n);

    /** dst[0..n) = value (zeroing gradient buffers). */
    void fill(float[] dst, int dstOff, float value, int n);

    /** y[0..n) = alpha * y[0..n) + beta * x[0..n) (y and x distinct arrays, or disjoint slices). */
    void axpby(float[] y, int yOff, float alpha, float[] x, int xOff, float beta, int n);

    /** y[0..n) = alpha * y[0..n). */
    void scale(float[] y, int yOff, float alpha, int n);

    /**
     * Dropout in place: y[i] = keep(seed, i) ? y[i] / (1 - p) : 0 ({@code kernels.Elementwise}),
     * 0 <= p < 1. The mask depends only on (seed, i): applied to a branch's output in the forward
     * and to its gradient in the backward with the same seed, it is the branch's exact backward.
     */
    void dropout(float[] y, int yOff, float p, int seed, int n);

    /** dst[cols, rows] = src[rows, cols]^T (dst and src distinct arrays). */
    void transpose(float[] dst, int dstOff, float[] src, int srcOff, int rows, int cols);

    /** a[rows, C] = exp(-softplus(z) * exp(lambda[c])): the IntegralLNN decay. */
    void integralGateForward(float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows, int C);

    /** dz += da * da/dz; dLambda[c] += sum over rows of da * da/dlambda (rows in order). */
    void integralGateBackward(float[] dz, int dzOff, float[] dLambda, int dLambdaOff, float[] da, int daOff,
                              float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows, int C);

    // ---------------------------------------------------------------- optimizer (kernels.Optim)

    /** AdamW over {@code n} elements at {@code off} of p, g, m, v; the gradient is multiplied by gradScale first (clipping). */
    void adamw(float[] p, float[] g, float[] m, float[] v, int off, int n, float lr, float beta1, float beta2,
               float eps, float weightDecay, float bc1, float bc2, float gradScale);

    /**
     * One AdamW step over {@code count} tensors of the same arrays: tensor k is
     * {@code [offs[k], offs[k] + sizes[k])} with weight decay {@code wds[k]}; the rest as in
     * {@link #adamw}. A backend on a device runs it as one launch and may keep m and v there
     * between steps (then {@link #toHost} brings them back); this default calls {@link #adamw} per tensor.
     */
    default void adamwTensors(float[] p, float[] g, float[] m, float[] v, int[] offs, int[] sizes, float[] wds, int count,
                              float lr, float beta1, float beta2, float eps, float bc1, float bc2, float gradScale) {
        for (int k = 0; k < count; k++) {
            adamw(p, g, m, v, offs[k], sizes[k], lr, beta1, beta2, eps, wds[k], bc1, bc2, gradScale);
        }
    }

    /** Sum of squares of g[off .. off+n), added in a fixed block order (the same for any thread count). */
    double sumSquares(float[] g, int off, int n);

    /**
     * x[off .. off+n) *= 1 / (||x|| + eps), the norm from {@link #sumSquares} ({@link
     * Optim#inverseNorm}): Muon's normalisation. A device backend computes the factor on the
     * device, so nothing comes back to the host.
     */
    default void normalize(float[] x, int off, int n, double eps) {
        scale(x, off, Optim.inverseNorm(sumSquares(x, off, n), eps), n);
    }

    /**
     * The sums of squares of {@code count} ranges of g, {@code [offs[k], offs[k] + sizes[k])},
     * added range by range in order (each as {@link #sumSquares}): the gradient norm. A device
     * backend computes every block in one launch and returns only the partial sums.
     */
    default double sumSquaresTensors(float[] g, int[] offs, int[] sizes, int count) {
        double s = 0;
        for (int k = 0; k < count; k++) {
            s += sumSquares(g, offs[k], sizes[k]);
        }
        return s;
    }

    // ---------------------------------------------------------------- state kept on a device

    /**
     * Makes the host copies of {@code arrays} current. A backend that keeps state in device memory
     * between calls (the optimizer's moments) copies it back; the CPU backend has nothing to do.
     * Call it before reading such arrays on the host: saving a checkpoint, closing.
     */
    default void toHost(float[]... arrays) {
    }

    /**
     * Says the host has overwritten {@code arrays} (a checkpoint loaded into them): a backend
     * holding device copies uses the host's contents from its next call on. Device copies of
     * other arrays it held along with these are copied back to the host first, so nothing is lost.
     */
    default void hostChanged(float[]... arrays) {
    }

    /** As {@link #toHost(float[]...)}, for int arrays. */
    default void toHost(int[]... arrays) {
    }

    /** As {@link #hostChanged(float[]...)}, for int arrays (input bytes, patch boundaries). */
    default void hostChanged(int[]... arrays) {
    }

    /** A training step: what {@link #beginStep()} begins. */
    String TRAIN_STEP = "train";

    /** Begins a training step ({@link #beginStep(String)} of kind {@link #TRAIN_STEP}). */
    default void beginStep() {
        beginStep(TRAIN_STEP);
    }

    /**
     * The ops up to {@link #endStep} are one step of {@code kind}, a sequence repeated with the same
     * ops in the same order (a training step; one byte of generation): a device backend may keep
     * their arrays on the device and replay them. Code inside a step reads and writes its arrays on
     * the host only after {@link #toHost} and before {@link #hostChanged}.
     */
    default void beginStep(String kind) {
    }

    /** Ends the step begun by {@link #beginStep}. */
    default void endStep() {
    }

    /**
     * The steps recorded so far will not come again (a training run is over): a device backend
     * copies back what is newer on the device and drops their plan, so that steps of another
     * kind (generation) are recorded and kept on the device in their turn.
     */
    default void forgetSteps() {
    }

    /**
     * Ends a step that failed part-way (an exception left it): a device backend drops what it had
     * not yet run and builds nothing from the partial step, so that ending it cannot fail again
     * and hide the first error. The arrays the step was writing hold no defined values after it.
     */
    default void abortStep() {
    }

    // ---------------------------------------------------------------- matmul (kernels.Matmul)

    /** y[N,out] = x[N,in] . W[out,in]^T + b. */
    void matmulForward(float[] y, int yOff, float[] x, int xOff, float[] w, int wOff,
                       float[] b, int bOff, int rows, int in, int out);

    /** dx[N,in] += dy[N,out] . W[out,in]. */
    void matmulBackwardInput(float[] dx, int dxOff, float[] dy, int dyOff, float[] w, int wOff,
                             int rows, int in, int out);

    /**
     * dx[N,in] = dy[N,out] . W[out,in]: {@link #matmulBackwardInput} into a dx that starts at zero,
     * for a gradient's first contribution. This default clears dx and accumulates; a backend may
     * write the products directly instead (the same bits: each element's FMA chain starts from
     * zero either way), which saves a pass over dx.
     */
    default void matmulBackwardInputOverwrite(float[] dx, int dxOff, float[] dy, int dyOff, float[] w, int wOff,
                                              int rows, int in, int out) {
        fill(dx, dxOff, 0f, Math.multiplyExact(rows, in));
        matmulBackwardInput(dx, dxOff, dy, dyOff, w, wOff, rows, in, out);
    }

    /** dW[out,in] += dy^T . x, and db[out] += column sums of dy when {@code db} is not null. */
    void matmulBackwardWeight(float[] dw, int dwOff, float[] db, int dbOff, float[] dy, int dyOff,
                              float[] x, int xOff, int rows, int in, int out);

    // ---------------------------------------------------------------- norms and activations

    /**
     * RMSNorm over rows ({@code kernels.Norms}): out[N,C] = x * rstd[n] * w, with
     * rstd[n] = 1/sqrt(mean(x[n,:]^2) + eps) written to {@code rstd[N]} for the backward.
     * Callers without a learned weight pass ones.
     */
    void rmsNormForward(float[] out, int outOff, float[] rstd, int rstdOff, float[] x, int xOff,
                        float[] w, int wOff, int rows, int C, float eps);

    /**
     * RMSNorm backward: dx[N,C] += ..., and dw[C] += sum_n dy * x * rstd when {@code dw} is not
     * null (null: the weight is not trained). {@code rstd} is the forward's.
     */
    void rmsNormBackward(float[] dx, int dxOff, float[] dw, int dwOff, float[] dy, int dyOff,
                         float[] x, int xOff, float[] w, int wOff, float[] rstd, int rstdOff,
                         int rows, int C);

    /**
     * LayerNorm over rows: out = (x - mean[n]) * rstd[n] * w + b; {@code mean[N]} and
     * {@code rstd[N]} are written for the backward. A null {@code b} means no bias.
     */
    void layerNormForward(float[] out, int outOff, float[] mean, int meanOff, float[] rstd, int rstdOff,
                          float[] x, int xOff, float[] w, int wOff, float[] b, int bOff,
                          int rows, int C, float eps);

    /**
     * LayerNorm backward: dx += ..., dw += sum_n dy * xhat when {@code dw} is not null,
     * db += sum_n dy when {@code db} is not null.
     */
    void layerNormBackward(float[] dx, int dxOff, float[] dw, int dwOff, float[] db, int dbOff,
                           float[] dy, int dyOff, float[] x, int xOff, float[] w, int wOff,
                           float[] mean, int meanOff, float[] rstd, int rstdOff, int rows, int C);

    /** out[i] = gelu(x[i]), GPT-2's tanh approximation. */
    void geluForward(float[] out, int outOff, float[] x, int xOff, int n);

    /** dx[i] += dy[i] * gelu'(x[i]). */
    void geluBackward(float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff, int n);

    /** out[i] = silu(a[i]) * b[i]. */
    void swigluForward(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n);

    /** da[i] += dy[i] * b[i] * silu'(a[i]);  db[i] += dy[i] * silu(a[i]). */
    void swigluBackward(float[] da, int daOff, float[] db, int dbOff, float[] dy, int dyOff,
                        float[] a, int aOff, float[] b, int bOff, int n);

    /**
     * da[i] = dy[i] * b[i] * silu'(a[i]);  db[i] = dy[i] * silu(a[i]): {@link #swigluBackward} into
     * zeroed da and db, for a gradient's first contribution. This default clears and accumulates; a
     * backend may write the values directly (equal values; a zero may lose its sign), which saves
     * a pass over da and db and reading them back.
     */
    default void swigluBackwardOverwrite(float[] da, int daOff, float[] db, int dbOff, float[] dy, int dyOff,
                                         float[] a, int aOff, float[] b, int bOff, int n) {
        fill(da, daOff, 0f, n);
        fill(db, dbOff, 0f, n);
        swigluBackward(da, daOff, db, dbOff, dy, dyOff, a, aOff, b, bOff, n);
    }

    // ---------------------------------------------------------------- losses and embeddings

    /**
     * Cross-entropy per row: probs[N,V] = softmax(logits) and losses[n] = -log p[n, targets[n]]
     * in nats; a negative target marks an ignored row (loss 0).
     */
    void crossEntropyForward(float[] losses, int lossesOff, float[] probs, int probsOff,
                             float[] logits, int logitsOff, int[] targets, int targetsOff, int rows, int V);

    /**
     * dlogits[n,v] += (probs[n,v] - [v == target[n]]) * dloss[dlossOff + n * dlossStride];
     * ignored rows get nothing. Stride 1: a per-row scale; stride 0: one scale for every row —
     * for the mean over valid rows pass {@code stats, statsOff + Losses.STAT_INV_VALID, 0} from
     * {@link #lossStats}.
     */
    void crossEntropyBackward(float[] dlogits, int dlogitsOff, float[] probs, int probsOff,
                              int[] targets, int targetsOff, float[] dloss, int dlossOff, int dlossStride,
                              int rows, int V);

    /** entropy[n] = -sum_v p log p (nats) of softmax(logits[n,:]); no gradient. */
    void entropy(float[] entropy, int entropyOff, float[] logits, int logitsOff, int rows, int V);

    /** argmax[n] = first index of the largest logit of row n. */
    void argmax(int[] argmax, int argmaxOff, float[] logits, int logitsOff, int rows, int V);

    /**
     * Writes {@code Losses.STATS} floats at {@code statsOff}: loss sum and count over valid rows,
     * mean loss, 1/count (the mean's dloss) and, when {@code argmax} is not null, the number of
     * valid rows predicted correctly. Summed in row order.
     */
    void lossStats(float[] stats, int statsOff, float[] losses, int lossesOff, int[] argmax, int argmaxOff,
                   int[] targets, int targetsOff, int rows);

    /**
     * out[t,:] = E[bytes[t], :] for t in [0, rows), E[256, D] ({@code kernels.Embeddings});
     * bytes are ints 0..255.
     */
    void byteEmbeddingForward(float[] out, int outOff, float[] emb, int embOff, int[] bytes, int bytesOff,
                              int rows, int D);

    /** dE[bytes[t], :] += dout[t, :], deterministic (channels split over threads, t in order). */
    void byteEmbeddingBackward(float[] dEmb, int dEmbOff, float[] dout, int doutOff, int[] bytes, int bytesOff,
                               int rows, int D);

    /**
     * Hashed n-gram rows: idx[t, k] = k*buckets + bucket of the ns[k] bytes ending at t
     * (idx is [rows, ns.length]); {@code rows} is a whole number of sequences of {@code T} bytes
     * and windows never cross a sequence start.
     */
    void ngramIndex(int[] idx, int idxOff, int[] bytes, int bytesOff, int[] ns, int buckets, int T, int rows);

    /** out[t,:] += sum_k tables[idx[t,k], :], tables stacked [numN, buckets, D]. */
    void ngramEmbeddingForward(float[] out, int outOff, float[] tables, int tablesOff, int[] idx, int idxOff,
                               int numN, int rows, int D);

    /** dtables[idx[t,k], :] += dout[t, :], deterministic (channels split, t and k in order). */
    void ngramEmbeddingBackward(float[] dTables, int dTablesOff, float[] dout, int doutOff, int[] idx, int idxOff,
                                int numN, int rows, int D);

    // ---------------------------------------------------------------- patch boundaries (kernels.Patching)

    /**
     * Where patches end, and the global stage's rows, for B sequences of T bytes (whole arrays,
     * from index 0; see {@code kernels.Patching} for the rule and the layouts):
     * <ul>
     *   <li>with {@code calibrate} = 1 first θ = the score at sorted position {@code rank} of the
     *       batch's scores (an exact quantile of hNext, or of its rises in monotonic mode), written
     *       to {@code state[Patching.STATE_THETA]}; with 0 the state's θ is used as it is;</li>
     *   <li>ends[B*T] (1 where a byte closes its patch), seqCount[b] (patches closed in sequence b),
     *       seqStart[0..B] (their prefix sums; seqStart[B] = R, the number of rows), endRows[R]
     *       (each patch's last position, by global row) and pi[B*T] (0 before a sequence's first
     *       closed patch, else 1 + the row of the last patch closed at or before the position).</li>
     * </ul>
     * {@code mode} is a {@code Patching} mode code; {@code warmupFixed} > 0 replaces the entropy
     * rules with fixed patches of that length; every patch ends at {@code maxPatch} bytes. Only
     * positions below B*T (and rows below R) are written. A device backend leaves the results on
     * the device: read them after {@link #toHost} (the model reads seqStart, seqCount and, after
     * calibrating, the state); after changing the state on the host, call {@link #hostChanged}.
     */
    void patchBoundaries(int[] ends, int[] endRows, int[] pi, int[] seqStart, int[] seqCount, int[] bytes, float[] hNext,
                         float[] state, int B, int T, int mode, int fixedLength, int maxPatch, int warmupFixed, int calibrate,
                         int rank);

    // ---------------------------------------------------------------- attention and RoPE
    //
    // Layouts (kernels.Rope, kernels.Attention): q, k, v, out are [B*P, C] with C = heads*headDim,
    // row b*P+i = position i of sequence b, head-major. The forward saves what its backward needs in
    // att (dense: B*heads*denseAttentionState(P) floats, dilated: B*heads*P*slots): the probabilities
    // [B, heads, P, ...], except on the CPU's Vector API dense path (P >= 2), which keeps each query
    // row's softmax max and 1/sum (2 P floats a head) and recomputes the probabilities in its
    // backward. att is a backend's own saved state: only the backend that wrote it reads it back.

    /**
     * Floats of att that dense attention saves per (sequence, head) at length P: P*P (the
     * probabilities) here; a backend that saves less says so, and callers size att with it.
     */
    default long denseAttentionState(int P) {
        return (long) P * P;
    }

    /**
     * y = RoPE(x) on rows of [rows, heads*headDim]; row n has position pos0 + n % P (interleaved
     * pairs, theta_j = base^(-2j/headDim)). y may be x (in place).
     */
    void ropeForward(float[] y, int yOff, float[] x, int xOff, int rows, int P, int pos0,
                     int heads, int headDim, float base);

    /** dx += RoPE^T(dy) (rotation by -angle); dx must not alias dy. */
    void ropeBackward(float[] dx, int dxOff, float[] dy, int dyOff, int rows, int P, int pos0,
                      int heads, int headDim, float base);

    /**
     * dx = RoPE^T(dy) on its rows: {@link #ropeBackward} into a zeroed dx (a first contribution).
     * This default clears and accumulates; a backend may write the values directly (equal values; a
     * zero may lose its sign).
     */
    default void ropeBackwardOverwrite(float[] dx, int dxOff, float[] dy, int dyOff, int rows, int P, int pos0,
                                       int heads, int headDim, float base) {
        fill(dx, dxOff, 0f, Math.multiplyExact(rows, heads * headDim));
        ropeBackward(dx, dxOff, dy, dyOff, rows, P, pos0, heads, headDim, base);
    }

    /** Dense causal attention, query i reads keys 0..i; writes out and its saved state in att (above). */
    /**
     * One new query (generation): out row and probabilities for query {@code i} of a sequence
     * whose keys and values 0..i sit at rows 0..i of k and v. q and out hold one row each; att
     * holds {@code heads} rows of {@code slots} (dilated) or {@code i + 1} (dense) floats.
     */
    void attentionQuery(boolean dense, float[] out, int outOff, float[] att, float[] q, int qOff,
                        float[] k, int kOff, float[] v, int vOff, int i, int heads, int headDim, int window, int slots);

    void attentionDenseForward(float[] out, int outOff, float[] att, int attOff,
                               float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                               int B, int P, int heads, int headDim);

    /** dq, dk, dv += gradients of dense attention, from dout, the saved out and att. */
    void attentionDenseBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                                int B, int P, int heads, int headDim);

    /**
     * dq, dk, dv = gradients of dense attention on their B*P rows: {@link #attentionDenseBackward}
     * into zeroed gradients (a first contribution). This default clears and accumulates; a backend
     * may write the values directly (equal values; a zero may lose its sign).
     */
    default void attentionDenseBackwardOverwrite(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                                 float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                                 float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                                                 int B, int P, int heads, int headDim) {
        int n = Math.multiplyExact(Math.multiplyExact(B, P), heads * headDim);
        fill(dq, dqOff, 0f, n);
        fill(dk, dkOff, 0f, n);
        fill(dv, dvOff, 0f, n);
        attentionDenseBackward(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff, v, vOff, out, outOff,
                att, attOff, B, P, heads, headDim);
    }

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

    /**
     * Non-causal attention inside groups of {@code G} consecutive rows ({@code kernels.GroupAttention},
     * tokun's blocks): row g*G+i reads every row of group g and no other; writes out [groups*G, C]
     * and att [groups, heads, G, G].
     */
    void attentionGroupForward(float[] out, int outOff, float[] att, int attOff,
                               float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                               int groups, int G, int heads, int headDim);

    /** dq, dk, dv += gradients of group attention, from dout, the saved out and att. */
    void attentionGroupBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                                int groups, int G, int heads, int headDim);

    // ---------------------------------------------------------------- IntegralLNN scan
    //
    // kernels.Scan: h[t] = a[t] h[t-1] + (1 - a[t]) u[t], h[-1] = 0, per channel, over B
    // sequences of T steps; a, u, h (and da, du, dh) are [B, T, C] at the same offset.

    /** h = scan(a, u), one sequential unit per (sequence, channel). */
    void scanForward(float[] h, float[] a, float[] u, int off, int B, int T, int C);

    /** da, du += gradients of the scan given dh and the saved h. */
    void scanBackward(float[] da, float[] du, float[] dh, float[] h, float[] a, float[] u,
                      int off, int B, int T, int C);

    /** One generation step in place over n channels: h = a h + (1 - a) u. */
    void scanStep(float[] h, int hOff, float[] a, int aOff, float[] u, int uOff, int n);

    // ---------------------------------------------------------------- context-vector RNN (kernels.RnnCell)
    //
    // One time step over a batch: z [rows, 3C] holds [z_f | z_i | z_g] per row, c and p [rows, C].
    // These defaults run the kernel unit on the calling thread, row by row; a backend schedules
    // them itself (rows over a pool, work-items on a device) by overriding them.

    /** p = sigmoid(z_f) ⊙ c + sigmoid(z_i) ⊙ tanh(z_g), per row. */
    default void rnnGatesForward(float[] p, int pOff, float[] z, int zOff, float[] c, int cOff, int rows, int C) {
        for (int n = 0; n < rows; n++) {
            io.ionllama.kernels.RnnCell.forwardRow(p, pOff, z, zOff, c, cOff, C, n);
        }
    }

    /** dz += dp · dp/dz and, when {@code dc} is not null, dc += dp ⊙ sigmoid(z_f). */
    default void rnnGatesBackward(float[] dz, int dzOff, float[] dc, int dcOff, float[] dp, int dpOff,
                                  float[] z, int zOff, float[] c, int cOff, int rows, int C) {
        for (int n = 0; n < rows; n++) {
            io.ionllama.kernels.RnnCell.backwardRow(dz, dzOff, dc, dcOff, dp, dpOff, z, zOff, c, cOff, C, n);
        }
    }
}
