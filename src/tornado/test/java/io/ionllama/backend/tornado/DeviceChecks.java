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
}
