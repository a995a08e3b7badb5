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

    // ---------------------------------------------------------------- matmul (kernels.Matmul)

    @Override
    public void matmulForward(float[] y, int yOff, float[] x, int xOff, float[] w, int wOff,
                              float[] b, int bOff, int rows, int in, int out) {
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

    // ---------------------------------------------------------------- losses and embeddings

    // ---------------------------------------------------------------- attention and RoPE

    // ---------------------------------------------------------------- IntegralLNN scan
}
