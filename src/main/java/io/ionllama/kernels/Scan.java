package io.ionllama.kernels;

/**
 * The IntegralLNN linear recurrence, per channel, over B sequences of T steps:
 *
 * <pre>
 *   a, u, h  [B, T, C]  (one layout, one offset: sequence b starts at off = b*T*C)
 *   h[t] = a[t] h[t-1] + (1 - a[t]) u[t],     h[-1] = 0,   a in (0, 1)
 *
 *   backward (dh = dL/dh from above; da, du ACCUMULATE):
 *   g[t]   = dh[t] + a[t+1] g[t+1]            (g[T] = 0)
 *   da[t] += g[t] (h[t-1] - u[t])
 *   du[t] += g[t] (1 - a[t])
 * </pre>
 *
 * Three ways to run it, all with the same per-step arithmetic {@code a*s + (1-a)*u}:
 * <ul>
 *   <li>sequential: {@link #forwardChannel} / {@link #backwardChannel}, one unit per (b, c);
 *       {@link #forwardBlock} / {@link #backwardBlock} step a block of channels together (the
 *       CPU's form: contiguous rows) with exactly the same bits per channel;</li>
 *   <li>chunked (the associative scan, for many threads or a GPU): a step is the affine map
 *       s -> a s + (1-a) u, and maps compose as (a1,b1) then (a2,b2) = (a1 a2, a2 b1 + b2).
 *       With chunks of L steps (nChunks = ceil(T/L), carries [B, nChunks, C] at carryOff = b*nChunks*C):
 *       <ol>
 *         <li>{@link #chunkSummary}: unit (b, chunk, c) composes its chunk from state 0:
 *             carryA = prod a, carryB = the chunk's final state when entered with 0;</li>
 *         <li>{@link #chunkCarry}: unit (b, c), sequential over chunks: replaces carryB[k] by the
 *             state entering chunk k (s_0 = 0, s_(k+1) = carryA[k] s_k + carryB[k]);</li>
 *         <li>{@link #chunkApply}: unit (b, chunk, c) reruns the chunk from that state.</li>
 *       </ol>
 *       Nothing divides by a running product of a (that overflows float within a few dozen steps
 *       once a &lt; 0.25), and chunk k's carry depends only on chunks before it, so h[t] never
 *       depends on inputs after t, bit for bit. L = 1 reproduces the sequential bits exactly, as
 *       does L &gt;= T; other L agree to rounding.</li>
 *   <li>generation: {@link #step}, one step of one channel in place.</li>
 * </ul>
 * The chunked backward is the same three phases run right to left over the quantity passed
 * between steps, c[t] = a[t] g[t] (so g[t] = dh[t] + c[t+1]): chunk k maps its incoming c
 * (from chunk k+1) to its outgoing c by c_out = (prod a) c_in + (its value from c_in = 0).
 */
public final class Scan {
    private Scan() {}

    /** ceil(T / L). */
    public static int chunkCount(int T, int L) {
        return (T + L - 1) / L;
    }

    /** One step of one channel in place: h = a h + (1 - a) u, for generation. */
    public static void step(float[] h, int hOff, float[] a, int aOff, float[] u, int uOff, int C, int c) {
        float at = a[aOff + c];
        h[hOff + c] = at * h[hOff + c] + (1f - at) * u[uOff + c];
    }

    // ---------------------------------------------------------------- forward

    /** One (sequence, channel): the whole recurrence, sequentially. off = b*T*C. */
    public static void forwardChannel(float[] h, float[] a, float[] u, int off, int T, int C, int c) {
        float s = 0f;
        for (int t = 0; t < T; t++) {
            int x = off + t * C + c;
            float at = a[x];
            s = at * s + (1f - at) * u[x];
            h[x] = s;
        }
    }

    /**
     * Channels [c0, c1) of one sequence, step by step with the channels innermost: the CPU's form
     * (contiguous rows, vectorizable). Each channel gets exactly {@link #forwardChannel}'s bits.
     */
    public static void forwardBlock(float[] h, float[] a, float[] u, int off, int T, int C, int c0, int c1) {
        if (T <= 0) {
            return;
        }
        for (int c = c0; c < c1; c++) {
            int x = off + c;
            float at = a[x];
            h[x] = at * 0f + (1f - at) * u[x];
        }
        for (int t = 1; t < T; t++) {
            int row = off + t * C;
            for (int c = c0; c < c1; c++) {
                int x = row + c;
                float at = a[x];
                h[x] = at * h[x - C] + (1f - at) * u[x];
            }
        }
    }

    /** Phase 1, one (sequence, chunk, channel): the chunk's composed map (prod a, state from 0). */
    public static void chunkSummary(float[] carryA, float[] carryB, float[] a, float[] u,
                                    int off, int carryOff, int T, int C, int L, int chunk, int c) {
        int from = chunk * L;
        int to = Math.min(T, from + L);
        float prod = 1f;
        float s = 0f;
        for (int t = from; t < to; t++) {
            int x = off + t * C + c;
            float at = a[x];
            s = at * s + (1f - at) * u[x];
            prod = prod * at;
        }
        carryA[carryOff + chunk * C + c] = prod;
        carryB[carryOff + chunk * C + c] = s;
    }

    /** Phase 2, one (sequence, channel): carryB[k] becomes the state entering chunk k. */
    public static void chunkCarry(float[] carryA, float[] carryB, int carryOff, int nChunks, int C, int c) {
        float s = 0f;
        for (int k = 0; k < nChunks; k++) {
            int x = carryOff + k * C + c;
            float next = carryA[x] * s + carryB[x];
            carryB[x] = s;
            s = next;
        }
    }

    /** Phase 3, one (sequence, chunk, channel): h over the chunk, from its incoming state. */
    public static void chunkApply(float[] h, float[] a, float[] u, float[] carryB,
                                  int off, int carryOff, int T, int C, int L, int chunk, int c) {
        int from = chunk * L;
        int to = Math.min(T, from + L);
        float s = carryB[carryOff + chunk * C + c];
        for (int t = from; t < to; t++) {
            int x = off + t * C + c;
            float at = a[x];
            s = at * s + (1f - at) * u[x];
            h[x] = s;
        }
    }

    // ---------------------------------------------------------------- backward

    /** One (sequence, channel): the reverse recurrence, sequentially; da, du accumulate. */
    public static void backwardChannel(float[] da, float[] du, float[] dh, float[] h, float[] a, float[] u,
                                       int off, int T, int C, int c) {
        float carry = 0f;
        for (int t = T - 1; t >= 0; t--) {
            int x = off + t * C + c;
            float at = a[x];
            float g = dh[x] + carry;
            float prev = t > 0 ? h[x - C] : 0f;
            da[x] += g * (prev - u[x]);
            du[x] += g * (1f - at);
            carry = at * g;
        }
    }

    /**
     * Channels [c0, c1) of one sequence, steps outermost (the CPU's form); {@code carry} is scratch
     * holding a[t+1] g[t+1] per channel at carry[carryOff + c]. Each channel gets exactly
     * {@link #backwardChannel}'s bits.
     */
    public static void backwardBlock(float[] da, float[] du, float[] dh, float[] h, float[] a, float[] u,
                                     float[] carry, int carryOff, int off, int T, int C, int c0, int c1) {
        for (int c = c0; c < c1; c++) {
            carry[carryOff + c] = 0f;
        }
        for (int t = T - 1; t >= 0; t--) {
            int row = off + t * C;
            for (int c = c0; c < c1; c++) {
                int x = row + c;
                float at = a[x];
                float g = dh[x] + carry[carryOff + c];
                float prev = t > 0 ? h[x - C] : 0f;
                da[x] += g * (prev - u[x]);
                du[x] += g * (1f - at);
                carry[carryOff + c] = at * g;
            }
        }
    }

    /** Backward phase 1, one (sequence, chunk, channel): (prod a, outgoing c from incoming 0). */
    public static void chunkBackwardSummary(float[] carryA, float[] carryB, float[] dh, float[] a,
                                            int off, int carryOff, int T, int C, int L, int chunk, int c) {
        int from = chunk * L;
        int to = Math.min(T, from + L);
        float prod = 1f;
        float carry = 0f;
        for (int t = to - 1; t >= from; t--) {
            int x = off + t * C + c;
            float at = a[x];
            carry = at * (dh[x] + carry);
            prod = prod * at;
        }
        carryA[carryOff + chunk * C + c] = prod;
        carryB[carryOff + chunk * C + c] = carry;
    }

    /** Backward phase 2, one (sequence, channel), right to left: carryB[k] becomes c entering chunk k. */
    public static void chunkBackwardCarry(float[] carryA, float[] carryB, int carryOff, int nChunks, int C, int c) {
        float s = 0f;
        for (int k = nChunks - 1; k >= 0; k--) {
            int x = carryOff + k * C + c;
            float next = carryA[x] * s + carryB[x];
            carryB[x] = s;
            s = next;
        }
    }

    /** Backward phase 3, one (sequence, chunk, channel): da, du over the chunk from its incoming c. */
    public static void chunkBackwardApply(float[] da, float[] du, float[] dh, float[] h, float[] a, float[] u,
                                          float[] carryB, int off, int carryOff, int T, int C, int L,
                                          int chunk, int c) {
        int from = chunk * L;
        int to = Math.min(T, from + L);
        float carry = carryB[carryOff + chunk * C + c];
        for (int t = to - 1; t >= from; t--) {
            int x = off + t * C + c;
            float at = a[x];
            float g = dh[x] + carry;
            float prev = t > 0 ? h[x - C] : 0f;
            da[x] += g * (prev - u[x]);
            du[x] += g * (1f - at);
            carry = at * g;
        }
    }
}
