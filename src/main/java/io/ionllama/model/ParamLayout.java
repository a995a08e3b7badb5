package io.ionllama.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * All parameters of a model live in one {@code float[]}; this table says where each tensor sits
 * (llm.c style). Gradients and optimizer moments are arrays of the same length and layout, so an
 * optimizer walks one array and a checkpoint writes one named tensor per entry.
 */
public final class ParamLayout {

    /** What an optimizer needs to know about a tensor: matrices get weight decay and Muon. */
    public enum Kind { MATRIX, EMBEDDING, VECTOR }

    public record Tensor(String name, int[] shape, long offset, long size, Kind kind) {
        public int off() {
            return Math.toIntExact(offset);
        }

        public int rows() {
            return shape[0];
        }

        public int cols() {
            return shape.length > 1 ? shape[shape.length - 1] : 1;
        }

        public String shapeString() {
            StringBuilder s = new StringBuilder("[");
            for (int i = 0; i < shape.length; i++) {
                s.append(i == 0 ? "" : ", ").append(shape[i]);
            }
            return s.append(']').toString();
        }
    }

    private final List<Tensor> tensors = new ArrayList<>();
    private final Map<String, Tensor> byName = new LinkedHashMap<>();
    private long total;

    /** Appends a tensor; returns its offset. */
    public Tensor add(String name, Kind kind, int... shape) {
        long size = 1;
        for (int d : shape) {
            size *= d;
        }
        if (byName.containsKey(name)) {
            throw new IllegalStateException("duplicate tensor " + name);
        }
        Tensor t = new Tensor(name, shape.clone(), total, size, kind);
        tensors.add(t);
        byName.put(name, t);
        total += size;
        return t;
    }

    public Tensor get(String name) {
        Tensor t = byName.get(name);
        if (t == null) {
            throw new IllegalArgumentException("no tensor " + name);
        }
        return t;
    }

    /** The tensors' offsets, in layout order (cached: a training step reads them without allocating). */
    public int[] offsets() {
        table();
        return offsets;
    }

    /** The tensors' element counts, in layout order. */
    public int[] sizes() {
        table();
        return sizes;
    }

    private int[] offsets = new int[0], sizes = new int[0];

    private void table() {
        if (offsets.length != tensors.size()) {
            offsets = new int[tensors.size()];
            sizes = new int[tensors.size()];
            for (int k = 0; k < offsets.length; k++) {
                offsets[k] = tensors.get(k).off();
                sizes[k] = Math.toIntExact(tensors.get(k).size());
            }
        }
    }

    public List<Tensor> tensors() {
        return Collections.unmodifiableList(tensors);
    }

    /** Number of floats: the length of the parameter, gradient and moment arrays. */
    public long total() {
        return total;
    }

    /** Whether one Java array can hold it (arrays are int-indexed). */
    public boolean fitsInOneArray() {
        return total <= Integer.MAX_VALUE - 8;
    }
}
