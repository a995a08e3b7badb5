package io.ionllama.backend.tornado;

import io.ionllama.kernels.Attention;
import io.ionllama.kernels.Rope;
import uk.ac.manchester.tornado.api.KernelContext;

/**
 * Attention's and RoPE's device kernels: one thread per unit of {@link Attention} and
 * {@link Rope}, which TornadoVM inlines. Arrays are the backend's staging buffers (offset 0).
 *
 * <p>The number of patches P changes with every batch (and the model calls attention once per
 * sequence, so it changes from call to call), and with it the dilated slot count S: B, P and S
 * are read from {@code params} (transferred every execution, TORNADOVM.md pitfall 3). Heads,
 * head size and window are compiled in.
 * <pre>
 *   kernel                 threads      thread u ->           unit
 *   dilatedForward         B * P * H    h = u % H,            Attention.dilatedForward        out row i head h, att[b,h,i,:]
 *   dilatedBackwardQuery   B * P * H    i = (u / H) % P,      Attention.dilatedBackwardQuery  dq row i head h
 *   dilatedBackwardKey     B * P * H    b = u / (H * P)       Attention.dilatedBackwardKey    dk, dv row j=i head h (a gather)
 *   dense*                 the same, with S = P              Attention.dense*
 *   ropeForward/Backward   rows * H     n = u / H, h = u % H  Rope.forwardHead / backwardHead
 * </pre>
 * The backward's two kernels write disjoint outputs (dq; dk and dv), so they are two tasks of one
 * graph with no atomics, as on the CPU.
 */
public final class AttentionKernels {
    private AttentionKernels() {}

    /** Indexes into the attention graphs' {@code params}: sequences, positions per sequence, slots per query row of att. */
    public static final int B = 0, P = 1, S = 2;
    /** Indexes into the one-query graphs' {@code params}: the query's position, slots per att row. */
    public static final int QUERY = 0, QUERY_SLOTS = 1;
    /** Indexes into the RoPE graphs' {@code params}: rows, positions per sequence, first position. */
    public static final int ROWS = 0, ROPE_P = 1, POS0 = 2;

    public static void dilatedForward(KernelContext c, float[] out, float[] att, float[] q, float[] k, float[] v,
                                      int[] params, int heads, int hd, int window) {
        int u = c.globalIdx;
        int pp = params[P];
        if (u < params[B] * pp * heads) {
            Attention.dilatedForward(out, 0, att, 0, q, 0, k, 0, v, 0, pp, heads, hd, window, params[S],
                    u / (heads * pp), (u / heads) % pp, u % heads);
        }
    }

    public static void dilatedBackwardQuery(KernelContext c, float[] dq, float[] dout, float[] k, float[] v,
                                            float[] out, float[] att, int[] params, int heads, int hd, int window) {
        int u = c.globalIdx;
        int pp = params[P];
        if (u < params[B] * pp * heads) {
            Attention.dilatedBackwardQuery(dq, 0, dout, 0, k, 0, v, 0, out, 0, att, 0, pp, heads, hd, window,
                    params[S], u / (heads * pp), (u / heads) % pp, u % heads);
        }
    }

    public static void dilatedBackwardKey(KernelContext c, float[] dk, float[] dv, float[] dout, float[] q,
                                          float[] v, float[] out, float[] att, int[] params, int heads, int hd,
                                          int window) {
        int u = c.globalIdx;
        int pp = params[P];
        if (u < params[B] * pp * heads) {
            Attention.dilatedBackwardKey(dk, 0, dv, 0, dout, 0, q, 0, v, 0, out, 0, att, 0, pp, heads, hd, window,
                    params[S], u / (heads * pp), (u / heads) % pp, u % heads);
        }
    }

    public static void denseForward(KernelContext c, float[] out, float[] att, float[] q, float[] k, float[] v,
                                    int[] params, int heads, int hd) {
        int u = c.globalIdx;
        int pp = params[P];
        if (u < params[B] * pp * heads) {
            Attention.denseForward(out, 0, att, 0, q, 0, k, 0, v, 0, pp, heads, hd,
                    u / (heads * pp), (u / heads) % pp, u % heads);
        }
    }

    public static void denseBackwardQuery(KernelContext c, float[] dq, float[] dout, float[] k, float[] v,
                                          float[] out, float[] att, int[] params, int heads, int hd) {
        int u = c.globalIdx;
        int pp = params[P];
        if (u < params[B] * pp * heads) {
            Attention.denseBackwardQuery(dq, 0, dout, 0, k, 0, v, 0, out, 0, att, 0, pp, heads, hd,
                    u / (heads * pp), (u / heads) % pp, u % heads);
        }
    }

    public static void denseBackwardKey(KernelContext c, float[] dk, float[] dv, float[] dout, float[] q,
                                        float[] v, float[] out, float[] att, int[] params, int heads, int hd) {
        int u = c.globalIdx;
        int pp = params[P];
        if (u < params[B] * pp * heads) {
            Attention.denseBackwardKey(dk, 0, dv, 0, dout, 0, q, 0, v, 0, out, 0, att, 0, pp, heads, hd,
                    u / (heads * pp), (u / heads) % pp, u % heads);
        }
    }

    public static void ropeForward(KernelContext c, float[] y, float[] x, int[] params, int heads, int hd, float base) {
        int u = c.globalIdx;
        if (u < params[ROWS] * heads) {
            Rope.forwardHead(y, 0, x, 0, params[ROPE_P], params[POS0], heads, hd, base, u / heads, u % heads);
        }
    }

    public static void ropeBackward(KernelContext c, float[] dx, float[] dy, int[] params, int heads, int hd, float base) {
        int u = c.globalIdx;
        if (u < params[ROWS] * heads) {
            Rope.backwardHead(dx, 0, dy, 0, params[ROPE_P], params[POS0], heads, hd, base, u / heads, u % heads);
        }
    }

    /**
     * Generation's one new query at position i = params[QUERY] over keys and values 0..i, one
     * thread per head: the full-sequence units with b = 0 and P = i + 1, and the one-row q, out
     * and att buffers shifted by row i so that the units' row arithmetic lands on them (the
     * CPU's attentionQuery does the same).
     */
    public static void query(KernelContext c, float[] out, float[] att, float[] q, float[] k, float[] v, int[] params,
                             int heads, int hd, int window, int dense) {
        int h = c.globalIdx;
        if (h < heads) {
            int i = params[QUERY];
            int pp = i + 1;
            int C = heads * hd;
            if (dense != 0) {
                Attention.denseForward(out, -i * C, att, h * pp - (h * pp + i) * pp, q, -i * C, k, 0, v, 0, pp, heads, hd,
                        0, i, h);
            } else {
                int slots = params[QUERY_SLOTS];
                Attention.dilatedForward(out, -i * C, att, h * slots - (h * pp + i) * slots, q, -i * C, k, 0, v, 0, pp,
                        heads, hd, window, slots, 0, i, h);
            }
        }
    }
}
