package io.ionllama.eval;

import java.util.Map;

/**
 * One figure of the evaluation suite, as results.json records it: which task measured it, what it
 * is, its value, its standard error (NaN where it has none) and the number of samples behind it.
 * {@code tags} says which slice of the task it belongs to (e.g. {@code kind=count, split=held-out},
 * {@code lang=zh}, {@code digits=3}); the order of the map is the order shown.
 */
public record Metric(String task, String name, double value, double stderr, long samples, Map<String, String> tags) {

    public Metric {
        // Map.copyOf would lose the order the tags were given in, which the table and report show.
        java.util.LinkedHashMap<String, String> copy = new java.util.LinkedHashMap<>();
        tags.forEach((k, v) -> copy.put(java.util.Objects.requireNonNull(k), java.util.Objects.requireNonNull(v, k)));
        tags = java.util.Collections.unmodifiableMap(copy);
    }

    /** An exact-match accuracy over {@code n} samples, {@code correct} of them right, with its binomial standard error. */
    public static Metric accuracy(String task, String name, long correct, long n, Map<String, String> tags) {
        double p = n == 0 ? Double.NaN : (double) correct / n;
        double se = n == 0 ? Double.NaN : Math.sqrt(p * (1 - p) / n);
        return new Metric(task, name, p, se, n, tags);
    }
}
