package io.ionllama.testing;

import java.util.SplittableRandom;

/** Seeded random tensors and float/double conversions for tests. */
public final class Tensors {
    private Tensors() {}

    public static float[] uniform(SplittableRandom rnd, int n, double lo, double hi) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (lo + (hi - lo) * rnd.nextDouble());
        }
        return a;
    }

    public static float[] gaussian(SplittableRandom rnd, int n, double std) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            // Box-Muller keeps this independent of java.util.Random's state layout.
            double u1 = 1.0 - rnd.nextDouble();
            double u2 = rnd.nextDouble();
            a[i] = (float) (std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
        }
        return a;
    }

    public static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    public static float[] toFloat(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            f[i] = (float) a[i];
        }
        return f;
    }

    /** sum_i r[i] * y[i]: the scalar a gradient check differentiates. */
    public static double dot(double[] r, double[] y) {
        double s = 0;
        for (int i = 0; i < y.length; i++) {
            s += r[i] * y[i];
        }
        return s;
    }

    public static double[] slice(float[] a, int off, int n) {
        double[] d = new double[n];
        for (int i = 0; i < n; i++) {
            d[i] = a[off + i];
        }
        return d;
    }
}
