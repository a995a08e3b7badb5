package io.ionllama.eval;

import java.util.List;

/**
 * One task of {@code ionllama eval --tasks}: it measures a loaded model and returns its figures.
 * Tasks are registered by name (lm, chars, arith, speed, memory, compression, multilingual) and run
 * in the order given; each is independent of the others.
 */
public interface EvalTask {

    /** The name {@code --tasks} selects it by. */
    String name();

    /** Measures {@code ctx.model()}; progress and a readable table go to {@code ctx.log()}. */
    List<Metric> run(EvalContext ctx) throws Exception;
}
