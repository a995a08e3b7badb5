package io.ionllama.train;

import io.ionllama.backend.Backend;
import io.ionllama.model.ParamLayout;

/**
 * AdamW with decoupled weight decay on matrices only, bias correction, and global-norm gradient
 * clipping. Moments share the parameters' layout; the update runs through the backend
 * ({@link io.ionllama.kernels.Optim#adamwRange}).
 */
public final class AdamW {
    public final float beta1, beta2, eps, weightDecay;
    public final float[] m, v;
    /** Updates applied so far (the bias corrections' exponent). */
    public long t;

    public AdamW(long size, float beta1, float beta2, float eps, float weightDecay) {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.m = new float[Math.toIntExact(size)];
        this.v = new float[Math.toIntExact(size)];
    }

    public static AdamW defaults(long size, float weightDecay) {
        return new AdamW(size, 0.9f, 0.95f, 1e-8f, weightDecay);
    }

    /** The global L2 norm of the gradient, summed tensor by tensor in layout order. */
    public static double gradNorm(Backend be, ParamLayout layout, float[] g) {
        return Math.sqrt(be.sumSquaresTensors(g, layout.offsets(), layout.sizes(), layout.tensors().size()));
    }

    /**
     * One update of {@code tensors} (all of them, or the subset another optimizer leaves to AdamW),
     * in one backend call. {@code gradScale} multiplies the gradient first (clipping).
     */
    public void update(Backend be, Iterable<ParamLayout.Tensor> tensors, float[] p, float[] g, float lr, float gradScale) {
        t++;
        float bc1 = (float) (1 - Math.pow(beta1, t));
        float bc2 = (float) (1 - Math.pow(beta2, t));
        int count = 0;
        for (ParamLayout.Tensor ten : tensors) {
            if (count == offs.length) {
                offs = java.util.Arrays.copyOf(offs, 2 * count + 8);
                sizes = java.util.Arrays.copyOf(sizes, offs.length);
                wds = java.util.Arrays.copyOf(wds, offs.length);
            }
            offs[count] = ten.off();
            sizes[count] = (int) ten.size();
            wds[count] = ten.kind() == ParamLayout.Kind.MATRIX ? weightDecay : 0f;
            count++;
        }
        be.adamwTensors(p, g, m, v, offs, sizes, wds, count, lr, beta1, beta2, eps, bc1, bc2, gradScale);
    }

    /** The tensor table of the last update (grown, never shrunk, so a steady step allocates nothing). */
    private int[] offs = new int[0], sizes = new int[0];
    private float[] wds = new float[0];

    /** Clip factor for a gradient of norm {@code norm}: 1, or clip/norm when above {@code clip} (clip ≤ 0: off). */
    public static float clipScale(double norm, float clip) {
        return clip > 0 && norm > clip ? (float) (clip / norm) : 1f;
    }
}
