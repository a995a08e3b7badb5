package io.ionllama.data;

import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The character and arithmetic tasks, one prompt/answer pair each. The training text (the embedded
 * corpus, {@code train --mix-tasks}) and the evaluation suite ({@code eval --tasks chars,arith}) both
 * use these formats, so a model trained on them can be scored on exact-match answers.
 *
 * <pre>
 *   add:      "123 + 4567 = 4690"
 *   multiply: "37 * 21 = 777"
 *   spell:    "spell garden: g-a-r-d-e-n"
 *   count:    "count a in banana: 3"
 *   reverse:  "reverse stone: enots"
 *   contains: "contains q in queen: yes"           (CUTE's "does the word contain the letter")
 *   replace:  "replace a with o in banana: bonono" (CUTE's "substitute one letter for another")
 * </pre>
 * A pair's prompt ends where the answer begins (after "= " or ": "), so a generator is given the
 * prompt and must produce the answer followed by a newline.
 *
 * <p>Held-out protocol: {@link #random} and {@link #of} (the training generator) use only
 * {@link TaskWords#TRAIN}, never write a held-out word (a replacement that happens to spell one is
 * drawn again), and never emit an operand pair {@link #heldOutPair} selects. The evaluation builds
 * its held-out items from {@link TaskWords#HELD_OUT} and those pairs with the explicit constructors
 * ({@link #onWord}, {@link #arithmetic}).
 */
public final class Tasks {
    private Tasks() {}

    public enum Kind {
        ADD, MULTIPLY, SPELL, COUNT, REVERSE, CONTAINS, REPLACE;

        /** The name results and tables use: "add", "spell", ... */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        public boolean arithmetic() {
            return this == ADD || this == MULTIPLY;
        }
    }

    /** The character kinds, in the order tables show them. */
    public static final List<Kind> CHARACTER_KINDS = List.of(Kind.SPELL, Kind.COUNT, Kind.REVERSE, Kind.CONTAINS, Kind.REPLACE);
    /** The arithmetic kinds. */
    public static final List<Kind> ARITHMETIC_KINDS = List.of(Kind.ADD, Kind.MULTIPLY);
    /** Operands have 1 to this many digits. */
    public static final int MAX_DIGITS = 5;
    /** One unordered operand pair in this many is held out of training ({@link #heldOutPair}). */
    public static final int HELD_OUT_PAIR_ONE_IN = 10;

    public record Pair(Kind kind, String prompt, String answer) {
        public String line() {
            return prompt + answer + "\n";
        }
    }

    /** A training line of a random kind. */
    public static Pair random(SplittableRandom rnd) {
        Kind k = Kind.values()[rnd.nextInt(Kind.values().length)];
        return of(k, rnd);
    }

    /** A training line of {@code kind}: a training word, or an operand pair that is not held out. */
    public static Pair of(Kind kind, SplittableRandom rnd) {
        if (kind.arithmetic()) {
            // The evaluation's slices are d-digit by d-digit; mixed lengths as well teach carrying across them.
            int da = 1 + rnd.nextInt(MAX_DIGITS), db = rnd.nextBoolean() ? da : 1 + rnd.nextInt(MAX_DIGITS);
            long a, b;
            do {
                a = number(rnd, da);
                b = number(rnd, db);
            } while (heldOutPair(kind, a, b));
            return arithmetic(kind, a, b);
        }
        Pair p;
        do {
            p = onWord(kind, TaskWords.TRAIN.get(rnd.nextInt(TaskWords.TRAIN.size())), rnd);
        } while (TaskWords.heldOut(p.answer()));
        return p;
    }

    /** {@code a + b = } or {@code a * b = } and the exact result. */
    public static Pair arithmetic(Kind op, long a, long b) {
        return switch (op) {
            case ADD -> new Pair(op, a + " + " + b + " = ", Long.toString(a + b));
            case MULTIPLY -> new Pair(op, a + " * " + b + " = ", Long.toString(a * b));
            default -> throw new IllegalArgumentException(op + " is not arithmetic");
        };
    }

    /** A character task of {@code kind} on {@code word}; the letters it asks about are drawn from {@code rnd}. */
    public static Pair onWord(Kind kind, String word, SplittableRandom rnd) {
        return switch (kind) {
            case SPELL -> new Pair(kind, "spell " + word + ": ", String.join("-", word.split("")));
            case COUNT -> {
                // Mostly a letter of the word; sometimes any letter, so "0" is an answer too.
                char c = rnd.nextInt(4) == 0 ? letter(rnd) : word.charAt(rnd.nextInt(word.length()));
                yield new Pair(kind, "count " + c + " in " + word + ": ", Long.toString(word.chars().filter(ch -> ch == c).count()));
            }
            case REVERSE -> new Pair(kind, "reverse " + word + ": ", new StringBuilder(word).reverse().toString());
            case CONTAINS -> {
                // Half the letters from the word, half from outside it: "yes" and "no" equally often.
                char c;
                if (rnd.nextBoolean()) {
                    c = word.charAt(rnd.nextInt(word.length()));
                } else {
                    do {
                        c = letter(rnd);
                    } while (word.indexOf(c) >= 0);
                }
                yield new Pair(kind, "contains " + c + " in " + word + ": ", word.indexOf(c) >= 0 ? "yes" : "no");
            }
            case REPLACE -> {
                char from = word.charAt(rnd.nextInt(word.length())), to;
                do {
                    to = letter(rnd);
                } while (to == from);
                yield new Pair(kind, "replace " + from + " with " + to + " in " + word + ": ", word.replace(from, to));
            }
            default -> throw new IllegalArgumentException(kind + " is not a character task");
        };
    }

    /**
     * Whether the operand pair is held out of training: a hash of the operation and the unordered
     * pair (so {@code b + a} is held out with {@code a + b}, and commutativity cannot leak the
     * answer) selects one in {@link #HELD_OUT_PAIR_ONE_IN}. A rule rather than a list, so it holds
     * for every digit count and the generator can check it per line.
     */
    public static boolean heldOutPair(Kind op, long a, long b) {
        long lo = Math.min(a, b), hi = Math.max(a, b);
        long h = mix64(mix64(lo + 0x632BE59BD9B4E019L * (op.ordinal() + 1)) ^ hi);
        return Long.remainderUnsigned(h, HELD_OUT_PAIR_ONE_IN) == 0;
    }

    /** A uniformly drawn pair of {@code digits}-digit operands on the given side of {@link #heldOutPair}. */
    public static long[] operands(Kind op, int digits, boolean heldOut, SplittableRandom rnd) {
        while (true) {
            long a = number(rnd, digits), b = number(rnd, digits);
            if (heldOutPair(op, a, b) == heldOut) {
                return new long[] {a, b};
            }
        }
    }

    /** A number with exactly {@code digits} digits (0 allowed for one digit). */
    public static long number(SplittableRandom rnd, int digits) {
        long lo = lowest(digits);
        return lo + rnd.nextLong(pow10(digits) - lo);
    }

    /** The smallest number with {@code digits} digits (0 for one digit: 0 counts as a one-digit number). */
    public static long lowest(int digits) {
        return digits == 1 ? 0 : pow10(digits - 1);
    }

    private static long pow10(int n) {
        long p = 1;
        for (int i = 0; i < n; i++) {
            p *= 10;
        }
        return p;
    }

    private static char letter(SplittableRandom rnd) {
        return (char) ('a' + rnd.nextInt(26));
    }

    /** SplitMix64's finaliser: every input bit moves every output bit. */
    static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
