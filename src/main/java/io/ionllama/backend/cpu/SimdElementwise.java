package io.ionllama.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API versions of the elementwise ops with transcendentals (SwiGLU and the
 * IntegralLNN gate, SiLU and softplus inside them) and of the row-major weight-gradient reductions, for {@link CpuBackend}.
 * The scalar units in {@code io.ionllama.kernels} stay the reference: these are tested against
 * them with a tolerance (a few float ulps: exp and log1p here are polynomials, not
 * {@code Math.exp}).
 *
 * <pre>
 *   exp(x)      x = n ln2 + r, |r| <= ln2/2 (Cody-Waite), e^r by a degree-7 polynomial (Cephes
 *               expf), times 2^n built in the exponent bits as 2^(n/2) 2^(n - n/2) so that
 *               subnormal results and +inf come out right; x clamped to [-104, 89]
 *   log1p(t)    t in [0, 1]: 2 atanh(t / (2 + t)) as t u (1 + w/3 + w^2/5 + ... + w^7/15),
 *               u = 2 / (2 + t), w = (t u / 2)^2 <= 1/9 (no division of a tiny t, so it
 *               stays relatively accurate down to subnormals)
 *   sigmoid(x)  e = exp(-|x|);  1 / (1 + e) for x >= 0, e / (1 + e) otherwise (never overflows)
 *   softplus(x) max(x, 0) + log1p(exp(-|x|))
 * </pre>
 *
 * <p>Determinism: only IEEE add, multiply, fma, divide, min/max, compares and integer bit
 * operations, all lane by lane, and each function has a scalar twin ({@code expLane}, ...) doing
 * the very same operations on one float, which computes the tail of a range that does not fill
 * a vector (tested bit for bit against the lanes). So an element's result depends on its own
 * inputs only, never on where a range starts or which thread runs it; and these operations give
 * the same bits in the interpreter and in compiled code, unlike {@code VectorOperators.EXP},
 * whose compiled (SVML) and fallback ({@code Math.exp}) results may differ. Results are
 * bit-identical for any thread count and any JIT state.
 *
 * <p>Why the scalar tails (not masked vector tails): a second copy of the vector math in a loop
 * pushes C2 past its inlining node budget, and a vector function left out of line boxes its
 * vectors (allocation on every call).
 *
 * <p>The weight-gradient reductions (RMSNorm dw, the gate's dλ) walk rows in order and keep one
 * accumulator per channel in a vector lane: each channel sums exactly the terms the scalar unit
 * sums, in the same order with the same operations, but reads whole rows (contiguous) instead of
 * one channel down a column (stride C). RMSNorm's dw is therefore bit-identical to
 * {@code Norms.rmsNormBackwardWeightCell}.
 *
 * <p>Loaded only when {@link SimdSupport#available()} is true.
 */
final class SimdElementwise {
    private SimdElementwise() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int VL = S.length();

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits. */
    private static final float ROUNDER = 12582912f;
    private static final int ROUNDER_BITS = 0x4B40_0000;

    // ---------------------------------------------------------------- vector functions

    private static final float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f,
            P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    /** e^x lane by lane, relative error about 1e-7; 0 (or the nearest subnormal) below -103. */
    static FloatVector exp(FloatVector x) {
        x = x.max(-104f).min(89f);
        FloatVector t = x.fma(LOG2E, ROUNDER);
        FloatVector n = t.sub(ROUNDER);
        FloatVector r = n.fma(FloatVector.broadcast(S, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector p = r.fma(P0, P1);
        p = p.fma(r, FloatVector.broadcast(S, P2));
        p = p.fma(r, FloatVector.broadcast(S, P3));
        p = p.fma(r, FloatVector.broadcast(S, P4));
        p = p.fma(r, FloatVector.broadcast(S, P5));
        p = p.mul(r.mul(r)).add(r).add(1f);
        IntVector ni = t.reinterpretAsInts().sub(ROUNDER_BITS);
        IntVector n1 = ni.lanewise(VectorOperators.ASHR, 1);
        IntVector n2 = ni.sub(n1);
        FloatVector s1 = n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = n2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return p.mul(s1).mul(s2);
    }

    /**
     * e^x for x <= 0, the softmax's arguments once the row's max is subtracted: exp's reduction and
     * polynomial with one clamp, at -87, as a compare and a blend (Java's max is several
     * instructions a lane), and one scale 2^n (n >= -126 is a normal float): about two thirds of
     * exp's operations, the same relative error over [-87, 0]. Below -87 it returns e^-87 (1.6e-38),
     * nothing against a softmax sum that holds e^0 = 1. Attention's forward and backward both use
     * it, so the backward's recomputed probabilities are the forward's bits. Written out rather than
     * sharing a helper with exp: a vector passed to or returned from a call C2 does not inline is
     * boxed (CONTRIBUTING).
     */
    static FloatVector expNonPositive(FloatVector x) {
        x = x.blend(-87f, x.lt(-87f));
        FloatVector t = x.fma(LOG2E, ROUNDER);
        FloatVector n = t.sub(ROUNDER);
        FloatVector r = n.fma(FloatVector.broadcast(S, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector p = r.fma(P0, P1);
        p = p.fma(r, FloatVector.broadcast(S, P2));
        p = p.fma(r, FloatVector.broadcast(S, P3));
        p = p.fma(r, FloatVector.broadcast(S, P4));
        p = p.fma(r, FloatVector.broadcast(S, P5));
        p = p.mul(r.mul(r)).add(r).add(1f);
        FloatVector scale = t.reinterpretAsInts().sub(ROUNDER_BITS - 127).lanewise(VectorOperators.LSHL, 23)
                .reinterpretAsFloats();
        return p.mul(scale);
    }

    private static final float Q15 = 1f / 15f, Q13 = 1f / 13f, Q11 = 1f / 11f, Q9 = 1f / 9f, Q7 = 1f / 7f,
            Q5 = 1f / 5f, Q3 = 1f / 3f;

    /** log(1 + t) for t in [0, 1]. */
    static FloatVector log1p01(FloatVector t) {
        FloatVector u = FloatVector.broadcast(S, 2f).div(t.add(2f));
        FloatVector s2 = t.mul(u); // 2 s, s = t / (2 + t)
        FloatVector w = s2.mul(s2).mul(0.25f);
        FloatVector q = w.fma(Q15, Q13);
        q = q.fma(w, FloatVector.broadcast(S, Q11));
        q = q.fma(w, FloatVector.broadcast(S, Q9));
        q = q.fma(w, FloatVector.broadcast(S, Q7));
        q = q.fma(w, FloatVector.broadcast(S, Q5));
        q = q.fma(w, FloatVector.broadcast(S, Q3));
        return s2.fma(q.mul(w), s2);
    }

    static FloatVector sigmoid(FloatVector x) {
        FloatVector e = exp(x.abs().neg());
        FloatVector num = FloatVector.broadcast(S, 1f).blend(e, x.lt(0f));
        return num.div(e.add(1f));
    }

    /**
     * The tests' reference for the vector softplus; the kernels do not call it. Its body is written
     * out at its two call sites (gateExponent, gateBackwardLambda): a vector helper is called once
     * per vector, so it reaches C2's invocation threshold long before its caller's loop does and
     * gets its own nmethod first; exp and log1p01 together made that nmethod bigger than
     * InlineSmallCode, and C2 then refused to inline it into the loops ("already compiled into a
     * big method"), so every call boxed its argument and result: about 1.2 MB per round of
     * SimdElementwiseTest.steadyStateAllocatesNothing with -XX:-TieredCompilation. exp, log1p01
     * and sigmoid alone stay under that limit. Keep vector-valued helpers that small: loops over
     * arrays may be compiled on their own, vector-valued functions must always inline.
     */
    static FloatVector softplus(FloatVector x) {
        return x.max(0f).add(log1p01(exp(x.abs().neg())));
    }

    // ---------------------------------------------------------------- their scalar twins (tails)

    static float expLane(float x) {
        x = Math.min(Math.max(x, -104f), 89f);
        float t = Math.fma(x, LOG2E, ROUNDER);
        float n = t - ROUNDER;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(r, P0, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        p = p * (r * r) + r + 1f;
        int ni = Float.floatToRawIntBits(t) - ROUNDER_BITS;
        int n1 = ni >> 1, n2 = ni - n1;
        return p * Float.intBitsToFloat((n1 + 127) << 23) * Float.intBitsToFloat((n2 + 127) << 23);
    }

    static float log1pLane(float t) {
        float u = 2f / (t + 2f);
        float s2 = t * u;
        float w = s2 * s2 * 0.25f;
        float q = Math.fma(w, Q15, Q13);
        q = Math.fma(q, w, Q11);
        q = Math.fma(q, w, Q9);
        q = Math.fma(q, w, Q7);
        q = Math.fma(q, w, Q5);
        q = Math.fma(q, w, Q3);
        return Math.fma(s2, q * w, s2);
    }

    static float sigmoidLane(float x) {
        float e = expLane(-Math.abs(x));
        return (x < 0f ? e : 1f) / (e + 1f);
    }

    static float softplusLane(float x) {
        return Math.max(x, 0f) + log1pLane(expLane(-Math.abs(x)));
    }

    // ---------------------------------------------------------------- SwiGLU
    //
    // Whole vectors, then the rest of the range element by element through the scalar twins, in
    // the same order of operations.

    /** out = silu(a) * b. */
    static void swigluForward(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int from, int to) {
        int i = from;
        for (; i + VL <= to; i += VL) {
            FloatVector av = FloatVector.fromArray(S, a, aOff + i);
            av.mul(sigmoid(av)).mul(FloatVector.fromArray(S, b, bOff + i)).intoArray(out, outOff + i);
        }
        for (; i < to; i++) {
            float av = a[aOff + i];
            out[outOff + i] = av * sigmoidLane(av) * b[bOff + i];
        }
    }

    /** da += dy * b * silu'(a);  db += dy * silu(a), in the scalar unit's order of operations. */
    static void swigluBackward(float[] da, int daOff, float[] db, int dbOff, float[] dy, int dyOff,
                               float[] a, int aOff, float[] b, int bOff, int from, int to) {
        int i = from;
        for (; i + VL <= to; i += VL) {
            FloatVector av = FloatVector.fromArray(S, a, aOff + i);
            FloatVector g = FloatVector.fromArray(S, dy, dyOff + i);
            FloatVector s = sigmoid(av);
            FloatVector grad = s.mul(av.mul(s.neg().add(1f)).add(1f));
            g.mul(FloatVector.fromArray(S, b, bOff + i)).mul(grad)
                    .add(FloatVector.fromArray(S, da, daOff + i)).intoArray(da, daOff + i);
            g.mul(av.mul(s)).add(FloatVector.fromArray(S, db, dbOff + i)).intoArray(db, dbOff + i);
        }
        for (; i < to; i++) {
            float av = a[aOff + i], g = dy[dyOff + i], s = sigmoidLane(av);
            da[daOff + i] = g * b[bOff + i] * (s * (av * (-s + 1f) + 1f)) + da[daOff + i];
            db[dbOff + i] = g * (av * s) + db[dbOff + i];
        }
    }

    /**
     * {@link #swigluBackward} into zeroed da and db, written without reading them: the same
     * values (x + 0 = x), a zero may lose its sign. A method of its own, not a flag: each stays
     * small enough for C2 to inline its sigmoid (an exp left out of line boxes; CONTRIBUTING).
     */
    static void swigluBackwardOverwrite(float[] da, int daOff, float[] db, int dbOff, float[] dy, int dyOff,
                                        float[] a, int aOff, float[] b, int bOff, int from, int to) {
        int i = from;
        for (; i + VL <= to; i += VL) {
            FloatVector av = FloatVector.fromArray(S, a, aOff + i);
            FloatVector g = FloatVector.fromArray(S, dy, dyOff + i);
            FloatVector s = sigmoid(av);
            FloatVector grad = s.mul(av.mul(s.neg().add(1f)).add(1f));
            g.mul(FloatVector.fromArray(S, b, bOff + i)).mul(grad).intoArray(da, daOff + i);
            g.mul(av.mul(s)).intoArray(db, dbOff + i);
        }
        for (; i < to; i++) {
            float av = a[aOff + i], g = dy[dyOff + i], s = sigmoidLane(av);
            da[daOff + i] = g * b[bOff + i] * (s * (av * (-s + 1f) + 1f));
            db[dbOff + i] = g * (av * s);
        }
    }

    // ---------------------------------------------------------------- IntegralLNN gate
    //
    // rate[c] = (float) Math.exp(lambda[c]) is computed once per call by the caller, exactly as
    // the scalar unit computes it.

    /**
     * Rows [from, to), first pass of the forward: a = -softplus(z) * rate, the exponent.
     * {@link #expRows} then takes its exp in place. Two methods, called from two tasks, because
     * C2 compiles each task on its own: softplus and a second exp in one compilation exceed its
     * inlining budget, and an exp left out of line boxes its vectors. softplus is written out
     * (see {@link #softplus}).
     */
    static void gateExponent(float[] a, int aOff, float[] z, int zOff, float[] rate, int C, int from, int to) {
        int full = C - C % VL;
        for (int n = from; n < to; n++) {
            int r = n * C;
            for (int c = 0; c < full; c += VL) {
                FloatVector zv = FloatVector.fromArray(S, z, zOff + r + c);
                zv.max(0f).add(log1p01(exp(zv.abs().neg()))).neg().mul(FloatVector.fromArray(S, rate, c))
                        .intoArray(a, aOff + r + c);
            }
            for (int c = full; c < C; c++) {
                a[aOff + r + c] = -softplusLane(z[zOff + r + c]) * rate[c];
            }
        }
    }

    /** Rows [from, to) of C: a = exp(a) in place. */
    static void expRows(float[] a, int aOff, int C, int from, int to) {
        int i = aOff + from * C, end = aOff + to * C;
        for (; i + VL <= end; i += VL) {
            exp(FloatVector.fromArray(S, a, i)).intoArray(a, i);
        }
        for (; i < end; i++) {
            a[i] = expLane(a[i]);
        }
    }

    /** Rows [from, to): dz += da * a * -rate * sigmoid(z). */
    static void gateBackwardInput(float[] dz, int dzOff, float[] da, int daOff, float[] a, int aOff,
                                  float[] z, int zOff, float[] rate, int C, int from, int to) {
        int full = C - C % VL;
        for (int n = from; n < to; n++) {
            int r = n * C;
            for (int c = 0; c < full; c += VL) {
                int i = r + c;
                FloatVector sig = sigmoid(FloatVector.fromArray(S, z, zOff + i));
                FloatVector.fromArray(S, da, daOff + i).mul(FloatVector.fromArray(S, a, aOff + i))
                        .mul(FloatVector.fromArray(S, rate, c).neg()).mul(sig)
                        .add(FloatVector.fromArray(S, dz, dzOff + i)).intoArray(dz, dzOff + i);
            }
            for (int c = full; c < C; c++) {
                int i = r + c;
                dz[dzOff + i] = da[daOff + i] * a[aOff + i] * -rate[c] * sigmoidLane(z[zOff + i]) + dz[dzOff + i];
            }
        }
    }

    /**
     * Channels [c0, c1): dλ[c] += sum over rows n in order of da * a * -softplus(z) * rate, with
     * {@code acc[c0, c1)} as the running sums.
     */
    static void gateBackwardLambda(float[] dLambda, int dlOff, float[] da, int daOff, float[] a, int aOff,
                                   float[] z, int zOff, float[] rate, float[] acc, int rows, int C, int c0, int c1) {
        int full = c1 - (c1 - c0) % VL;
        java.util.Arrays.fill(acc, c0, c1, 0f);
        for (int n = 0; n < rows; n++) {
            int r = n * C;
            for (int c = c0; c < full; c += VL) {
                int i = r + c;
                FloatVector zv = FloatVector.fromArray(S, z, zOff + i);
                FloatVector sp = zv.max(0f).add(log1p01(exp(zv.abs().neg())));
                FloatVector term = FloatVector.fromArray(S, da, daOff + i).mul(FloatVector.fromArray(S, a, aOff + i))
                        .mul(sp.neg()).mul(FloatVector.fromArray(S, rate, c));
                FloatVector.fromArray(S, acc, c).add(term).intoArray(acc, c);
            }
            for (int c = full; c < c1; c++) {
                int i = r + c;
                acc[c] = acc[c] + da[daOff + i] * a[aOff + i] * -softplusLane(z[zOff + i]) * rate[c];
            }
        }
        for (int c = c0; c < c1; c++) {
            dLambda[dlOff + c] += acc[c];
        }
    }

    // ---------------------------------------------------------------- RMSNorm weight gradient

    /**
     * Channels [c0, c1): dw[c] += sum over rows n in order of dy[n,c] * x[n,c] * rstd[n]; the same
     * float operations in the same order as {@code Norms.rmsNormBackwardWeightCell}.
     */
    static void rmsNormBackwardWeight(float[] dw, int dwOff, float[] dy, int dyOff, float[] x, int xOff,
                                      float[] rstd, int rstdOff, float[] acc, int rows, int C, int c0, int c1) {
        int full = c1 - (c1 - c0) % VL;
        java.util.Arrays.fill(acc, c0, c1, 0f);
        for (int n = 0; n < rows; n++) {
            int r = n * C;
            float rs = rstd[rstdOff + n];
            for (int c = c0; c < full; c += VL) {
                FloatVector term = FloatVector.fromArray(S, dy, dyOff + r + c).mul(FloatVector.fromArray(S, x, xOff + r + c)).mul(rs);
                FloatVector.fromArray(S, acc, c).add(term).intoArray(acc, c);
            }
            for (int c = full; c < c1; c++) {
                acc[c] += dy[dyOff + r + c] * x[xOff + r + c] * rs;
            }
        }
        for (int c = c0; c < c1; c++) {
            dw[dwOff + c] += acc[c];
        }
    }

    // ---------------------------------------------------------------- RMSNorm rows

    /**
     * One row of {@code Norms.rmsNormForwardRow}: the sum of squares as one FMA chain per lane
     * over the row's whole vectors, the lanes added in lane order, then the tail (the unit's single
     * chain was latency-bound: a cycle count per row of four times C); then out = x r w. Differs
     * from the unit by rounding only.
     */
    static void rmsNormForwardRow(float[] out, int outOff, float[] rstd, int rstdOff, float[] x, int xOff,
                                  float[] w, int wOff, int C, float eps, int n) {
        int xr = xOff + n * C, ro = outOff + n * C, full = C - C % VL;
        FloatVector acc = FloatVector.zero(S);
        for (int c = 0; c < full; c += VL) {
            FloatVector v = FloatVector.fromArray(S, x, xr + c);
            acc = v.fma(v, acc);
        }
        float ss = 0f;
        for (int l = 0; l < VL; l++) {
            ss += acc.lane(l);
        }
        for (int c = full; c < C; c++) {
            float v = x[xr + c];
            ss += v * v;
        }
        float r = 1f / (float) Math.sqrt(ss / C + eps);
        rstd[rstdOff + n] = r;
        FloatVector vr = FloatVector.broadcast(S, r);
        for (int c = 0; c < full; c += VL) {
            FloatVector.fromArray(S, x, xr + c).mul(vr).mul(FloatVector.fromArray(S, w, wOff + c)).intoArray(out, ro + c);
        }
        for (int c = full; c < C; c++) {
            out[ro + c] = x[xr + c] * r * w[wOff + c];
        }
    }

    /**
     * One row of {@code Norms.rmsNormBackwardInputRow}: dot = sum dy w x in lanes (as the forward's
     * sum of squares), then dx += r (dy w - x k), k = r^2 dot / C. Differs from the unit by rounding.
     */
    static void rmsNormBackwardInputRow(float[] dx, int dxOff, float[] dy, int dyOff, float[] x, int xOff,
                                        float[] w, int wOff, float[] rstd, int rstdOff, int C, int n) {
        int xr = xOff + n * C, dyr = dyOff + n * C, dxr = dxOff + n * C, full = C - C % VL;
        float r = rstd[rstdOff + n];
        FloatVector acc = FloatVector.zero(S);
        for (int c = 0; c < full; c += VL) {
            acc = FloatVector.fromArray(S, dy, dyr + c).mul(FloatVector.fromArray(S, w, wOff + c))
                    .fma(FloatVector.fromArray(S, x, xr + c), acc);
        }
        float dot = 0f;
        for (int l = 0; l < VL; l++) {
            dot += acc.lane(l);
        }
        for (int c = full; c < C; c++) {
            dot += dy[dyr + c] * w[wOff + c] * x[xr + c];
        }
        float k = r * r * dot / C;
        FloatVector vr = FloatVector.broadcast(S, r), vk = FloatVector.broadcast(S, k);
        for (int c = 0; c < full; c += VL) {
            FloatVector t = FloatVector.fromArray(S, dy, dyr + c).mul(FloatVector.fromArray(S, w, wOff + c))
                    .sub(FloatVector.fromArray(S, x, xr + c).mul(vk));
            FloatVector.fromArray(S, dx, dxr + c).add(t.mul(vr)).intoArray(dx, dxr + c);
        }
        for (int c = full; c < C; c++) {
            dx[dxr + c] += r * (dy[dyr + c] * w[wOff + c] - x[xr + c] * k);
        }
    }

    // ---------------------------------------------------------------- RoPE

    /** Lane i takes lane i ^ 1: each interleaved pair (x0, x1) becomes (x1, x0). */
    private static final jdk.incubator.vector.VectorShuffle<Float> PAIR_SWAP =
            jdk.incubator.vector.VectorShuffle.fromOp(S, i -> i ^ 1);

    /**
     * One head of one row of RoPE on interleaved pairs, from tables expanded to the head's width:
     * c2 = (c_0, c_0, c_1, c_1, ...), s2 = (-s_0, s_0, -s_1, s_1, ...) at t. Forward y = x c2 +
     * swap(x) s2, that is (x0 c - x1 s, x1 c + x0 s); backward y += x c2 - swap(x) s2 (with
     * overwrite: y = ...), that is (x0 c + x1 s, x1 c - x0 s): per element the unit's products and sum (negation and the order
     * of two addends change no bits), so the unit's bits. y may be x (forward, in place).
     */
    static void ropeHead(float[] y, int yr, float[] x, int xr, float[] c2, float[] s2, int t, int hd, boolean backward,
                         boolean overwrite) {
        int d = 0;
        for (; d + VL <= hd; d += VL) {
            FloatVector xv = FloatVector.fromArray(S, x, xr + d);
            FloatVector rot = xv.rearrange(PAIR_SWAP).mul(FloatVector.fromArray(S, s2, t + d));
            FloatVector lin = xv.mul(FloatVector.fromArray(S, c2, t + d));
            if (backward && overwrite) {
                lin.sub(rot).intoArray(y, yr + d);
            } else if (backward) {
                FloatVector.fromArray(S, y, yr + d).add(lin.sub(rot)).intoArray(y, yr + d);
            } else {
                lin.add(rot).intoArray(y, yr + d);
            }
        }
        for (; d < hd; d += 2) {
            float c = c2[t + d], sn = s2[t + d + 1], x0 = x[xr + d], x1 = x[xr + d + 1];
            if (backward && overwrite) {
                y[yr + d] = x0 * c + x1 * sn;
                y[yr + d + 1] = x1 * c - x0 * sn;
            } else if (backward) {
                y[yr + d] += x0 * c + x1 * sn;
                y[yr + d + 1] += x1 * c - x0 * sn;
            } else {
                y[yr + d] = x0 * c - x1 * sn;
                y[yr + d + 1] = x0 * sn + x1 * c;
            }
        }
    }

    // ---------------------------------------------------------------- row max, cross-entropy

    /**
     * The largest float of a[o..o+len), len a multiple of VL (-Float.MAX_VALUE for 0): four
     * independent chains of whole vectors (Java's max is a several-instruction sequence a lane; one
     * chain made a softmax's max pass as slow as its exp pass), exact in any order. Loads are the
     * receivers, the loop phis the arguments (SimdAttention's class comment); a float comes back,
     * so no vector crosses the call.
     */
    static float maxOfVectors(float[] a, int o, int len) {
        FloatVector m0 = FloatVector.broadcast(S, -Float.MAX_VALUE), m1 = m0, m2 = m0, m3 = m0;
        int j = 0;
        for (; j + 4 * VL <= len; j += 4 * VL) {
            m0 = FloatVector.fromArray(S, a, o + j).max(m0);
            m1 = FloatVector.fromArray(S, a, o + j + VL).max(m1);
            m2 = FloatVector.fromArray(S, a, o + j + 2 * VL).max(m2);
            m3 = FloatVector.fromArray(S, a, o + j + 3 * VL).max(m3);
        }
        for (; j < len; j += VL) {
            m0 = FloatVector.fromArray(S, a, o + j).max(m0);
        }
        return FloatVector.broadcast(S, -Float.MAX_VALUE).max(m0).max(m1).max(m2).max(m3).reduceLanes(VectorOperators.MAX);
    }

    /**
     * One row of {@code Losses.crossEntropyForwardRow}: the max in four independent chains, exp
     * (the polynomial) and its sum in lanes, probabilities divided by the sum, loss = log(sum) -
     * (logit_t - max) (0 for a target < 0). Differs from the unit (Math.exp, one sequential sum)
     * by rounding; the unit's single max chain and Math.exp per logit were latency- and call-bound.
     */
    static void crossEntropyForwardRow(float[] losses, int lossesOff, float[] probs, int probsOff, float[] logits,
                                       int logitsOff, int[] targets, int targetsOff, int V, int n) {
        int lr = logitsOff + n * V, pr = probsOff + n * V, full = V - V % VL;
        float m = maxOfVectors(logits, lr, full);
        int v = full;
        for (; v < V; v++) {
            m = Math.max(m, logits[lr + v]);
        }
        FloatVector vsum = FloatVector.zero(S);
        for (v = 0; v < full; v += VL) {
            FloatVector e = exp(FloatVector.fromArray(S, logits, lr + v).sub(m));
            e.intoArray(probs, pr + v);
            vsum = e.add(vsum);
        }
        float s = 0f;
        for (int l = 0; l < VL; l++) {
            s += vsum.lane(l);
        }
        for (; v < V; v++) {
            float e = expLane(logits[lr + v] - m);
            probs[pr + v] = e;
            s += e;
        }
        // scalar (SuperWord vectorizes it): Vector API code after the exp loop was inlined late
        // and boxed (SimdAttention.softmaxRow)
        for (v = 0; v < V; v++) {
            probs[pr + v] = probs[pr + v] / s;
        }
        int t = targets[targetsOff + n];
        losses[lossesOff + n] = t >= 0 ? (float) Math.log(s) - (logits[lr + t] - m) : 0f;
    }
}
