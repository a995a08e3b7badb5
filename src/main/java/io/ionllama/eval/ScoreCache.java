package io.ionllama.eval;

import io.ionllama.model.ByteModel;
import java.util.HashMap;
import java.util.Map;

/**
 * The scoring passes of one {@code eval} run, so that lm, compression and multilingual, which read
 * the same pass over the same file, run it once. Keyed by the model instance and the file; one
 * cache lives as long as one run ({@link Suite#select}).
 */
public final class ScoreCache {
    private record Key(ByteModel model, EvalContext.Data data, int seqLen, int batch) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.model == model && k.data.equals(data) && k.seqLen == seqLen && k.batch == batch;
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(model) * 31 + data.hashCode();
        }
    }

    private final Map<Key, FileScore> scores = new HashMap<>();
    private final int seqLen, batch;

    public ScoreCache(int seqLen, int batch) {
        this.seqLen = seqLen;
        this.batch = batch;
    }

    public int seqLen() {
        return seqLen;
    }

    public int batch() {
        return batch;
    }

    /** The pass over {@code data} for {@code ctx}'s model, run now unless an earlier task ran it. */
    public synchronized FileScore score(EvalContext ctx, EvalContext.Data data) {
        return scores.computeIfAbsent(new Key(ctx.model(), data, seqLen, batch),
                k -> FileScore.of(ctx.model(), data, seqLen, batch));
    }
}
