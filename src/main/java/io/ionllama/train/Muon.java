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
 * Every step is a backend call (axpby, normalize, transpose, copy, fill, matmul), so a device
 * backend keeps the momentum and the scratch matrices on the device, and nothing comes back.
 */
public final class Muon {
    static final float MU = 0.95f, A = 3.4445f, B = -4.7750f, C = 2.0315f;
    static final int STEPS = 5;

    private final List<ParamLayout.Tensor> muonTensors = new ArrayList<>();
    private final List<ParamLayout.Tensor> adamwTensors = new ArrayList<>();
    public final float[] momentum;
    private final float weightDecay;
    private final float[] x, xt, a, a2, aa, bx;

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
        a = new float[maxSq];
        a2 = new float[maxSq];
        aa = new float[maxSq];
    }

    /** Tensors this optimizer leaves to AdamW. */
    public List<ParamLayout.Tensor> adamwTensors() {
        return adamwTensors;
    }

    public List<ParamLayout.Tensor> muonTensors() {
        return muonTensors;
    }

    /**
     * One Muon step over the hidden matrices, as backend calls only: p, g, the momentum and the
     * scratch stay wherever the backend keeps them (on a device, inside a step), and the host
     * reads nothing back.
     */
    public void update(Backend be, float[] p, float[] g, float lr, float gradScale) {
        for (ParamLayout.Tensor t : muonTensors) {
            int off = t.off(), n = (int) t.size(), rows = t.rows(), cols = t.cols();
            // Nesterov momentum: M = μ M + s G, then U = s G + μ M into x.
            be.axpby(momentum, off, MU, g, off, gradScale, n);
            be.copy(x, 0, momentum, off, n);
            be.axpby(x, 0, MU, g, off, gradScale, n);
            boolean transpose = rows > cols;
            int r = transpose ? cols : rows, c = transpose ? rows : cols, rr = r * r;
            // X [r, c] lives in one scratch array, its copy (a matmul takes two distinct arrays) in the other.
            float[] xs = x, x2 = xt;
            if (transpose) {
                be.transpose(xt, 0, x, 0, rows, cols);
                xs = xt;
                x2 = x;
            }
            be.normalize(xs, 0, n, 1e-7);
            for (int k = 0; k < STEPS; k++) {
                be.copy(x2, 0, xs, 0, n);
                be.matmulForward(a, 0, xs, 0, x2, 0, null, 0, r, c, r);        // A = X Xᵀ        [r, r]
                be.copy(a2, 0, a, 0, rr);
                be.matmulForward(aa, 0, a, 0, a2, 0, null, 0, r, r, r);        // A A (A symmetric)
                be.axpby(aa, 0, C, a, 0, B, rr);                               // b A + c A A
                be.fill(bx, 0, 0f, n);
                be.matmulBackwardInput(bx, 0, aa, 0, xs, 0, r, c, r);          // (bA + cAA) X   [r, c]
                be.axpby(xs, 0, A, bx, 0, 1f, n);                              // X = a X + (bA + cAA) X
            }
            if (transpose) {
                be.transpose(x2, 0, xs, 0, r, c);
                xs = x2;
            }
            // W -= lr (scale X + wd W)  as  W = (1 - lr wd) W - lr scale X
            float scale = (float) (0.2 * Math.sqrt(Math.max(rows, cols)));
            be.axpby(p, off, 1f - lr * weightDecay, xs, 0, -lr * scale, n);
        }
    }
}
