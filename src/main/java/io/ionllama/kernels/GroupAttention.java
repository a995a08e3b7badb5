package io.ionllama.kernels;

/**
 * Non-causal multi-head attention inside fixed groups of G consecutive positions (tokun's blocks,
 * seed 004): every position of a group reads every position of its group, and nothing outside it.
 * With G = the whole sequence this is plain bidirectional attention; the groups are what keep
 * tokun's cost linear in the input length.
 *
 * <pre>
 *   q, k, v, out  [N*G, C]    C = H*hd, row g*G+i is position i of group g, head-major [H, hd]
 *   att           [N, H, G, G] probabilities, att[g,h,i,j] for every i, j of group g
 *
 *   s_ij   = scale * q_i . k_j          scale = 1/sqrt(hd), i, j in the same group
 *   p_ij   = softmax_j(s_ij)            over all G keys of the group (no mask)
 *   out_i  = sum_j p_ij v_j
 *
 *   backward (ACCUMULATES into dq, dk, dv), with D_i = dout_i . out_i  (= sum_j p_ij dp_ij):
 *   dp_ij = dout_i . v_j
 *   ds_ij = p_ij (dp_ij - D_i)
 *   dq_i += scale sum_j ds_ij k_j          unit: (group g, query i, head h)
 *   dk_j += scale sum_i ds_ij q_i          unit: (group g, key j, head h), a GATHER over the
 *   dv_j +=       sum_i p_ij dout_i              group's G queries
 * </pre>
 *
 * The same contract as {@link Attention}: each unit writes only its own row slice and att row,
 * sums in a fixed order (no atomics, bits independent of the thread count), and D_i is recomputed
 * from the saved output so the query and key units are independent.
 */
public final class GroupAttention {
    private GroupAttention() {}

    /** One (group g, query i, head h): att[g,h,i,:] and out row g*G+i, head h. */
    public static void forward(float[] out, int outOff, float[] att, int attOff,
                               float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                               int G, int H, int hd, int g, int i, int h) {
        int C = H * hd;
        float scale = Attention.scale(hd);
        int qr = qOff + (g * G + i) * C + h * hd;
        int ar = attOff + ((g * H + h) * G + i) * G;
        float max = -Float.MAX_VALUE;
        for (int j = 0; j < G; j++) {
            int kr = kOff + (g * G + j) * C + h * hd;
            float dot = 0f;
            for (int d = 0; d < hd; d++) {
                dot += q[qr + d] * k[kr + d];
            }
            float sc = dot * scale;
            att[ar + j] = sc;
            max = Math.max(max, sc);
        }
        float sum = 0f;
        for (int j = 0; j < G; j++) {
            float e = (float) Math.exp(att[ar + j] - max);
            att[ar + j] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
        for (int j = 0; j < G; j++) {
            att[ar + j] = att[ar + j] * inv;
        }
        int orow = outOff + (g * G + i) * C + h * hd;
        for (int d = 0; d < hd; d++) {
            out[orow + d] = 0f;
        }
        for (int j = 0; j < G; j++) {
            float p = att[ar + j];
            int vr = vOff + (g * G + j) * C + h * hd;
            for (int d = 0; d < hd; d++) {
                out[orow + d] += p * v[vr + d];
            }
        }
    }

    /** One (g, query i, head h): dq_i += scale sum_j ds_ij k_j over the group's keys. */
    public static void backwardQuery(float[] dq, int dqOff, float[] dout, int doutOff,
                                     float[] k, int kOff, float[] v, int vOff,
                                     float[] out, int outOff, float[] att, int attOff,
                                     int G, int H, int hd, int g, int i, int h) {
        int C = H * hd;
        float scale = Attention.scale(hd);
        int ir = (g * G + i) * C + h * hd;
        int ar = attOff + ((g * H + h) * G + i) * G;
        float dsum = 0f;
        for (int d = 0; d < hd; d++) {
            dsum += dout[doutOff + ir + d] * out[outOff + ir + d];
        }
        for (int j = 0; j < G; j++) {
            int jr = (g * G + j) * C + h * hd;
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

    /** One (g, key j, head h): dk_j and dv_j gathered over the group's G queries. */
    public static void backwardKey(float[] dk, int dkOff, float[] dv, int dvOff,
                                   float[] dout, int doutOff, float[] q, int qOff,
                                   float[] v, int vOff, float[] out, int outOff,
                                   float[] att, int attOff,
                                   int G, int H, int hd, int g, int j, int h) {
        int C = H * hd;
        float scale = Attention.scale(hd);
        int jr = (g * G + j) * C + h * hd;
        for (int i = 0; i < G; i++) {
            int ir = (g * G + i) * C + h * hd;
            float p = att[attOff + ((g * H + h) * G + i) * G + j];
            float dp = 0f;
            float dsum = 0f;
            for (int d = 0; d < hd; d++) {
                float gr = dout[doutOff + ir + d];
                dp += gr * v[vOff + jr + d];
                dsum += gr * out[outOff + ir + d];
            }
            float ds = p * (dp - dsum) * scale;
            for (int d = 0; d < hd; d++) {
                dk[dkOff + jr + d] += ds * q[qOff + ir + d];
                dv[dvOff + jr + d] += p * dout[doutOff + ir + d];
            }
        }
    }
}
