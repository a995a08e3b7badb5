package io.ionllama.backend;

/**
 * A backend that forwards every op to another backend. A device backend extends it and overrides
 * only the ops it runs itself, so every op added to {@link Backend} keeps working on it (on the
 * delegate, usually the CPU) before it gets a device version.
 *
 * <p>This class is concrete on purpose: adding a method to {@link Backend} without forwarding it
 * here fails the default build, which does not compile the TornadoVM backend.
 */
public class ForwardingBackend implements Backend {

    protected final Backend delegate;

    public ForwardingBackend(Backend delegate) {
        this.delegate = delegate;
    }

    // denseAttentionState is deliberately not forwarded: it sizes the state of the attention this
    // backend runs, and a subclass that runs attention itself (the device keeps P*P probabilities)
    // must not inherit its delegate's smaller figure. The default P*P is enough for any backend.

    @Override
    public String name() {
        return delegate.name();
    }

    @Override
    public String describe() {
        return delegate.describe();
    }

    @Override
    public void close() {
        delegate.close();
    }

    @Override
    public long bytesToDevice() {
        return delegate.bytesToDevice();
    }

    @Override
    public long bytesToHost() {
        return delegate.bytesToHost();
    }

    @Override
    public long graphExecutions() {
        return delegate.graphExecutions();
    }

    // ---------------------------------------------------------------- glue (kernels.Elementwise, kernels.IntegralGate)

    @Override
    public void copy(float[] dst, int dstOff, float[] src, int srcOff, int n) {
        delegate.copy(dst, dstOff, src, srcOff, n);
    }

    @Override
    public void accumulate(float[] dst, int dstOff, float[] src, int srcOff, int n) {
        delegate.accumulate(dst, dstOff, src, srcOff, n);
    }

    @Override
    public void fill(float[] dst, int dstOff, float value, int n) {
        delegate.fill(dst, dstOff, value, n);
    }

    @Override
    public void axpby(float[] y, int yOff, float alpha, float[] x, int xOff, float beta, int n) {
        delegate.axpby(y, yOff, alpha, x, xOff, beta, n);
    }

    @Override
    public void scale(float[] y, int yOff, float alpha, int n) {
        delegate.scale(y, yOff, alpha, n);
    }

    @Override
    public void dropout(float[] y, int yOff, float p, int seed, int n) {
        delegate.dropout(y, yOff, p, seed, n);
    }

    @Override
    public void transpose(float[] dst, int dstOff, float[] src, int srcOff, int rows, int cols) {
        delegate.transpose(dst, dstOff, src, srcOff, rows, cols);
    }

    @Override
    public void integralGateForward(float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff,
                                    int rows, int C) {
        delegate.integralGateForward(a, aOff, z, zOff, lambda, lambdaOff, rows, C);
    }

    @Override
    public void integralGateBackward(float[] dz, int dzOff, float[] dLambda, int dLambdaOff, float[] da,
                                     int daOff, float[] a, int aOff, float[] z, int zOff, float[] lambda,
                                     int lambdaOff, int rows, int C) {
        delegate.integralGateBackward(dz, dzOff, dLambda, dLambdaOff, da, daOff, a, aOff, z, zOff, lambda, lambdaOff, rows, C);
    }

    // ---------------------------------------------------------------- matmul (kernels.Matmul)

    @Override
    public void matmulForward(float[] y, int yOff, float[] x, int xOff, float[] w, int wOff, float[] b,
                              int bOff, int rows, int in, int out) {
        delegate.matmulForward(y, yOff, x, xOff, w, wOff, b, bOff, rows, in, out);
    }

    @Override
    public void matmulBackwardInput(float[] dx, int dxOff, float[] dy, int dyOff, float[] w, int wOff,
                                    int rows, int in, int out) {
        delegate.matmulBackwardInput(dx, dxOff, dy, dyOff, w, wOff, rows, in, out);
    }

    @Override
    public void matmulBackwardWeight(float[] dw, int dwOff, float[] db, int dbOff, float[] dy, int dyOff,
                                     float[] x, int xOff, int rows, int in, int out) {
        delegate.matmulBackwardWeight(dw, dwOff, db, dbOff, dy, dyOff, x, xOff, rows, in, out);
    }

    // ---------------------------------------------------------------- norms and activations

    @Override
    public void rmsNormForward(float[] out, int outOff, float[] rstd, int rstdOff, float[] x, int xOff,
                               float[] w, int wOff, int rows, int C, float eps) {
        delegate.rmsNormForward(out, outOff, rstd, rstdOff, x, xOff, w, wOff, rows, C, eps);
    }

    @Override
    public void rmsNormBackward(float[] dx, int dxOff, float[] dw, int dwOff, float[] dy, int dyOff,
                                float[] x, int xOff, float[] w, int wOff, float[] rstd, int rstdOff, int rows,
                                int C) {
        delegate.rmsNormBackward(dx, dxOff, dw, dwOff, dy, dyOff, x, xOff, w, wOff, rstd, rstdOff, rows, C);
    }

    @Override
    public void layerNormForward(float[] out, int outOff, float[] mean, int meanOff, float[] rstd,
                                 int rstdOff, float[] x, int xOff, float[] w, int wOff, float[] b, int bOff,
                                 int rows, int C, float eps) {
        delegate.layerNormForward(out, outOff, mean, meanOff, rstd, rstdOff, x, xOff, w, wOff, b, bOff, rows, C, eps);
    }

    @Override
    public void layerNormBackward(float[] dx, int dxOff, float[] dw, int dwOff, float[] db, int dbOff,
                                  float[] dy, int dyOff, float[] x, int xOff, float[] w, int wOff,
                                  float[] mean, int meanOff, float[] rstd, int rstdOff, int rows, int C) {
        delegate.layerNormBackward(dx, dxOff, dw, dwOff, db, dbOff, dy, dyOff, x, xOff, w, wOff, mean, meanOff, rstd, rstdOff, rows, C);
    }

    @Override
    public void geluForward(float[] out, int outOff, float[] x, int xOff, int n) {
        delegate.geluForward(out, outOff, x, xOff, n);
    }

    @Override
    public void geluBackward(float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff, int n) {
        delegate.geluBackward(dx, dxOff, dy, dyOff, x, xOff, n);
    }

    @Override
    public void swigluForward(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n) {
        delegate.swigluForward(out, outOff, a, aOff, b, bOff, n);
    }

    @Override
    public void swigluBackward(float[] da, int daOff, float[] db, int dbOff, float[] dy, int dyOff, float[] a,
                               int aOff, float[] b, int bOff, int n) {
        delegate.swigluBackward(da, daOff, db, dbOff, dy, dyOff, a, aOff, b, bOff, n);
    }

    // ---------------------------------------------------------------- losses and embeddings

    @Override
    public void crossEntropyForward(float[] losses, int lossesOff, float[] probs, int probsOff,
                                    float[] logits, int logitsOff, int[] targets, int targetsOff, int rows,
                                    int V) {
        delegate.crossEntropyForward(losses, lossesOff, probs, probsOff, logits, logitsOff, targets, targetsOff, rows, V);
    }

    @Override
    public void crossEntropyBackward(float[] dlogits, int dlogitsOff, float[] probs, int probsOff,
                                     int[] targets, int targetsOff, float[] dloss, int dlossOff,
                                     int dlossStride, int rows, int V) {
        delegate.crossEntropyBackward(dlogits, dlogitsOff, probs, probsOff, targets, targetsOff, dloss, dlossOff, dlossStride, rows, V);
    }

    @Override
    public void entropy(float[] entropy, int entropyOff, float[] logits, int logitsOff, int rows, int V) {
        delegate.entropy(entropy, entropyOff, logits, logitsOff, rows, V);
    }

    @Override
    public void argmax(int[] argmax, int argmaxOff, float[] logits, int logitsOff, int rows, int V) {
        delegate.argmax(argmax, argmaxOff, logits, logitsOff, rows, V);
    }

    @Override
    public void lossStats(float[] stats, int statsOff, float[] losses, int lossesOff, int[] argmax,
                          int argmaxOff, int[] targets, int targetsOff, int rows) {
        delegate.lossStats(stats, statsOff, losses, lossesOff, argmax, argmaxOff, targets, targetsOff, rows);
    }

    @Override
    public void byteEmbeddingForward(float[] out, int outOff, float[] emb, int embOff, int[] bytes,
                                     int bytesOff, int rows, int D) {
        delegate.byteEmbeddingForward(out, outOff, emb, embOff, bytes, bytesOff, rows, D);
    }

    @Override
    public void byteEmbeddingBackward(float[] dEmb, int dEmbOff, float[] dout, int doutOff, int[] bytes,
                                      int bytesOff, int rows, int D) {
        delegate.byteEmbeddingBackward(dEmb, dEmbOff, dout, doutOff, bytes, bytesOff, rows, D);
    }

    @Override
    public void ngramIndex(int[] idx, int idxOff, int[] bytes, int bytesOff, int[] ns, int buckets, int T,
                           int rows) {
        delegate.ngramIndex(idx, idxOff, bytes, bytesOff, ns, buckets, T, rows);
    }

    @Override
    public void ngramEmbeddingForward(float[] out, int outOff, float[] tables, int tablesOff, int[] idx,
                                      int idxOff, int numN, int rows, int D) {
        delegate.ngramEmbeddingForward(out, outOff, tables, tablesOff, idx, idxOff, numN, rows, D);
    }

    @Override
    public void ngramEmbeddingBackward(float[] dTables, int dTablesOff, float[] dout, int doutOff, int[] idx,
                                       int idxOff, int numN, int rows, int D) {
        delegate.ngramEmbeddingBackward(dTables, dTablesOff, dout, doutOff, idx, idxOff, numN, rows, D);
    }

    // ---------------------------------------------------------------- patch boundaries

    @Override
    public void patchBoundaries(int[] ends, int[] endRows, int[] pi, int[] seqStart, int[] seqCount, int[] bytes,
                                float[] hNext, float[] state, int B, int T, int mode, int fixedLength, int maxPatch,
                                int warmupFixed, int calibrate, int rank) {
        delegate.patchBoundaries(ends, endRows, pi, seqStart, seqCount, bytes, hNext, state, B, T, mode, fixedLength, maxPatch,
                warmupFixed, calibrate, rank);
    }

    // ---------------------------------------------------------------- attention and RoPE

    @Override
    public void ropeForward(float[] y, int yOff, float[] x, int xOff, int rows, int P, int pos0, int heads,
                            int headDim, float base) {
        delegate.ropeForward(y, yOff, x, xOff, rows, P, pos0, heads, headDim, base);
    }

    @Override
    public void ropeBackward(float[] dx, int dxOff, float[] dy, int dyOff, int rows, int P, int pos0,
                             int heads, int headDim, float base) {
        delegate.ropeBackward(dx, dxOff, dy, dyOff, rows, P, pos0, heads, headDim, base);
    }

    @Override
    public void attentionQuery(boolean dense, float[] out, int outOff, float[] att, float[] q, int qOff,
                               float[] k, int kOff, float[] v, int vOff, int i, int heads, int headDim, int window,
                               int slots) {
        delegate.attentionQuery(dense, out, outOff, att, q, qOff, k, kOff, v, vOff, i, heads, headDim, window, slots);
    }

    @Override
    public void attentionDenseForward(float[] out, int outOff, float[] att, int attOff, float[] q, int qOff,
                                      float[] k, int kOff, float[] v, int vOff, int B, int P, int heads,
                                      int headDim) {
        delegate.attentionDenseForward(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, B, P, heads, headDim);
    }

    @Override
    public void attentionDenseBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                       float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                       float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                                       int B, int P, int heads, int headDim) {
        delegate.attentionDenseBackward(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff, v, vOff, out, outOff, att, attOff, B, P, heads, headDim);
    }

    @Override
    public void attentionDilatedForward(float[] out, int outOff, float[] att, int attOff, float[] q, int qOff,
                                        float[] k, int kOff, float[] v, int vOff, int B, int P, int heads,
                                        int headDim, int window, int slots) {
        delegate.attentionDilatedForward(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, B, P, heads, headDim, window, slots);
    }

    @Override
    public void attentionDilatedBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                         float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                         float[] v, int vOff, float[] out, int outOff, float[] att,
                                         int attOff, int B, int P, int heads, int headDim, int window,
                                         int slots) {
        delegate.attentionDilatedBackward(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff, v, vOff, out, outOff, att, attOff, B, P, heads, headDim, window, slots);
    }

    @Override
    public void attentionGroupForward(float[] out, int outOff, float[] att, int attOff, float[] q, int qOff,
                                      float[] k, int kOff, float[] v, int vOff, int groups, int G, int heads, int headDim) {
        delegate.attentionGroupForward(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, groups, G, heads, headDim);
    }

    @Override
    public void attentionGroupBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                       float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                       float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                                       int groups, int G, int heads, int headDim) {
        delegate.attentionGroupBackward(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff, v, vOff,
                out, outOff, att, attOff, groups, G, heads, headDim);
    }

    // ---------------------------------------------------------------- IntegralLNN scan

    @Override
    public void scanForward(float[] h, float[] a, float[] u, int off, int B, int T, int C) {
        delegate.scanForward(h, a, u, off, B, T, C);
    }

    @Override
    public void scanBackward(float[] da, float[] du, float[] dh, float[] h, float[] a, float[] u, int off,
                             int B, int T, int C) {
        delegate.scanBackward(da, du, dh, h, a, u, off, B, T, C);
    }

    @Override
    public void scanStep(float[] h, int hOff, float[] a, int aOff, float[] u, int uOff, int n) {
        delegate.scanStep(h, hOff, a, aOff, u, uOff, n);
    }

    // ---------------------------------------------------------------- optimizer (kernels.Optim)

    @Override
    public void adamw(float[] p, float[] g, float[] m, float[] v, int off, int n, float lr, float beta1, float beta2,
                      float eps, float weightDecay, float bc1, float bc2, float gradScale) {
        delegate.adamw(p, g, m, v, off, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2, gradScale);
    }

    @Override
    public double sumSquares(float[] g, int off, int n) {
        return delegate.sumSquares(g, off, n);
    }

    @Override
    public void adamwTensors(float[] p, float[] g, float[] m, float[] v, int[] offs, int[] sizes, float[] wds, int count,
                             float lr, float beta1, float beta2, float eps, float bc1, float bc2, float gradScale) {
        delegate.adamwTensors(p, g, m, v, offs, sizes, wds, count, lr, beta1, beta2, eps, bc1, bc2, gradScale);
    }

    @Override
    public void normalize(float[] x, int off, int n, double eps) {
        delegate.normalize(x, off, n, eps);
    }

    @Override
    public double sumSquaresTensors(float[] g, int[] offs, int[] sizes, int count) {
        return delegate.sumSquaresTensors(g, offs, sizes, count);
    }

    @Override
    public void toHost(float[]... arrays) {
        delegate.toHost(arrays);
    }

    @Override
    public void hostChanged(float[]... arrays) {
        delegate.hostChanged(arrays);
    }

    @Override
    public void toHost(int[]... arrays) {
        delegate.toHost(arrays);
    }

    @Override
    public void hostChanged(int[]... arrays) {
        delegate.hostChanged(arrays);
    }

    @Override
    public void beginStep(String kind) {
        delegate.beginStep(kind);
    }

    @Override
    public void endStep() {
        delegate.endStep();
    }

    @Override
    public void forgetSteps() {
        delegate.forgetSteps();
    }

    @Override
    public void abortStep() {
        delegate.abortStep();
    }

    // ---------------------------------------------------------------- context-vector RNN (kernels.RnnCell)

    @Override
    public void rnnGatesForward(float[] p, int pOff, float[] z, int zOff, float[] c, int cOff, int rows, int C) {
        delegate.rnnGatesForward(p, pOff, z, zOff, c, cOff, rows, C);
    }

    @Override
    public void rnnGatesBackward(float[] dz, int dzOff, float[] dc, int dcOff, float[] dp, int dpOff,
                                 float[] z, int zOff, float[] c, int cOff, int rows, int C) {
        delegate.rnnGatesBackward(dz, dzOff, dc, dcOff, dp, dpOff, z, zOff, c, cOff, rows, C);
    }
}
