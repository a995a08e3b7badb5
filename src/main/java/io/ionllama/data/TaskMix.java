package io.ionllama.data;

import java.util.SplittableRandom;

/**
 * Task lines mixed into any training data ({@code train --mix-tasks F}): each window of a batch is,
 * with probability F, a run of task paragraphs ({@link Tasks}, the training words and operand pairs
 * only) instead of bytes of the corpus. A model trained on stories alone never sees a task line;
 * this teaches the formats the evaluation scores ({@code eval --tasks chars,arith}).
 *
 * <p>Whether a window is a task window, and which lines it holds, depend only on (seed, step, row),
 * like the corpus windows of {@link BatchSampler}: a resumed run mixes exactly the lines the
 * uninterrupted run would have. Task windows are laid out as the embedded corpus lays out its task
 * paragraphs (3 to 8 lines, then a blank line), starting at a random byte of the first paragraph so
 * the model sees every position of a line at every position of the window.
 */
public final class TaskMix {
    private final long seed;
    private final double fraction;

    /** Mixes a fraction {@code fraction} (in [0, 1)) of windows of task lines, drawn from {@code seed}. */
    public TaskMix(long seed, double fraction) {
        if (!(fraction >= 0 && fraction < 1)) {
            throw new IllegalArgumentException("--mix-tasks must be in [0, 1) (got " + fraction + ")");
        }
        this.seed = seed;
        this.fraction = fraction;
    }

    public double fraction() {
        return fraction;
    }

    /**
     * Fills {@code window[0..len)} with task lines when row {@code row} of (micro-)step {@code step}
     * is a task window, and returns whether it was.
     */
    public boolean fill(long step, int row, int[] window, int len) {
        if (fraction == 0) {
            return false;
        }
        SplittableRandom rnd = new SplittableRandom(Tasks.mix64(Tasks.mix64(seed ^ 0x5DEECE66DL) + step * 0x9E3779B97F4A7C15L + row));
        if (rnd.nextDouble() >= fraction) {
            return false;
        }
        // A task window allocates its text (a batch without one allocates nothing); nothing is kept between calls.
        StringBuilder text = new StringBuilder(2 * len);
        EmbeddedCorpus.taskParagraph(rnd, text);
        text.append('\n');
        int start = rnd.nextInt(text.length());
        while (text.length() < start + len) {
            EmbeddedCorpus.taskParagraph(rnd, text);
            text.append('\n');
        }
        for (int i = 0; i < len; i++) {
            window[i] = text.charAt(start + i); // task lines are ASCII: a char is a byte
        }
        return true;
    }
}
