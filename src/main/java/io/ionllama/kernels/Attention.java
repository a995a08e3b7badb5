package io.ionllama.kernels;

/**
 * Causal multi-head attention over the P positions of each of B independent sequences, in two
 * forms that share one math: dense (query i reads keys 0..i, the O(P^2) ablation) and sparse
 * dilated (query i reads a fixed set of S offsets, O(P (w + log P))).
 *
 * <pre>
 *   q, k, v, out  [B*P, C]    C = H*hd, row b*P+i is position i of sequence b, head-major [H, hd]
 *   dense:   att  [B, H, P, P] probabilities, att[b,h,i,j] = 0 for j > i
 *   dilated: att  [B, H, P, S] probabilities by slot, 0 for masked slots
 *
 *   s_ij     = scale * q_i . k_j            scale = 1/sqrt(hd), per head
 *   p_ij     = softmax_j(s_ij) over the keys query i reads
 *   out_i    = sum_j p_ij v_j
 *
 *   dilated key set of query i: key i - off(s) for slots 0 <= s < S with off(s) <= i, where
 *     off(s) = s                       for s <  w     (the dense local window i, i-1, .., i-w+1)
 *     off(s) = 2^(m0 + s - w)          for s >= w     (m0 = smallest m with 2^m >= w)
 *   i.e. {i-k : 0 <= k < w} U {i - 2^m : 2^m >= w, 2^m <= i}; w = 1 gives i, i-1, i-2, i-4, ...
 *   S = dilatedSlots(w, Pmax) covers every offset a query can use; larger S only adds masked slots.
 *
 *   backward (ACCUMULATES into dq, dk, dv), with D_i = dout_i . out_i  (= sum_j p_ij dp_ij):
 *   dp_ij = dout_i . v_j
 *   ds_ij = p_ij (dp_ij - D_i)
 *   dq_i += scale sum_j ds_ij k_j          unit: (b, query i, head h)
 *   dk_j += scale sum_i ds_ij q_i          unit: (b, key j, head h), a GATHER over the queries
 *   dv_j +=       sum_i p_ij dout_i           that read key j (dilated: i = j + off(s), same slot s)
 * </pre>
 *
 * Each unit writes only its own row slice (out/dq row i or dk/dv row j, head h) and the att row it
 * owns, summing in a fixed order, so no atomics are needed and results do not depend on how units
 * are spread over threads. D_i is recomputed from the saved output instead of stored, so the dq
 * and dk/dv units are independent and can run in either order.
 */
public final class Attention {
    private Attention() {}

    /** 1/sqrt(hd), computed the same way by every unit. */
    public static float scale(int hd) {
        return 1.0f / (float) Math.sqrt(hd);
    }

    /** 2^m0, the smallest power of two >= w (w >= 1). */
    public static int firstDilatedOffset(int w) {
        int p2 = 1;
        while (p2 < w) {
            p2 = p2 * 2;
        }
        return p2;
    }

    /** The key offset of slot s: s inside the window, then powers of two from 2^m0 on. */
    public static int dilatedOffset(int s, int w) {
        if (s < w) {
            return s;
        }
        return firstDilatedOffset(w) << (s - w);
    }

    /** S: slots needed so that every offset usable by a query below P (offset <= P-1) has one. */
    public static int dilatedSlots(int w, int P) {
        int s = w;
        int off = firstDilatedOffset(w);
        while (off <= P - 1) {
            s++;
            off = off * 2;
        }
        return s;
    }

    // ---------------------------------------------------------------- dense causal

    /** One (sequence b, query i, head h): att[b,h,i,:] and out row i, head h. */
    public static void denseForward(float[] out, int outOff, float[] att, int attOff,
                                    float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                    int P, int H, int hd, int b, int i, int h) {
        int C = H * hd;
        float scale = scale(hd);
        int qr = qOff + (b * P + i) * C + h * hd;
        int ar = attOff + ((b * H + h) * P + i) * P;
        float max = -Float.MAX_VALUE;
        for (int j = 0; j <= i; j++) {
            int kr = kOff + (b * P + j) * C + h * hd;
            float dot = 0f;
            for (int d = 0; d < hd; d++) {
                dot += q[qr + d] * k[kr + d];
            }
            float sc = dot * scale;
            att[ar + j] = sc;
            max = Math.max(max, sc);
        }
        float sum = 0f;
        for (int j = 0; j <= i; j++) {
            float e = (float) Math.exp(att[ar + j] - max);
            att[ar + j] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
        for (int j = 0; j <= i; j++) {
            att[ar + j] = att[ar + j] * inv;
        }
        for (int j = i + 1; j < P; j++) {
            att[ar + j] = 0f;
        }
        int orow = outOff + (b * P + i) * C + h * hd;
        for (int d = 0; d < hd; d++) {
            out[orow + d] = 0f;
        }
        for (int j = 0; j <= i; j++) {
            float p = att[ar + j];
            int vr = vOff + (b * P + j) * C + h * hd;
            for (int d = 0; d < hd; d++) {
                out[orow + d] += p * v[vr + d];
            }
        }
    }

    /** One (b, query i, head h): dq_i += scale sum_j ds_ij k_j over keys j <= i. */
    public static void denseBackwardQuery(float[] dq, int dqOff, float[] dout, int doutOff,
                                          float[] k, int kOff, float[] v, int vOff,
                                          float[] out, int outOff, float[] att, int attOff,
                                          int P, int H, int hd, int b, int i, int h) {
        int C = H * hd;
        float scale = scale(hd);
        int ir = (b * P + i) * C + h * hd;
        int ar = attOff + ((b * H + h) * P + i) * P;
        float dsum = 0f;
        for (int d = 0; d < hd; d++) {
            dsum += dout[doutOff + ir + d] * out[outOff + ir + d];
        }
        for (int j = 0; j <= i; j++) {
            int jr = (b * P + j) * C + h * hd;
            float dp = 0f;
            for (int d = 0; d < hd; d++) {
                dp += dout[doutOff + ir + d] * v[vOff + jr + d];
            }
            float ds = att[ar + j] * (dp - dsum) * scale;
            for (int d = 0; d < hd; d++) {
                dq[dqOff + ir + d] += ds * k[kOff + jr + d];
            }
        }
    }

    /** One (b, key j, head h): dk_j and dv_j gathered over the queries i >= j. */
    public static void denseBackwardKey(float[] dk, int dkOff, float[] dv, int dvOff,
                                        float[] dout, int doutOff, float[] q, int qOff,
                                        float[] v, int vOff, float[] out, int outOff,
                                        float[] att, int attOff,
                                        int P, int H, int hd, int b, int j, int h) {
        int C = H * hd;
        float scale = scale(hd);
        int jr = (b * P + j) * C + h * hd;
        for (int i = j; i < P; i++) {
            int ir = (b * P + i) * C + h * hd;
            float p = att[attOff + ((b * H + h) * P + i) * P + j];
            float dp = 0f;
            float dsum = 0f;
            for (int d = 0; d < hd; d++) {
                float g = dout[doutOff + ir + d];
                dp += g * v[vOff + jr + d];
                dsum += g * out[outOff + ir + d];
            }
            float ds = p * (dp - dsum) * scale;
            for (int d = 0; d < hd; d++) {
                dk[dkOff + jr + d] += ds * q[qOff + ir + d];
                dv[dvOff + jr + d] += p * dout[doutOff + ir + d];
            }
        }
    }

    // ---------------------------------------------------------------- sparse dilated

    /** One (sequence b, query i, head h) over the S slots of window w: att[b,h,i,:] and out row i. */
    public static void dilatedForward(float[] out, int outOff, float[] att, int attOff,
                                      float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                      int P, int H, int hd, int w, int S, int b, int i, int h) {
        int C = H * hd;
        float scale = scale(hd);
        int qr = qOff + (b * P + i) * C + h * hd;
        int ar = attOff + ((b * H + h) * P + i) * S;
        float max = -Float.MAX_VALUE;
        for (int s = 0; s < S; s++) {
            int off = dilatedOffset(s, w);
            if (off <= i) {
                int kr = kOff + (b * P + i - off) * C + h * hd;
                float dot = 0f;
                for (int d = 0; d < hd; d++) {
                    dot += q[qr + d] * k[kr + d];
                }
                float sc = dot * scale;
                att[ar + s] = sc;
                max = Math.max(max, sc);
            }
        }
        float sum = 0f;
        for (int s = 0; s < S; s++) {
            if (dilatedOffset(s, w) <= i) {
                float e = (float) Math.exp(att[ar + s] - max);
                att[ar + s] = e;
                sum += e;
            } else {
                att[ar + s] = 0f;
            }
        }
        float inv = 1.0f / sum;
        for (int s = 0; s < S; s++) {
            att[ar + s] = att[ar + s] * inv;
        }
        int orow = outOff + (b * P + i) * C + h * hd;
        for (int d = 0; d < hd; d++) {
            out[orow + d] = 0f;
        }
        for (int s = 0; s < S; s++) {
            int off = dilatedOffset(s, w);
            if (off <= i) {
                float p = att[ar + s];
                int vr = vOff + (b * P + i - off) * C + h * hd;
                for (int d = 0; d < hd; d++) {
                    out[orow + d] += p * v[vr + d];
                }
            }
        }
    }

    /** One (b, query i, head h): dq_i += scale sum_s ds_is k_(i-off(s)). */
    public static void dilatedBackwardQuery(float[] dq, int dqOff, float[] dout, int doutOff,
                                            float[] k, int kOff, float[] v, int vOff,
                                            float[] out, int outOff, float[] att, int attOff,
                                            int P, int H, int hd, int w, int S, int b, int i, int h) {
        int C = H * hd;
        float scale = scale(hd);
        int ir = (b * P + i) * C + h * hd;
        int ar = attOff + ((b * H + h) * P + i) * S;
        float dsum = 0f;
        for (int d = 0; d < hd; d++) {
            dsum += dout[doutOff + ir + d] * out[outOff + ir + d];
        }
        for (int s = 0; s < S; s++) {
            int off = dilatedOffset(s, w);
            if (off <= i) {
                int jr = (b * P + i - off) * C + h * hd;
                float dp = 0f;
                for (int d = 0; d < hd; d++) {
                    dp += dout[doutOff + ir + d] * v[vOff + jr + d];
                }
                float ds = att[ar + s] * (dp - dsum) * scale;
                for (int d = 0; d < hd; d++) {
                    dq[dqOff + ir + d] += ds * k[kOff + jr + d];
                }
            }
        }
    }

    /**
     * One (b, key j, head h): dk_j and dv_j gathered over the queries that read key j, which are
     * i = j + off(s) (slot s of query i) for i < P.
     */
    public static void dilatedBackwardKey(float[] dk, int dkOff, float[] dv, int dvOff,
                                          float[] dout, int doutOff, float[] q, int qOff,
                                          float[] v, int vOff, float[] out, int outOff,
                                          float[] att, int attOff,
                                          int P, int H, int hd, int w, int S, int b, int j, int h) {
        int C = H * hd;
        float scale = scale(hd);
        int jr = (b * P + j) * C + h * hd;
        for (int s = 0; s < S; s++) {
            int i = j + dilatedOffset(s, w);
            if (i < P) {
                int ir = (b * P + i) * C + h * hd;
                float p = att[attOff + ((b * H + h) * P + i) * S + s];
                float dp = 0f;
                float dsum = 0f;
                for (int d = 0; d < hd; d++) {
                    float g = dout[doutOff + ir + d];
                    dp += g * v[vOff + jr + d];
                    dsum += g * out[outOff + ir + d];
                }
                float ds = p * (dp - dsum) * scale;
                for (int d = 0; d < hd; d++) {
                    dk[dkOff + jr + d] += ds * q[qOff + ir + d];
                    dv[dvOff + jr + d] += p * dout[doutOff + ir + d];
                }
            }
        }
    }
}
