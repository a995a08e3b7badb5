package io.ionllama.testing;

import io.ionllama.data.Tasks;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Works out a task's answer from its prompt's text alone, from the definition of each kind rather
 * than from {@link Tasks}'s code: the oracle answerer of the scorer tests, and the check of every
 * task line the training text holds.
 */
public final class TaskOracle {
    private TaskOracle() {}

    /** Every prompt format, as {@link Tasks} documents it. */
    public static final Map<Tasks.Kind, Pattern> PROMPTS = new LinkedHashMap<>();

    static {
        PROMPTS.put(Tasks.Kind.ADD, Pattern.compile("(\\d+) \\+ (\\d+) = "));
        PROMPTS.put(Tasks.Kind.MULTIPLY, Pattern.compile("(\\d+) \\* (\\d+) = "));
        PROMPTS.put(Tasks.Kind.SPELL, Pattern.compile("spell ([a-z]+): "));
        PROMPTS.put(Tasks.Kind.COUNT, Pattern.compile("count ([a-z]) in ([a-z]+): "));
        PROMPTS.put(Tasks.Kind.REVERSE, Pattern.compile("reverse ([a-z]+): "));
        PROMPTS.put(Tasks.Kind.CONTAINS, Pattern.compile("contains ([a-z]) in ([a-z]+): "));
        PROMPTS.put(Tasks.Kind.REPLACE, Pattern.compile("replace ([a-z]) with ([a-z]) in ([a-z]+): "));
    }

    /** A prompt recognised: its kind and the parts the pattern captured. */
    public record Parsed(Tasks.Kind kind, Matcher parts) {}

    /** The kind and parts of {@code prompt}, or null when it is no task prompt. */
    public static Parsed parse(String prompt) {
        for (Map.Entry<Tasks.Kind, Pattern> e : PROMPTS.entrySet()) {
            Matcher m = e.getValue().matcher(prompt);
            if (m.matches()) {
                return new Parsed(e.getKey(), m);
            }
        }
        return null;
    }

    /** The right answer to {@code prompt}, or null when it is no task prompt. */
    public static String solve(String prompt) {
        Parsed p = parse(prompt);
        if (p == null) {
            return null;
        }
        Matcher m = p.parts();
        return switch (p.kind()) {
            case ADD -> Long.toString(Long.parseLong(m.group(1)) + Long.parseLong(m.group(2)));
            case MULTIPLY -> Long.toString(Long.parseLong(m.group(1)) * Long.parseLong(m.group(2)));
            case SPELL -> String.join("-", m.group(1).split(""));
            case COUNT -> Long.toString(m.group(2).chars().filter(c -> c == m.group(1).charAt(0)).count());
            case REVERSE -> new StringBuilder(m.group(1)).reverse().toString();
            case CONTAINS -> m.group(2).contains(m.group(1)) ? "yes" : "no";
            case REPLACE -> m.group(3).replace(m.group(1).charAt(0), m.group(2).charAt(0));
        };
    }

    /** Where a task line's answer starts: after the first " = " (arithmetic) or the last ": "; -1 if neither. */
    public static int answerStart(String line) {
        int eq = line.indexOf(" = ");
        if (eq >= 0) {
            return eq + 3;
        }
        int colon = line.lastIndexOf(": ");
        return colon < 0 ? -1 : colon + 2;
    }
}
