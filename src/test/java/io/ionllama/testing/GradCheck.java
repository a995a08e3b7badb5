package io.ionllama.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.function.ToDoubleFunction;

/**
 * Central finite differences in double precision, and the comparison rule every gradient test
 * uses.
 *
 * <p>The pattern: a test writes a plain double-precision reference of the op's forward pass
 * (obviously correct loops), projects its output onto a fixed random direction {@code r} to get a
 * scalar {@code L = sum(r * f(x))}, and compares {@code dL/dx} from the float backward kernel (run
 * with {@code dy = r}) against {@link #numeric} of the double reference. The reference being double
 * keeps the difference quotient exact to ~1e-9, so the stated tolerances measure only the float
 * kernel's rounding.
 */
public final class GradCheck {
    private GradCheck() {}

    /** The default step: small enough for O(h^2) truncation ~1e-10, large enough for double rounding. */
    public static final double EPS = 1e-5;

    /** d f / d p[i] for every i by central differences; restores {@code p}. */
    public static double[] numeric(ToDoubleFunction<double[]> f, double[] p) {
        return numeric(f, p, EPS);
    }

    public static double[] numeric(ToDoubleFunction<double[]> f, double[] p, double eps) {
        double[] g = new double[p.length];
        for (int i = 0; i < p.length; i++) {
            double keep = p[i];
            p[i] = keep + eps;
            double up = f.applyAsDouble(p);
            p[i] = keep - eps;
            double down = f.applyAsDouble(p);
            p[i] = keep;
            g[i] = (up - down) / (2 * eps);
        }
        return g;
    }

    /**
     * The worst violation of {@code |a - n| <= atol + rtol * max(|a|, |n|)}, as a ratio: at most 1
     * means every entry passes.
     */
    public static double worstRatio(float[] analytic, int off, double[] numeric, double rtol, double atol) {
        double worst = 0;
        for (int i = 0; i < numeric.length; i++) {
            double a = analytic[off + i];
            double n = numeric[i];
            double allowed = atol + rtol * Math.max(Math.abs(a), Math.abs(n));
            worst = Math.max(worst, Math.abs(a - n) / allowed);
            if (Double.isNaN(a) || Double.isNaN(n)) {
                return Double.POSITIVE_INFINITY;
            }
        }
        return worst;
    }

    public static boolean matches(float[] analytic, int off, double[] numeric, double rtol, double atol) {
        return worstRatio(analytic, off, numeric, rtol, atol) <= 1.0;
    }

    public static boolean matches(float[] analytic, double[] numeric, double rtol, double atol) {
        return matches(analytic, 0, numeric, rtol, atol);
    }

    /** Asserts agreement, naming the tensor and the first offending entry on failure. */
    public static void assertMatches(String what, float[] analytic, int off, double[] numeric, double rtol, double atol) {
        for (int i = 0; i < numeric.length; i++) {
            double a = analytic[off + i];
            double n = numeric[i];
            double allowed = atol + rtol * Math.max(Math.abs(a), Math.abs(n));
            assertThat(Math.abs(a - n))
                    .as("%s[%d]: analytic %.8g vs numeric %.8g (rtol %.1g, atol %.1g)", what, i, a, n, rtol, atol)
                    .isLessThanOrEqualTo(allowed);
        }
    }

    public static void assertMatches(String what, float[] analytic, double[] numeric, double rtol, double atol) {
        assertMatches(what, analytic, 0, numeric, rtol, atol);
    }

    /** Forward outputs: float kernel vs double reference. */
    public static void assertClose(String what, float[] actual, int off, double[] expected, double rtol, double atol) {
        assertMatches(what, actual, off, expected, rtol, atol);
    }

    public static void assertClose(String what, float[] actual, double[] expected, double rtol, double atol) {
        assertMatches(what, actual, 0, expected, rtol, atol);
    }
}
