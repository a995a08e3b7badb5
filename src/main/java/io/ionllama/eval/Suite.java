package io.ionllama.eval;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The tasks {@code ionllama eval --tasks} knows, by name, in the order {@code all} runs them. The
 * tasks that score whole files (lm, compression, multilingual) share one scoring pass per file
 * through the run's {@link ScoreCache}.
 */
public final class Suite {
    private Suite() {}

    /** What the command's flags give every task of one run: the scoring window and batch, and the shared passes. */
    public record Settings(int seqLen, int batch, ScoreCache scores) {
        public Settings(int seqLen, int batch) {
            this(seqLen, batch, new ScoreCache(seqLen, batch));
        }
    }

    public static final String ALL = "all";

    private static final Map<String, Function<Settings, EvalTask>> TASKS = new LinkedHashMap<>();

    static {
        TASKS.put(LmTask.NAME, s -> new LmTask(s.scores()));
        TASKS.put(CharTasks.NAME, s -> new CharTasks());
        TASKS.put(ArithTasks.NAME, s -> new ArithTasks());
        TASKS.put(SpeedTask.NAME, s -> new SpeedTask(s.seqLen(), s.batch()));
        TASKS.put(MemoryTask.NAME, s -> new MemoryTask(s.seqLen(), s.batch()));
        TASKS.put(CompressionTask.NAME, s -> new CompressionTask(s.scores()));
        TASKS.put(MultilingualTask.NAME, s -> new MultilingualTask(s.scores()));
    }

    /** The registered task names, in the order {@code all} runs them. */
    public static List<String> names() {
        return List.copyOf(TASKS.keySet());
    }

    /**
     * The tasks a {@code --tasks} value names (comma-separated; {@code all} is every registered
     * task; a name given twice runs once), in the order given. Throws IllegalArgumentException
     * with the one line to show for an empty list or an unknown name.
     */
    public static List<EvalTask> select(String spec, Settings settings) {
        Set<String> chosen = new LinkedHashSet<>();
        for (String part : spec.split(",", -1)) {
            String name = part.strip();
            if (name.equals(ALL)) {
                chosen.addAll(TASKS.keySet());
            } else if (TASKS.containsKey(name)) {
                chosen.add(name);
            } else if (name.isEmpty()) {
                throw new IllegalArgumentException("--tasks: an empty task name in '" + spec + "' (known: " + known() + ")");
            } else {
                throw new IllegalArgumentException("--tasks: unknown task '" + name + "' (known: " + known() + ")");
            }
        }
        List<EvalTask> tasks = new ArrayList<>();
        for (String name : chosen) {
            tasks.add(TASKS.get(name).apply(settings));
        }
        return tasks;
    }

    private static String known() {
        return String.join(", ", names()) + ", " + ALL;
    }
}
