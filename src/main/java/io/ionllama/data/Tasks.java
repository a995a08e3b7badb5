package io.ionllama.data;

import java.util.SplittableRandom;

/**
 * The character and arithmetic tasks of the embedded corpus, one prompt/answer pair each. The
 * training text and the evaluation suite both use these formats, so a model trained on the
 * embedded corpus can be scored on exact-match answers.
 *
 * <pre>
 *   add:      "123 + 4567 = 4690"
 *   multiply: "37 * 21 = 777"
 *   spell:    "spell garden: g-a-r-d-e-n"
 *   count:    "count a in banana: 3"
 *   reverse:  "reverse stone: enots"
 * </pre>
 * A pair's prompt ends where the answer begins (after "= " or ": "), so a generator is given the
 * prompt and must produce the answer followed by a newline.
 */
public final class Tasks {
    private Tasks() {}

    public enum Kind { ADD, MULTIPLY, SPELL, COUNT, REVERSE }

    public record Pair(Kind kind, String prompt, String answer) {
        public String line() {
            return prompt + answer + "\n";
        }
    }

    static final String[] WORDS = {
        "apple", "banana", "garden", "river", "stone", "happy", "little", "yellow", "window", "puppy",
        "forest", "friend", "summer", "winter", "castle", "dragon", "rabbit", "flower", "bottle", "pencil",
        "school", "teacher", "kitten", "monkey", "butter", "cookie", "rocket", "planet", "sister", "brother",
        "morning", "evening", "candle", "basket", "bridge", "cloud", "dance", "ocean", "paper", "shadow",
        "tiger", "turtle", "velvet", "wagon", "zebra", "mirror", "orange", "parrot", "quiet", "ribbon",
        "cat", "dog", "sun", "moon", "tree", "bird", "fish", "ball", "cake", "book", "door", "star",
    };

    public static Pair random(SplittableRandom rnd) {
        Kind k = Kind.values()[rnd.nextInt(Kind.values().length)];
        return of(k, rnd);
    }

    public static Pair of(Kind kind, SplittableRandom rnd) {
        return switch (kind) {
            case ADD -> {
                long a = number(rnd, 1 + rnd.nextInt(4)), b = number(rnd, 1 + rnd.nextInt(4));
                yield new Pair(kind, a + " + " + b + " = ", Long.toString(a + b));
            }
            case MULTIPLY -> {
                long a = number(rnd, 1 + rnd.nextInt(2)), b = number(rnd, 1 + rnd.nextInt(2));
                yield new Pair(kind, a + " * " + b + " = ", Long.toString(a * b));
            }
            case SPELL -> {
                String w = word(rnd);
                yield new Pair(kind, "spell " + w + ": ", String.join("-", w.split("")));
            }
            case COUNT -> {
                String w = word(rnd);
                char c = rnd.nextInt(4) == 0 ? (char) ('a' + rnd.nextInt(26)) : w.charAt(rnd.nextInt(w.length()));
                long n = w.chars().filter(ch -> ch == c).count();
                yield new Pair(kind, "count " + c + " in " + w + ": ", Long.toString(n));
            }
            case REVERSE -> {
                String w = word(rnd);
                yield new Pair(kind, "reverse " + w + ": ", new StringBuilder(w).reverse().toString());
            }
        };
    }

    static String word(SplittableRandom rnd) {
        return WORDS[rnd.nextInt(WORDS.length)];
    }

    /** A number with exactly {@code digits} digits (0 allowed for one digit). */
    static long number(SplittableRandom rnd, int digits) {
        long lo = digits == 1 ? 0 : (long) Math.pow(10, digits - 1);
        long hi = (long) Math.pow(10, digits);
        return lo + rnd.nextLong(hi - lo);
    }
}
