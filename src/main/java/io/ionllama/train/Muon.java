package io.ionllama.train;

import io.ionllama.backend.Backend;
import io.ionllama.model.ParamLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Muon for the hidden matrices: Nesterov momentum, orthogonalised by five Newton–Schulz
 * iterations, scaled to AdamW's update size (0.2·sqrt(max(rows, cols)), after "Muon is scalable
 * for LLM training"), so one {@code --lr} serves both optimizers. Embeddings, vectors and the two
 * output heads stay with AdamW ({@link #adamwTensors}).
 *
 * <pre>
 *   M = μ M + G          U = G + μ M   (Nesterov)
 *   X = U / ||U||_F, transposed so rows ≤ cols
 *   5×:  A = X Xᵀ ;  X = a X + (b A + c A A) X      (a, b, c) = (3.4445, -4.7750, 2.0315)
 *   W -= lr · (0.2 · sqrt(max(rows, cols)) · X + wd · W)
 * </pre>
 * The matrix products run on the backend's matmul.
 */
public final class Muon {
    static final float MU = 0.95f, A = 3.4445f, B = -4.7750f, C = 2.0315f;
    static final int STEPS = 5;

    private final List<ParamLayout.Tensor> muonTensors = new ArrayList<>();
    private final List<ParamLayout.Tensor> adamwTensors = new ArrayList<>();
    public final float[] momentum;
    private final float weightDecay;
    private float[] x, xt, a, aa, bx, tmp;

    public Muon(ParamLayout layout, float weightDecay) {
        this.weightDecay = weightDecay;
        this.momentum = new float[Math.toIntExact(layout.total())];
        int maxMat = 1, maxSq = 1;
        for (ParamLayout.Tensor t : layout.tensors()) {
            boolean hidden = t.kind() == ParamLayout.Kind.MATRIX && t.shape().length == 2
                    && !t.name().equals("head") && !t.name().equals("entropy.head");
            (hidden ? muonTensors : adamwTensors).add(t);
            if (hidden) {
                maxMat = Math.max(maxMat, (int) t.size());
                int m = Math.min(t.rows(), t.cols());
                maxSq = Math.max(maxSq, m * m);
            }
        }
        x = new float[maxMat];
        xt = new float[maxMat];
        bx = new float[maxMat];
        tmp = new float[maxMat];
        a = new float[maxSq];
        aa = new float[maxSq];
    }

    /** Tensors this optimizer leaves to AdamW. */
    public List<ParamLayout.Tensor> adamwTensors() {
        return adamwTensors;
    }

    public List<ParamLayout.Tensor> muonTensors() {
        return muonTensors;
    }

    public void update(Backend be, float[] p, float[] g, float lr, float gradScale) {
        // The orthogonalisation mixes host loops and backend matmuls: each hands its arrays over.
        be.toHost(p, g);
        for (ParamLayout.Tensor t : muonTensors) {
            int off = t.off(), n = (int) t.size(), rows = t.rows(), cols = t.cols();
            // Nesterov momentum into x.
            for (int i = 0; i < n; i++) {
                float gi = g[off + i] * gradScale;
                float m = MU * momentum[off + i] + gi;
                momentum[off + i] = m;
                x[i] = gi + MU * m;
            }
            boolean transpose = rows > cols;
            int r = transpose ? cols : rows, c = transpose ? rows : cols;
            if (transpose) {
                transpose(x, xt, rows, cols);
                System.arraycopy(xt, 0, x, 0, n);
            }
            be.hostChanged(x);
            double norm = Math.sqrt(be.sumSquares(x, 0, n)) + 1e-7;
            for (int i = 0; i < n; i++) {
                x[i] = (float) (x[i] / norm);
            }
            be.hostChanged(x);
            for (int k = 0; k < STEPS; k++) {
                be.matmulForward(a, 0, x, 0, x, 0, null, 0, r, c, r);          // A = X Xᵀ        [r, r]
                be.matmulForward(aa, 0, a, 0, a, 0, null, 0, r, r, r);         // A A (A symmetric)
                be.toHost(a, aa);
                for (int i = 0; i < r * r; i++) {
                    aa[i] = B * a[i] + C * aa[i];                              // b A + c A A
                }
                be.hostChanged(aa);
                be.fill(bx, 0, 0f, n);
                be.matmulBackwardInput(bx, 0, aa, 0, x, 0, r, c, r);           // (bA + cAA) X   [r, c]
                be.toHost(bx);
                for (int i = 0; i < n; i++) {
                    x[i] = A * x[i] + bx[i];
                }
                be.hostChanged(x);
            }
            if (transpose) {
                transpose(x, tmp, r, c);
                System.arraycopy(tmp, 0, x, 0, n);
            }
            float scale = (float) (0.2 * Math.sqrt(Math.max(rows, cols)));
            for (int i = 0; i < n; i++) {
                p[off + i] -= lr * (scale * x[i] + weightDecay * p[off + i]);
            }
        }
        be.hostChanged(p);
    }

    private static void transpose(float[] src, float[] dst, int rows, int cols) {
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                dst[j * rows + i] = src[i * cols + j];
            }
        }
    }
}
