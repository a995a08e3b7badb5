package io.ionllama.backend;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Time spent in each {@link Backend} op: a backend that forwards every call to another and adds
 * the call's wall time to its op's total, for {@code bench step --profile}.
 *
 * <pre>
 *   model --op(args)--> profiled backend --op(args)--> delegate (CpuBackend)
 *                          t0 ........................ t1    totals[op] += t1 - t0, calls[op]++
 * </pre>
 *
 * <p>The three matmul products are listed per shape ({@code matmulForward 4096x256->768}: rows,
 * in, out, their last three arguments), with their FLOPs, so a slow shape shows as a low GFLOP/s.
 * Only the outermost call is timed: an op the delegate implements with other ops (a default
 * method of {@link Backend}) runs on the delegate, so its parts are not counted twice. What a step
 * spends outside every op (the models' Java between ops: index arithmetic, small loops, array
 * bookkeeping) is the step's time minus the sum. A dynamic proxy costs a boxed argument array per
 * call (well under a microsecond), so a profiled step runs a little slower than a plain one.
 */
public final class OpProfile {

    /** Methods that are not ops: neither timed nor listed. */
    private static final Set<String> NOT_OPS = Set.of("name", "describe", "close", "bytesToDevice", "bytesToHost", "graphExecutions",
            "toString", "hashCode", "equals");

    private final Map<String, long[]> ops = new LinkedHashMap<>();

    /** One op's totals: wall nanoseconds, calls, and floating-point operations where known (matmul; else 0). */
    public record Entry(String op, long nanos, long calls, long flops) {
        /** GFLOP/s, or NaN where the FLOPs are not known. */
        public double gflops() {
            return flops > 0 ? flops / (double) nanos : Double.NaN;
        }
    }

    /** {@code backend}, with every op call timed into this profile. */
    public Backend wrap(Backend backend) {
        InvocationHandler h = (proxy, method, args) -> invoke(backend, method, args);
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, h);
    }

    private Object invoke(Backend backend, Method method, Object[] args) throws Throwable {
        if (NOT_OPS.contains(method.getName())) {
            return call(backend, method, args);
        }
        String op = method.getName();
        long flops = 0;
        if (op.startsWith("matmul") && args.length >= 3) {
            int n = args.length, rows = (Integer) args[n - 3], in = (Integer) args[n - 2], out = (Integer) args[n - 1];
            op = op + " " + rows + "x" + in + "->" + out;
            flops = 2L * rows * in * out;
        }
        long t0 = System.nanoTime();
        try {
            return call(backend, method, args);
        } finally {
            long[] e = ops.computeIfAbsent(op, k -> new long[3]);
            e[0] += System.nanoTime() - t0;
            e[1]++;
            e[2] += flops;
        }
    }

    private static Object call(Backend backend, Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(backend, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    /** Starts counting from zero (after the warm-up steps). */
    public void reset() {
        ops.clear();
    }

    /** The ops seen, most time first. */
    public List<Entry> entries() {
        List<Entry> out = new ArrayList<>();
        ops.forEach((op, e) -> out.add(new Entry(op, e[0], e[1], e[2])));
        out.sort(Comparator.comparingLong(Entry::nanos).reversed());
        return out;
    }

    /** Total nanoseconds in ops. */
    public long totalNanos() {
        long sum = 0;
        for (long[] e : ops.values()) {
            sum += e[0];
        }
        return sum;
    }
}
