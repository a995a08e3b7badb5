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

    // ---------------------------------------------------------------- glue (kernels.Elementwise, kernels.IntegralGate)

    /** dst[0..n) = src[0..n). */
    void copy(float[] dst, int dstOff, float[] src, int srcOff, int n);

    /** dst[0..n) += src[0..n) (residual connections and their backward). */
    void accumulate(float[] dst, int dstOff, float[] src, int srcOff, int n);

    /** dst[0..n) = value (zeroing gradient buffers). */
    void fill(float[] dst, int dstOff, float value, int n);

    /** a[rows, C] = exp(-softplus(z) * exp(lambda[c])): the IntegralLNN decay. */
    void integralGateForward(float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows, int C);

    /** dz += da * da/dz; dLambda[c] += sum over rows of da * da/dlambda (rows in order). */
    void integralGateBackward(float[] dz, int dzOff, float[] dLambda, int dLambdaOff, float[] da, int daOff,
                              float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows, int C);

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

    // ---------------------------------------------------------------- IntegralLNN scan
}
