package io.ionllama.eval;

import io.ionllama.backend.Backend;
import io.ionllama.data.ByteSource;
import io.ionllama.model.ByteModel;
import java.io.PrintStream;
import java.util.List;

/**
 * What every evaluation task is given: the loaded model and its backend, the files to score (each
 * with a language label when given as {@code LANG=FILE}), the sample limit per task slice (0: the
 * task's default), the seed of any sampling, the thread count, and where to print.
 */
public record EvalContext(ByteModel model, Backend backend, List<Data> data, int limit, long seed, int threads,
                          PrintStream log) {

    /** A file to score: its label ({@code en}, {@code code}, or the file name), its path as given, its bytes. */
    public record Data(String label, String path, ByteSource bytes) {}

    /** The per-slice sample limit: {@code limit} when set, else {@code fallback}. */
    public int limitOr(int fallback) {
        return limit > 0 ? limit : fallback;
    }
}
