package io.ionllama.backend.cpu;

import io.ionllama.backend.Backend;

/**
 * The CPU backend: runs the kernel library's units over a fixed {@link WorkerPool}.
 *
 * <p>Every op splits its units (rows, channels, heads) into contiguous ranges, one per thread.
 * Each output is produced by exactly one unit in a fixed order, so results are bit-identical for
 * any thread count. The only code that is not a plain unit call is the Vector API path
 * ({@link SimdMatmul}, {@link SimdElementwise}), which is tested against the scalar units.
 *
 * <p>This class owns the pool and the choice of the Vector API, and delegates each op to the file
 * that schedules its family, as the device backend's files are split
 * ({@code backend/tornado/*Graphs}):
 * <ul>
 *   <li>{@link CpuGlue}: copy, accumulate, fill, axpby, scale, transpose, dropout;</li>
 *   <li>{@link CpuActivations}: SiLU, GELU, softplus, SwiGLU;</li>
 *   <li>{@link CpuMatmul}: the matmul and its gradients;</li>
 *   <li>{@link CpuNorms}: RMSNorm and LayerNorm;</li>
 *   <li>{@link CpuLosses}: softmax, cross-entropy, entropy, argmax, the batch statistics;</li>
 *   <li>{@link CpuEmbeddings}: the byte and hashed n-gram embeddings;</li>
 *   <li>{@link CpuPatching}: the patch boundaries;</li>
 *   <li>{@link CpuAttention}: attention and RoPE;</li>
 *   <li>{@link CpuScan}: the IntegralLNN scan, its one-row step and the gate that computes its decay;</li>
 *   <li>{@link CpuRnn}: the context-vector RNN's fused gate unit;</li>
 *   <li>{@link CpuOptim}: AdamW and the gradient norm's sum of squares.</li>
 * </ul>
 * Each family object is built once, here, and keeps its reusable task objects and scratch, so a
 * call allocates nothing. A backend has one caller at a time (the model's step), so that reuse is
 * safe. docs/architecture.md places the backends in the whole.
 */
public final class CpuBackend implements Backend {

    private final WorkerPool pool;
    /** The Vector API matmul, or null when this JVM lacks the module (then the scalar units run). */
    private final SimdMatmul simd;
    /**
     * The same matmul on a one-thread pool: small products (generation's one-row layers) run on the
     * caller's thread, where waking a worker would cost as much as the product.
     */
    private final SimdMatmul simdInline;
    /**
     * Whether the elementwise ops with transcendentals and the weight-gradient reductions run on
     * {@link SimdElementwise} (the Vector API; tested against the scalar units) or on the units.
     */
    private final boolean simdOps;

    private final CpuGlue glue;
    private final CpuActivations activations;
    private final CpuMatmul matmul;
    private final CpuNorms norms;
    private final CpuLosses loss;
    private final CpuEmbeddings embeddings;
    private final CpuPatching patching;
    private final CpuAttention attention;
    private final CpuScan scan;
    private final CpuRnn rnn;
    private final CpuOptim optim;

    public CpuBackend(int threads) {
        this(threads, true);
    }

    /**
     * @param simd false forces the scalar units (matmul, activations, gate, norm gradients) even
     *             where the Vector API is available (tests and benchmarks compare the two)
     */
    public CpuBackend(int threads, boolean simd) {
        this.pool = new WorkerPool(threads);
        // SimdMatmul is referenced only behind this check, so a JVM without jdk.incubator.vector
        // never loads it.
        this.simd = simd && SimdSupport.available() ? new SimdMatmul(pool) : null;
        this.simdInline = this.simd != null && threads > 1 ? new SimdMatmul(new WorkerPool(1)) : this.simd;
        this.simdOps = this.simd != null;
        if (simd) {
            SimdSupport.noticeOnce();
        }
        this.glue = new CpuGlue(pool);
        this.activations = new CpuActivations(pool, simdOps);
        this.matmul = new CpuMatmul(pool, this.simd, simdInline);
        this.norms = new CpuNorms(pool, simdOps);
        this.loss = new CpuLosses(pool, simdOps);
        this.embeddings = new CpuEmbeddings(pool);
        this.patching = new CpuPatching(pool);
        this.attention = new CpuAttention(pool, simdOps);
        this.scan = new CpuScan(pool, simdOps);
        this.rnn = new CpuRnn(pool);
        this.optim = new CpuOptim(pool);
    }

    public int threads() {
        return pool.threads();
    }

    public WorkerPool pool() {
        return pool;
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String describe() {
        return "cpu backend, " + pool.threads() + " thread(s), "
                + (simd != null ? SimdMatmul.describe() : "scalar matmul");
    }

    /** Whether the matmul (and the elementwise ops with exp/log) run on the Vector API path. */
    public boolean simdMatmul() {
        return simd != null;
    }

    @Override
    public void close() {
        pool.close();
    }

    // ---------------------------------------------------------------- glue (CpuGlue)

    @Override
    public void copy(float[] dst, int dstOff, float[] src, int srcOff, int n) {
        glue.copy(dst, dstOff, src, srcOff, n);
    }

    @Override
    public void accumulate(float[] dst, int dstOff, float[] src, int srcOff, int n) {
        glue.accumulate(dst, dstOff, src, srcOff, n);
    }

    @Override
    public void fill(float[] dst, int dstOff, float value, int n) {
        glue.fill(dst, dstOff, value, n);
    }

    @Override
    public void axpby(float[] y, int yOff, float alpha, float[] x, int xOff, float beta, int n) {
        glue.axpby(y, yOff, alpha, x, xOff, beta, n);
    }

    @Override
    public void scale(float[] y, int yOff, float alpha, int n) {
        glue.scale(y, yOff, alpha, n);
    }

    @Override
    public void dropout(float[] y, int yOff, float p, int seed, int n) {
        glue.dropout(y, yOff, p, seed, n);
    }

    @Override
    public void transpose(float[] dst, int dstOff, float[] src, int srcOff, int rows, int cols) {
        glue.transpose(dst, dstOff, src, srcOff, rows, cols);
    }

    // ---------------------------------------------------------------- optimizer (CpuOptim)

    @Override
    public void adamw(float[] p, float[] g, float[] m, float[] v, int off, int n, float lr, float beta1, float beta2,
                      float eps, float weightDecay, float bc1, float bc2, float gradScale) {
        optim.adamw(p, g, m, v, off, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2, gradScale);
    }

    @Override
    public double sumSquares(float[] g, int off, int n) {
        return optim.sumSquares(g, off, n);
    }

    // ---------------------------------------------------------------- matmul (CpuMatmul)

    @Override
    public void matmulForward(float[] y, int yOff, float[] x, int xOff, float[] w, int wOff,
                              float[] b, int bOff, int rows, int in, int out) {
        matmul.matmulForward(y, yOff, x, xOff, w, wOff, b, bOff, rows, in, out);
    }

    @Override
    public void matmulBackwardInput(float[] dx, int dxOff, float[] dy, int dyOff, float[] w, int wOff,
                                    int rows, int in, int out) {
        matmul.matmulBackwardInput(dx, dxOff, dy, dyOff, w, wOff, rows, in, out);
    }

    @Override
    public void matmulBackwardInputOverwrite(float[] dx, int dxOff, float[] dy, int dyOff, float[] w, int wOff,
                                             int rows, int in, int out) {
        if (!matmul.matmulBackwardInputOverwrite(dx, dxOff, dy, dyOff, w, wOff, rows, in, out)) {
            Backend.super.matmulBackwardInputOverwrite(dx, dxOff, dy, dyOff, w, wOff, rows, in, out);
        }
    }

    @Override
    public void matmulBackwardWeight(float[] dw, int dwOff, float[] db, int dbOff, float[] dy, int dyOff,
                                     float[] x, int xOff, int rows, int in, int out) {
        matmul.matmulBackwardWeight(dw, dwOff, db, dbOff, dy, dyOff, x, xOff, rows, in, out);
    }

    // ---------------------------------------------------------------- norms (CpuNorms)

    @Override
    public void rmsNormForward(float[] out, int outOff, float[] rstd, int rstdOff, float[] x, int xOff,
                               float[] w, int wOff, int rows, int C, float eps) {
        norms.rmsNormForward(out, outOff, rstd, rstdOff, x, xOff, w, wOff, rows, C, eps);
    }

    @Override
    public void rmsNormBackward(float[] dx, int dxOff, float[] dw, int dwOff, float[] dy, int dyOff,
                                float[] x, int xOff, float[] w, int wOff, float[] rstd, int rstdOff,
                                int rows, int C) {
        norms.rmsNormBackward(dx, dxOff, dw, dwOff, dy, dyOff, x, xOff, w, wOff, rstd, rstdOff, rows, C);
    }

    @Override
    public void layerNormForward(float[] out, int outOff, float[] mean, int meanOff, float[] rstd, int rstdOff,
                                 float[] x, int xOff, float[] w, int wOff, float[] b, int bOff,
                                 int rows, int C, float eps) {
        norms.layerNormForward(out, outOff, mean, meanOff, rstd, rstdOff, x, xOff, w, wOff, b, bOff, rows, C, eps);
    }

    @Override
    public void layerNormBackward(float[] dx, int dxOff, float[] dw, int dwOff, float[] db, int dbOff,
                                  float[] dy, int dyOff, float[] x, int xOff, float[] w, int wOff,
                                  float[] mean, int meanOff, float[] rstd, int rstdOff, int rows, int C) {
        norms.layerNormBackward(dx, dxOff, dw, dwOff, db, dbOff, dy, dyOff, x, xOff, w, wOff, mean, meanOff, rstd,
                rstdOff, rows, C);
    }

    // ---------------------------------------------------------------- activations (CpuActivations)

    @Override
    public void geluForward(float[] out, int outOff, float[] x, int xOff, int n) {
        activations.geluForward(out, outOff, x, xOff, n);
    }

    @Override
    public void geluBackward(float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff, int n) {
        activations.geluBackward(dx, dxOff, dy, dyOff, x, xOff, n);
    }

    @Override
    public void swigluForward(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n) {
        activations.swigluForward(out, outOff, a, aOff, b, bOff, n);
    }

    @Override
    public void swigluBackward(float[] da, int daOff, float[] db, int dbOff, float[] dy, int dyOff,
                               float[] a, int aOff, float[] b, int bOff, int n) {
        activations.swigluBackward(da, daOff, db, dbOff, dy, dyOff, a, aOff, b, bOff, n);
    }

    @Override
    public void swigluBackwardOverwrite(float[] da, int daOff, float[] db, int dbOff, float[] dy, int dyOff,
                                        float[] a, int aOff, float[] b, int bOff, int n) {
        if (!activations.swigluBackwardOverwrite(da, daOff, db, dbOff, dy, dyOff, a, aOff, b, bOff, n)) {
            Backend.super.swigluBackwardOverwrite(da, daOff, db, dbOff, dy, dyOff, a, aOff, b, bOff, n);
        }
    }

    // ---------------------------------------------------------------- losses (CpuLosses)

    @Override
    public void crossEntropyForward(float[] losses, int lossesOff, float[] probs, int probsOff,
                                    float[] logits, int logitsOff, int[] targets, int targetsOff, int rows, int V) {
        loss.crossEntropyForward(losses, lossesOff, probs, probsOff, logits, logitsOff, targets, targetsOff, rows,
                V);
    }

    @Override
    public void crossEntropyBackward(float[] dlogits, int dlogitsOff, float[] probs, int probsOff,
                                     int[] targets, int targetsOff, float[] dloss, int dlossOff, int dlossStride,
                                     int rows, int V) {
        loss.crossEntropyBackward(dlogits, dlogitsOff, probs, probsOff, targets, targetsOff, dloss, dlossOff,
                dlossStride, rows, V);
    }

    @Override
    public void entropy(float[] entropy, int entropyOff, float[] logits, int logitsOff, int rows, int V) {
        loss.entropy(entropy, entropyOff, logits, logitsOff, rows, V);
    }

    @Override
    public void argmax(int[] argmax, int argmaxOff, float[] logits, int logitsOff, int rows, int V) {
        loss.argmax(argmax, argmaxOff, logits, logitsOff, rows, V);
    }

    @Override
    public void lossStats(float[] stats, int statsOff, float[] losses, int lossesOff, int[] argmax, int argmaxOff,
                          int[] targets, int targetsOff, int rows) {
        loss.lossStats(stats, statsOff, losses, lossesOff, argmax, argmaxOff, targets, targetsOff, rows);
    }

    // ---------------------------------------------------------------- embeddings (CpuEmbeddings)

    @Override
    public void byteEmbeddingForward(float[] out, int outOff, float[] emb, int embOff, int[] bytes, int bytesOff,
                                     int rows, int D) {
        embeddings.byteEmbeddingForward(out, outOff, emb, embOff, bytes, bytesOff, rows, D);
    }

    @Override
    public void byteEmbeddingBackward(float[] dEmb, int dEmbOff, float[] dout, int doutOff, int[] bytes, int bytesOff,
                                      int rows, int D) {
        embeddings.byteEmbeddingBackward(dEmb, dEmbOff, dout, doutOff, bytes, bytesOff, rows, D);
    }

    @Override
    public void ngramIndex(int[] idx, int idxOff, int[] bytes, int bytesOff, int[] ns, int buckets, int T, int rows) {
        embeddings.ngramIndex(idx, idxOff, bytes, bytesOff, ns, buckets, T, rows);
    }

    @Override
    public void ngramEmbeddingForward(float[] out, int outOff, float[] tables, int tablesOff, int[] idx, int idxOff,
                                      int numN, int rows, int D) {
        embeddings.ngramEmbeddingForward(out, outOff, tables, tablesOff, idx, idxOff, numN, rows, D);
    }

    @Override
    public void ngramEmbeddingBackward(float[] dTables, int dTablesOff, float[] dout, int doutOff, int[] idx, int idxOff,
                                       int numN, int rows, int D) {
        embeddings.ngramEmbeddingBackward(dTables, dTablesOff, dout, doutOff, idx, idxOff, numN, rows, D);
    }

    // ---------------------------------------------------------------- patch boundaries (CpuPatching)

    @Override
    public void patchBoundaries(int[] ends, int[] endRows, int[] pi, int[] seqStart, int[] seqCount, int[] bytes,
                                float[] hNext, float[] state, int B, int T, int mode, int fixedLength, int maxPatch,
                                int warmupFixed, int calibrate, int rank) {
        patching.patchBoundaries(ends, endRows, pi, seqStart, seqCount, bytes, hNext, state, B, T, mode, fixedLength,
                maxPatch, warmupFixed, calibrate, rank);
    }

    // ---------------------------------------------------------------- attention and RoPE (CpuAttention)

    @Override
    public void ropeForward(float[] y, int yOff, float[] x, int xOff, int rows, int P, int pos0,
                            int heads, int headDim, float base) {
        attention.ropeForward(y, yOff, x, xOff, rows, P, pos0, heads, headDim, base);
    }

    @Override
    public void ropeBackward(float[] dx, int dxOff, float[] dy, int dyOff, int rows, int P, int pos0,
                             int heads, int headDim, float base) {
        attention.ropeBackward(dx, dxOff, dy, dyOff, rows, P, pos0, heads, headDim, base);
    }

    @Override
    public void ropeBackwardOverwrite(float[] dx, int dxOff, float[] dy, int dyOff, int rows, int P, int pos0,
                                      int heads, int headDim, float base) {
        if (!attention.ropeBackwardOverwrite(dx, dxOff, dy, dyOff, rows, P, pos0, heads, headDim, base)) {
            Backend.super.ropeBackwardOverwrite(dx, dxOff, dy, dyOff, rows, P, pos0, heads, headDim, base);
        }
    }

    @Override
    public void attentionDenseForward(float[] out, int outOff, float[] att, int attOff,
                                      float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                      int B, int P, int heads, int headDim) {
        attention.attentionDenseForward(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, B, P, heads, headDim);
    }

    @Override
    public void attentionDenseBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                       float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                       float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                                       int B, int P, int heads, int headDim) {
        attention.attentionDenseBackward(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff, v, vOff,
                out, outOff, att, attOff, B, P, heads, headDim);
    }

    @Override
    public long denseAttentionState(int P) {
        return attention.denseAttentionState(P);
    }

    @Override
    public void attentionDenseBackwardOverwrite(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                                float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                                float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                                                int B, int P, int heads, int headDim) {
        if (!attention.attentionDenseBackwardOverwrite(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff,
                v, vOff, out, outOff, att, attOff, B, P, heads, headDim)) {
            Backend.super.attentionDenseBackwardOverwrite(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff,
                    v, vOff, out, outOff, att, attOff, B, P, heads, headDim);
        }
    }

    @Override
    public void attentionDilatedForward(float[] out, int outOff, float[] att, int attOff,
                                        float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                        int B, int P, int heads, int headDim, int window, int slots) {
        attention.attentionDilatedForward(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, B, P, heads, headDim,
                window, slots);
    }

    @Override
    public void attentionDilatedBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                         float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                         float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                                         int B, int P, int heads, int headDim, int window, int slots) {
        attention.attentionDilatedBackward(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff, v, vOff,
                out, outOff, att, attOff, B, P, heads, headDim, window, slots);
    }

    @Override
    public void attentionGroupForward(float[] out, int outOff, float[] att, int attOff,
                                      float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                      int groups, int G, int heads, int headDim) {
        attention.attentionGroupForward(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, groups, G, heads, headDim);
    }

    @Override
    public void attentionGroupBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                       float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                       float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                                       int groups, int G, int heads, int headDim) {
        attention.attentionGroupBackward(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff, v, vOff,
                out, outOff, att, attOff, groups, G, heads, headDim);
    }

    @Override
    public void attentionQuery(boolean dense, float[] out, int outOff, float[] att, float[] q, int qOff,
                               float[] k, int kOff, float[] v, int vOff, int i, int heads, int headDim, int window, int slots) {
        attention.attentionQuery(dense, out, outOff, att, q, qOff, k, kOff, v, vOff, i, heads, headDim, window,
                slots);
    }

    // ---------------------------------------------------------------- IntegralLNN scan (CpuScan)

    @Override
    public void scanForward(float[] h, float[] a, float[] u, int off, int B, int T, int C) {
        scan.scanForward(h, a, u, off, B, T, C);
    }

    public void scanForwardChunked(float[] h, float[] a, float[] u, int off, int B, int T, int C, int chunk,
                                   float[] carryA, float[] carryB) {
        scan.scanForwardChunked(h, a, u, off, B, T, C, chunk, carryA, carryB);
    }

    @Override
    public void scanBackward(float[] da, float[] du, float[] dh, float[] h, float[] a, float[] u,
                             int off, int B, int T, int C) {
        scan.scanBackward(da, du, dh, h, a, u, off, B, T, C);
    }

    public void scanBackwardChunked(float[] da, float[] du, float[] dh, float[] h, float[] a, float[] u,
                                    int off, int B, int T, int C, int chunk, float[] carryA, float[] carryB) {
        scan.scanBackwardChunked(da, du, dh, h, a, u, off, B, T, C, chunk, carryA, carryB);
    }

    @Override
    public void scanStep(float[] h, int hOff, float[] a, int aOff, float[] u, int uOff, int n) {
        scan.scanStep(h, hOff, a, aOff, u, uOff, n);
    }

    @Override
    public void integralGateForward(float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows, int C) {
        scan.integralGateForward(a, aOff, z, zOff, lambda, lambdaOff, rows, C);
    }

    @Override
    public void integralGateBackward(float[] dz, int dzOff, float[] dLambda, int dLambdaOff, float[] da, int daOff,
                                     float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows, int C) {
        scan.integralGateBackward(dz, dzOff, dLambda, dLambdaOff, da, daOff, a, aOff, z, zOff, lambda, lambdaOff,
                rows, C);
    }

    // ---------------------------------------------------------------- context-vector RNN (CpuRnn)

    @Override
    public void rnnGatesForward(float[] p, int pOff, float[] z, int zOff, float[] c, int cOff, int rows, int C) {
        rnn.rnnGatesForward(p, pOff, z, zOff, c, cOff, rows, C);
    }

    @Override
    public void rnnGatesBackward(float[] dz, int dzOff, float[] dc, int dcOff, float[] dp, int dpOff,
                                 float[] z, int zOff, float[] c, int cOff, int rows, int C) {
        rnn.rnnGatesBackward(dz, dzOff, dc, dcOff, dp, dpOff, z, zOff, c, cOff, rows, C);
    }
}
