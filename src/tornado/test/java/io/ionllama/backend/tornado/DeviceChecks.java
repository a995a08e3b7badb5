package io.ionllama.backend.tornado;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Shared by the TornadoVM tests: whether TornadoVM is here, and the device-vs-CPU comparison.
 *
 * <p>Tolerance (docs/gpu.md, pitfall 9): the device compiles {@code acc += a*b} to {@code fma}
 * and its {@code sqrt} and division may differ from Java's in the last bit, so device and CPU
 * agree only up to rounding. Each test states a per-element bound
 * {@code |device - cpu| <= rtol * scale[i]}, where {@code scale} is the size of what was summed
 * (usually the same op run on the absolute values of its inputs: the standard bound on a float
 * sum's rounding error). Everything outside the written slice must be untouched, bit for bit.
 */
final class DeviceChecks {
    private DeviceChecks() {}

    /** Null when TornadoVM runs here with a device; else why not. */
    static final String WHY = TornadoBackend.unavailableReason();

    static final String SKIP = "TornadoVM runtime not present: run scripts/test with TORNADOVM_HOME set";

    /** Whole-model gradients compared tensor by tensor: the first element of each tensor past the bound, and the worst ratio. */
    record GradientCheck(java.util.List<String> failures, double worst) {}

    /**
     * Compares {@code device} with {@code cpu} gradients tensor by tensor: each element within
     * {@code rtol} of its tensor's largest |gradient| (the scale of the sums behind it). Lists the
     * first element of each tensor past that, and the worst |difference| / max |gradient|.
     */
    static GradientCheck gradients(io.ionllama.model.ParamLayout layout, float[] device, float[] cpu, double rtol) {
        java.util.List<String> failures = new java.util.ArrayList<>();
        double worst = 0;
        for (io.ionllama.model.ParamLayout.Tensor t : layout.tensors()) {
            double max = 0;
            for (int i = t.off(); i < t.off() + t.size(); i++) {
                max = Math.max(max, Math.abs(cpu[i]));
            }
            for (int i = t.off(); i < t.off() + t.size(); i++) {
                double d = Math.abs(device[i] - cpu[i]);
                worst = Math.max(worst, max == 0 ? 0 : d / max);
                if (d > rtol * max + Float.MIN_NORMAL) {
                    failures.add(String.format("%s[%d]: device %.8g cpu %.8g (max |grad| %.3g)", t.name(), i - t.off(),
                            device[i], cpu[i], max));
                    break;
                }
            }
        }
        return new GradientCheck(failures, worst);
    }

    static float[] abs(float[] a) {
        float[] c = a.clone();
        for (int i = 0; i < c.length; i++) {
            c[i] = Math.abs(c[i]);
        }
        return c;
    }

    /** max |a[i]| over [off, off+len), as a scale for every element: for outputs that are averages or sums of similar terms. */
    static float[] maxScale(float[] a, int off, int len) {
        float m = 0f;
        for (int i = off; i < off + len; i++) {
            m = Math.max(m, Math.abs(a[i]));
        }
        float[] s = new float[a.length];
        java.util.Arrays.fill(s, m);
        return s;
    }

    /**
     * Scale for an accumulated gradient: |before[i]| (what was there, added with one rounding)
     * plus the largest increment the CPU added anywhere in the slice. Chained sums of products
     * whose terms cancel (attention's p (dp - D)) have no tighter per-element bound that is cheap
     * to state; an error in a kernel shows up far above 1e-5 of the largest increment.
     */
    static float[] gradScale(float[] before, float[] cpuAfter, int off, int len) {
        float m = 0f;
        for (int i = off; i < off + len; i++) {
            m = Math.max(m, Math.abs(cpuAfter[i] - before[i]));
        }
        float[] s = new float[before.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = Math.abs(before[i]) + m;
        }
        return s;
    }

    /** Device vs CPU inside [off, off+len) up to {@code rtol * scale[i]}; bit-equal outside it. */
    static void assertMatchesCpu(String what, float[] dev, float[] ref, float[] scale, double rtol, int off, int len) {
        assertThat(dev).hasSameSizeAs(ref);
        for (int i = 0; i < dev.length; i++) {
            if (i < off || i >= off + len) {
                assertThat(dev[i]).as("%s[%d] lies outside the slice [%d, %d) and must be untouched", what, i, off, off + len)
                        .isEqualTo(ref[i]);
            } else {
                double allowed = rtol * scale[i] + Float.MIN_NORMAL;
                assertThat((double) Math.abs(dev[i] - ref[i]))
                        .as("%s[%d]: device %.9g vs cpu %.9g (allowed %.3g)", what, i - off, dev[i], ref[i], allowed)
                        .isLessThanOrEqualTo(allowed);
            }
        }
    }

    /** Every op listed ran on the device: executed, and the device's own event timer measured its kernels. */
    static void assertRanOnDevice(TornadoBackend device, String... ops) {
        assertThat(System.getProperty("tornado.recover.bailout")).as("tests must run with -Dtornado.recover.bailout=False")
                .isEqualToIgnoringCase("false");
        for (String op : ops) {
            OpStats s = device.stats(op);
            assertThat(s.executions()).as("%s executions", op).isPositive();
            assertThat(s.kernelNanos()).as("%s device kernel time", op).isPositive();
        }
    }

    /** What each moment may differ by: {@link TornadoTrainingTest#assertMomentsMatch}'s bound, 1e-3 of its tensor's largest. */
    static final double MOMENT_RTOL = 1e-3;

    /**
     * How far AdamW's parameters may drift between device and CPU, element by element. Device and
     * CPU gradients agree only to rounding, so the moments agree to {@link #MOMENT_RTOL} of their
     * tensor's largest (checked separately). The update {@code m^ / (sqrt(v^) + eps)} turns a moment
     * difference into an update difference of about {@code dm^ / sqrt(v^) + |m^| dv^ / (2 sqrt(v^)^3)}:
     * small for an element whose gradients are of its tensor's size, large for one whose gradients
     * cancel to near zero (its v is tiny). Each step adds that, times the step's rate, from the CPU's
     * moments after the step (capped at 2 lr, the most two updates of size at most one can differ);
     * the parameters must then lie within {@code 1e-5 |p| + 2e-3 lr + that sum}. A wrong update of a
     * well-conditioned element (any sizeable fraction of lr) still fails; see the tests' mutants.
     */
    static final class AdamDrift {
        private final io.ionllama.model.ParamLayout layout;
        private final double[] drift;
        private float lrMax;

        AdamDrift(io.ionllama.model.ParamLayout layout) {
            this.layout = layout;
            this.drift = new double[Math.toIntExact(layout.total())];
        }

        /** Adds one step's sensitivity, from the CPU optimizer's moments after it. */
        void afterStep(io.ionllama.train.AdamW cpu, float lr) {
            lrMax = Math.max(lrMax, lr);
            double bc1 = 1 - Math.pow(cpu.beta1, cpu.t), bc2 = 1 - Math.pow(cpu.beta2, cpu.t);
            for (io.ionllama.model.ParamLayout.Tensor t : layout.tensors()) {
                double mMax = 0, vMax = 0;
                for (int i = t.off(); i < t.off() + t.size(); i++) {
                    mMax = Math.max(mMax, Math.abs(cpu.m[i]));
                    vMax = Math.max(vMax, cpu.v[i]);
                }
                double dm = MOMENT_RTOL * mMax / bc1, dv = MOMENT_RTOL * vMax / bc2;
                for (int i = t.off(); i < t.off() + t.size(); i++) {
                    double sv = Math.sqrt(cpu.v[i] / bc2), mh = Math.abs(cpu.m[i]) / bc1, den = sv + cpu.eps;
                    double du = dm / den + (sv > 0 ? mh * dv / (2 * sv * den * den) : 2);
                    drift[i] += lr * Math.min(2, du);
                }
            }
        }

        double allowed(int i, float cpuParam) {
            return 1e-5 * Math.abs(cpuParam) + 2e-3 * lrMax + drift[i];
        }

        /** The first element of each tensor past its bound (empty when all hold). */
        java.util.List<String> failures(float[] device, float[] cpu) {
            java.util.List<String> failures = new java.util.ArrayList<>();
            double worst = 0;
            for (io.ionllama.model.ParamLayout.Tensor t : layout.tensors()) {
                for (int i = t.off(); i < t.off() + t.size(); i++) {
                    double d = Math.abs(device[i] - cpu[i]), a = allowed(i, cpu[i]);
                    worst = Math.max(worst, d / a);
                    if (d > a) {
                        failures.add(String.format("%s[%d]: device %.9g cpu %.9g, allowed %.3g (%.2g of it AdamW drift)",
                                t.name(), i - t.off(), device[i], cpu[i], a, drift[i] / a));
                        break;
                    }
                }
            }
            System.out.printf("AdamDrift: worst |dp| / allowed = %.3g%n", worst);
            return failures;
        }

        /** The element with the smallest drift bound: the best-conditioned one, where a mutant must show. */
        int tightest() {
            int best = 0;
            for (int i = 1; i < drift.length; i++) {
                if (drift[i] < drift[best]) {
                    best = i;
                }
            }
            return best;
        }

        float lrMax() {
            return lrMax;
        }
    }
}
