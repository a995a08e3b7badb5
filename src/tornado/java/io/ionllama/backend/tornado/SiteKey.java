package io.ionllama.backend.tornado;

import java.util.Arrays;

/** What identifies a site: the op, its compiled-in numbers and the identity of its arrays. */
final class SiteKey {
    final String op;
    final int[] dims;
    final Object[] arrays;
    final int hash;

    SiteKey(String op, int[] dims, Object... arrays) {
        this.op = op;
        this.dims = dims;
        this.arrays = arrays;
        int h = op.hashCode() * 31 + Arrays.hashCode(dims);
        for (Object a : arrays) {
            h = h * 31 + System.identityHashCode(a);
        }
        this.hash = h;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof SiteKey k) || !k.op.equals(op) || !Arrays.equals(k.dims, dims) || k.arrays.length != arrays.length) {
            return false;
        }
        for (int i = 0; i < arrays.length; i++) {
            if (k.arrays[i] != arrays[i]) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode() {
        return hash;
    }
}
