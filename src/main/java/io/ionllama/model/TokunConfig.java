package io.ionllama.model;

import io.ionllama.model.ParamLayout.Kind;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The dimensions of tokun ({@link Tokun}, seed 004): the group sizes of its stages, the width of
 * every vector, the attention heads and the SwiGLU width of its blocks.
 *
 * <pre>
 *   groups   bytes merged per stage, e.g. 4,4 (tokun-16: 16 bytes -> one vector) or 4,4,4 (tokun-64)
 *   dim      width of every vector, byte embeddings and the latent alike     heads, mlp   per block
 * </pre>
 *
 * The chunk, the bytes one latent vector stands for, is the product of the groups.
 */
public record TokunConfig(int[] groups, int dim, int heads, int mlp) {

    /** Longest list of stages, and largest group, accepted (a sanity bound, not a kernel limit). */
    public static final int MAX_STAGES = 6, MAX_GROUP = 64, MAX_CHUNK = 4096;

    /** The seed's tokun-16: two stages of 4, 256 wide, 4 heads, SwiGLU 2·dim. */
    public static TokunConfig defaults() {
        return of(new int[] {4, 4}, 256);
    }

    /** Groups and width, with 4 heads where the width allows (else 2, else 1: heads of at least 8, even) and SwiGLU 2·dim. */
    public static TokunConfig of(int[] groups, int dim) {
        int heads = 1;
        for (int h : new int[] {4, 2}) {
            if (dim % h == 0 && (dim / h) % 2 == 0 && dim / h >= 8) {
                heads = h;
                break;
            }
        }
        return new TokunConfig(groups.clone(), dim, heads, 2 * dim);
    }

    public int stages() {
        return groups.length;
    }

    public int headDim() {
        return dim / heads;
    }

    /** Bytes per latent vector: the product of the groups. */
    public int chunk() {
        int c = 1;
        for (int g : groups) {
            c *= g;
        }
        return c;
    }

    /** Checks the invariants the kernels rely on; throws with a one-line reason. */
    public TokunConfig validate() {
        require(groups.length >= 1 && groups.length <= MAX_STAGES, "groups must list 1.." + MAX_STAGES + " stages");
        long chunk = 1;
        for (int g : groups) {
            require(g >= 2 && g <= MAX_GROUP, "every group must be 2.." + MAX_GROUP + " (got " + g + ")");
            chunk *= g;
        }
        require(chunk <= MAX_CHUNK, "the chunk (product of the groups, " + chunk + ") must be at most " + MAX_CHUNK);
        require(dim >= 2 && dim <= 8192 && mlp >= 1 && mlp <= 32768, "dim must be 2..8192 and mlp 1..32768");
        require(heads >= 1 && dim % heads == 0, "dim (" + dim + ") must be a multiple of heads (" + heads + ")");
        require(headDim() % 2 == 0, "head dimension (" + headDim() + ") must be even for RoPE");
        return this;
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    /** "4,4". */
    public String groupsString() {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < groups.length; i++) {
            s.append(i == 0 ? "" : ",").append(groups[i]);
        }
        return s.toString();
    }

    public String describe() {
        return "tokun " + groupsString().replace(',', 'x') + " d" + dim;
    }

    /**
     * The parameter tensors, in layout order (matrices [out, in]):
     *
     * <pre>
     *   embed.byte [257, d]         row 256 is the pad byte's
     *   enc.{s}.*  block at stage s  (norm1, wq, wk, wv, wo, norm2, mlp.w_gate, mlp.w_up, mlp.w_down)
     *   enc.{s}.merge [d, G_s·d]    G_s vectors, concatenated, to one
     *   dec.{s}.split [G_s·d, d]    one vector to G_s (the mirror), then dec.{s}.* block
     *   dec.norm [d]                head [256, d]
     * </pre>
     * Decoder stages are laid out from the last stage down, in the order they run.
     */
    public ParamLayout layout() {
        ParamLayout p = new ParamLayout();
        p.add("embed.byte", Kind.EMBEDDING, Tokun.PAD + 1, dim);
        for (int s = 0; s < groups.length; s++) {
            block(p, "enc." + s);
            p.add("enc." + s + ".merge", Kind.MATRIX, dim, groups[s] * dim);
        }
        for (int s = groups.length - 1; s >= 0; s--) {
            p.add("dec." + s + ".split", Kind.MATRIX, groups[s] * dim, dim);
            block(p, "dec." + s);
        }
        p.add("dec.norm", Kind.VECTOR, dim);
        p.add("head", Kind.MATRIX, 256, dim);
        return p;
    }

    private void block(ParamLayout p, String prefix) {
        p.add(prefix + ".norm1", Kind.VECTOR, dim);
        p.add(prefix + ".wq", Kind.MATRIX, dim, dim);
        p.add(prefix + ".wk", Kind.MATRIX, dim, dim);
        p.add(prefix + ".wv", Kind.MATRIX, dim, dim);
        p.add(prefix + ".wo", Kind.MATRIX, dim, dim);
        p.add(prefix + ".norm2", Kind.VECTOR, dim);
        p.add(prefix + ".mlp.w_gate", Kind.MATRIX, mlp, dim);
        p.add(prefix + ".mlp.w_up", Kind.MATRIX, mlp, dim);
        p.add(prefix + ".mlp.w_down", Kind.MATRIX, dim, mlp);
    }

    /** Flat key/value view, stored in checkpoints (under {@code model.}). */
    public Map<String, String> toMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("groups", groupsString());
        m.put("dim", Integer.toString(dim));
        m.put("heads", Integer.toString(heads));
        m.put("mlp", Integer.toString(mlp));
        return m;
    }

    /** Reads {@link #toMap}'s keys back (prefixed by {@code prefix}); throws on a missing or bad value. */
    public static TokunConfig fromMap(Map<String, String> m, String prefix) {
        return new TokunConfig(parseGroups(get(m, prefix + "groups")), Integer.parseInt(get(m, prefix + "dim")),
                Integer.parseInt(get(m, prefix + "heads")), Integer.parseInt(get(m, prefix + "mlp"))).validate();
    }

    /** "4,4" → {4, 4}; throws with a one-line reason on anything else. */
    public static int[] parseGroups(String s) {
        String[] parts = s.trim().split(",", -1);
        int[] g = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                g[i] = Integer.parseInt(parts[i].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("groups must be a comma-separated list of sizes like 4,4 (got '" + s + "')");
            }
        }
        return g;
    }

    private static String get(Map<String, String> m, String key) {
        String v = m.get(key);
        if (v == null) {
            throw new IllegalArgumentException("missing " + key);
        }
        return v;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokunConfig c && java.util.Arrays.equals(groups, c.groups) && dim == c.dim && heads == c.heads
                && mlp == c.mlp;
    }

    @Override
    public int hashCode() {
        return java.util.Arrays.hashCode(groups) * 31 + dim * 7 + heads * 3 + mlp;
    }

    @Override
    public String toString() {
        return describe() + " (heads " + heads + ", mlp " + mlp + ")";
    }
}
