package io.ionllama.backend.tornado;

import io.ionllama.kernels.Attention;
import io.ionllama.kernels.GroupAttention;
import io.ionllama.kernels.Rope;
import uk.ac.manchester.tornado.api.KernelContext;

/**
 * Attention's and RoPE's device kernels: one thread per unit of {@link Attention},
 * {@link GroupAttention} and {@link Rope}, which TornadoVM inlines. Offsets into the arrays come from {@code params}
 * ({@code params[OFF0 + i]}): 0 for the per-op graphs' staging buffers, the caller's offsets when
 * a graph is bound to the caller's own arrays ({@link Residency}).
 *
 * <p>The number of patches P changes with every batch (and the model calls attention once per
 * sequence, so it changes from call to call), and with it the dilated slot count S: B, P and S
 * are read from {@code params} (transferred every execution, docs/gpu.md, pitfall 3). Heads,
 * head size and window are compiled in.
 * <pre>
 *   kernel                 threads      thread u ->           unit
 *   dilatedForward         B * P * H    h = u % H,            Attention.dilatedForward        out row i head h, att[b,h,i,:]
 *   dilatedBackwardQuery   B * P * H    i = (u / H) % P,      Attention.dilatedBackwardQuery  dq row i head h
 *   dilatedBackwardKey     B * P * H    b = u / (H * P)       Attention.dilatedBackwardKey    dk, dv row j=i head h (a gather)
 *   dense*                 the same, with S = P              Attention.dense*
 *   group*                 the same, with B = groups,        GroupAttention.forward / backwardQuery / backwardKey
 *                          P = S = G (tokun's blocks)        (g = b, row i of the group)
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
    /**
     * Index of the first array offset in every graph's {@code params} (after the sizes above), and
     * the length of {@code params}. The offsets follow in the order of the kernel's array
     * arguments: forward and one-query out, att, q, k, v; RoPE y, x; backward the query pass's
     * dq, dout, k, v, out, att, then the key pass's other arrays dk, dv, q ({@link #DK}).
     */
    public static final int OFF0 = 3, PARAMS = OFF0 + 9;
    /** The backward's offsets of dk, dv and q: {@code params[OFF0 + DK]} and on. */
    public static final int DK = 6;

    public static void dilatedForward(KernelContext c, float[] out, float[] att, float[] q, float[] k, float[] v,
                                      int[] params, int pb, int heads, int hd, int window) {
        int u = c.globalIdx;
        int pp = params[pb + P];
        if (u < params[pb + B] * pp * heads) {
            Attention.dilatedForward(out, params[pb + OFF0], att, params[pb + OFF0 + 1], q, params[pb + OFF0 + 2], k, params[pb + OFF0 + 3],
                    v, params[pb + OFF0 + 4], pp, heads, hd, window, params[pb + S],
                    u / (heads * pp), (u / heads) % pp, u % heads);
        }
    }

    public static void dilatedBackwardQuery(KernelContext c, float[] dq, float[] dout, float[] k, float[] v,
                                            float[] out, float[] att, int[] params, int pb, int heads, int hd, int window) {
        int u = c.globalIdx;
        int pp = params[pb + P];
        if (u < params[pb + B] * pp * heads) {
            Attention.dilatedBackwardQuery(dq, params[pb + OFF0], dout, params[pb + OFF0 + 1], k, params[pb + OFF0 + 2], v, params[pb + OFF0 + 3],
                    out, params[pb + OFF0 + 4], att, params[pb + OFF0 + 5], pp, heads, hd,
                    window, params[pb + S], u / (heads * pp), (u / heads) % pp, u % heads);
        }
    }

    public static void dilatedBackwardKey(KernelContext c, float[] dk, float[] dv, float[] dout, float[] q,
                                          float[] v, float[] out, float[] att, int[] params, int pb, int heads, int hd,
                                          int window) {
        int u = c.globalIdx;
        int pp = params[pb + P];
        if (u < params[pb + B] * pp * heads) {
            Attention.dilatedBackwardKey(dk, params[pb + OFF0 + DK], dv, params[pb + OFF0 + DK + 1], dout, params[pb + OFF0 + 1],
                    q, params[pb + OFF0 + DK + 2], v, params[pb + OFF0 + 3], out, params[pb + OFF0 + 4], att, params[pb + OFF0 + 5], pp, heads,
                    hd, window, params[pb + S], u / (heads * pp), (u / heads) % pp, u % heads);
        }
    }

    public static void denseForward(KernelContext c, float[] out, float[] att, float[] q, float[] k, float[] v,
                                    int[] params, int pb, int heads, int hd) {
        int u = c.globalIdx;
        int pp = params[pb + P];
        if (u < params[pb + B] * pp * heads) {
            Attention.denseForward(out, params[pb + OFF0], att, params[pb + OFF0 + 1], q, params[pb + OFF0 + 2], k, params[pb + OFF0 + 3],
                    v, params[pb + OFF0 + 4], pp, heads, hd,
                    u / (heads * pp), (u / heads) % pp, u % heads);
        }
    }

    public static void denseBackwardQuery(KernelContext c, float[] dq, float[] dout, float[] k, float[] v,
                                          float[] out, float[] att, int[] params, int pb, int heads, int hd) {
        int u = c.globalIdx;
        int pp = params[pb + P];
        if (u < params[pb + B] * pp * heads) {
            Attention.denseBackwardQuery(dq, params[pb + OFF0], dout, params[pb + OFF0 + 1], k, params[pb + OFF0 + 2], v, params[pb + OFF0 + 3],
                    out, params[pb + OFF0 + 4], att, params[pb + OFF0 + 5], pp, heads, hd,
                    u / (heads * pp), (u / heads) % pp, u % heads);
        }
    }

    public static void denseBackwardKey(KernelContext c, float[] dk, float[] dv, float[] dout, float[] q,
                                        float[] v, float[] out, float[] att, int[] params, int pb, int heads, int hd) {
        int u = c.globalIdx;
        int pp = params[pb + P];
        if (u < params[pb + B] * pp * heads) {
            Attention.denseBackwardKey(dk, params[pb + OFF0 + DK], dv, params[pb + OFF0 + DK + 1], dout, params[pb + OFF0 + 1],
                    q, params[pb + OFF0 + DK + 2], v, params[pb + OFF0 + 3], out, params[pb + OFF0 + 4], att, params[pb + OFF0 + 5], pp, heads, hd,
                    u / (heads * pp), (u / heads) % pp, u % heads);
        }
    }

    /** Group attention: B = groups and P = G in {@code params}, att [groups, H, G, G] as dense's [B, H, P, P]. */
    public static void groupForward(KernelContext c, float[] out, float[] att, float[] q, float[] k, float[] v,
                                    int[] params, int pb, int heads, int hd) {
        int u = c.globalIdx;
        int g = params[pb + P];
        if (u < params[pb + B] * g * heads) {
            GroupAttention.forward(out, params[pb + OFF0], att, params[pb + OFF0 + 1], q, params[pb + OFF0 + 2], k, params[pb + OFF0 + 3],
                    v, params[pb + OFF0 + 4], g, heads, hd, u / (heads * g), (u / heads) % g, u % heads);
        }
    }

    public static void groupBackwardQuery(KernelContext c, float[] dq, float[] dout, float[] k, float[] v,
                                          float[] out, float[] att, int[] params, int pb, int heads, int hd) {
        int u = c.globalIdx;
        int g = params[pb + P];
        if (u < params[pb + B] * g * heads) {
            GroupAttention.backwardQuery(dq, params[pb + OFF0], dout, params[pb + OFF0 + 1], k, params[pb + OFF0 + 2], v, params[pb + OFF0 + 3],
                    out, params[pb + OFF0 + 4], att, params[pb + OFF0 + 5], g, heads, hd, u / (heads * g), (u / heads) % g, u % heads);
        }
    }

    public static void groupBackwardKey(KernelContext c, float[] dk, float[] dv, float[] dout, float[] q,
                                        float[] v, float[] out, float[] att, int[] params, int pb, int heads, int hd) {
        int u = c.globalIdx;
        int g = params[pb + P];
        if (u < params[pb + B] * g * heads) {
            GroupAttention.backwardKey(dk, params[pb + OFF0 + DK], dv, params[pb + OFF0 + DK + 1], dout, params[pb + OFF0 + 1],
                    q, params[pb + OFF0 + DK + 2], v, params[pb + OFF0 + 3], out, params[pb + OFF0 + 4], att, params[pb + OFF0 + 5],
                    g, heads, hd, u / (heads * g), (u / heads) % g, u % heads);
        }
    }

    public static void ropeForward(KernelContext c, float[] y, float[] x, int[] params, int pb, int heads, int hd, float base) {
        int u = c.globalIdx;
        if (u < params[pb + ROWS] * heads) {
            Rope.forwardHead(y, params[pb + OFF0], x, params[pb + OFF0 + 1], params[pb + ROPE_P], params[pb + POS0], heads, hd, base,
                    u / heads, u % heads);
        }
    }

    public static void ropeBackward(KernelContext c, float[] dx, float[] dy, int[] params, int pb, int heads, int hd, float base) {
        int u = c.globalIdx;
        if (u < params[pb + ROWS] * heads) {
            Rope.backwardHead(dx, params[pb + OFF0], dy, params[pb + OFF0 + 1], params[pb + ROPE_P], params[pb + POS0], heads, hd, base,
                    u / heads, u % heads);
        }
    }

    /**
     * Generation's one new query at position i = params[QUERY] over keys and values 0..i, one
     * thread per head: the full-sequence units with b = 0 and P = i + 1, and the one-row q, out
     * and att buffers shifted by row i so that the units' row arithmetic lands on them (the
     * CPU's attentionQuery does the same).
     */
    public static void query(KernelContext c, float[] out, float[] att, float[] q, float[] k, float[] v, int[] params, int pb,
                             int heads, int hd, int window, int dense) {
        int h = c.globalIdx;
        if (h < heads) {
            int i = params[pb + QUERY];
            int pp = i + 1;
            int C = heads * hd;
            int outOff = params[pb + OFF0], attOff = params[pb + OFF0 + 1], qOff = params[pb + OFF0 + 2];
            int kOff = params[pb + OFF0 + 3], vOff = params[pb + OFF0 + 4];
            if (dense != 0) {
                Attention.denseForward(out, outOff - i * C, att, attOff + h * pp - (h * pp + i) * pp, q, qOff - i * C,
                        k, kOff, v, vOff, pp, heads, hd, 0, i, h);
            } else {
                int slots = params[pb + QUERY_SLOTS];
                Attention.dilatedForward(out, outOff - i * C, att, attOff + h * slots - (h * pp + i) * slots, q, qOff - i * C,
                        k, kOff, v, vOff, pp, heads, hd, window, slots, 0, i, h);
            }
        }
    }
}
