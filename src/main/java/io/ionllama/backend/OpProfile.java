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
 * <p>Only the outermost call is timed: an op the delegate implements with other ops (a default
 * method of {@link Backend}) runs on the delegate, so its parts are not counted twice. What a step
 * spends outside every op (the models' Java between ops: index arithmetic, small loops, array
 * bookkeeping) is the step's time minus the sum. A dynamic proxy costs a boxed argument array per
 * call (well under a microsecond), so a profiled step runs a little slower than a plain one.
 */
public final class OpProfile {

    /** Methods that are not ops: neither timed nor listed. */
    private static final Set<String> NOT_OPS = Set.of("name", "describe", "close", "bytesToDevice", "bytesToHost",
            "toString", "hashCode", "equals");

    private final Map<String, long[]> ops = new LinkedHashMap<>();

    /** One op's totals: wall nanoseconds and calls. */
    public record Entry(String op, long nanos, long calls) {}

    /** {@code backend}, with every op call timed into this profile. */
    public Backend wrap(Backend backend) {
        InvocationHandler h = (proxy, method, args) -> invoke(backend, method, args);
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, h);
    }

    private Object invoke(Backend backend, Method method, Object[] args) throws Throwable {
        if (NOT_OPS.contains(method.getName())) {
            return call(backend, method, args);
        }
        long t0 = System.nanoTime();
        try {
            return call(backend, method, args);
        } finally {
            long[] e = ops.computeIfAbsent(method.getName(), k -> new long[2]);
            e[0] += System.nanoTime() - t0;
            e[1]++;
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
        ops.forEach((op, e) -> out.add(new Entry(op, e[0], e[1])));
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
