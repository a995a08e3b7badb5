package io.ionllama.backend.tornado;

import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.Set;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task1;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task2;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task3;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task4;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task5;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task6;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task7;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task8;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task9;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task10;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task11;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task12;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task13;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task14;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task15;

/**
 * A TaskGraph that holds several calls of the same ops: each call's tasks are named with its own
 * prefix ({@link #call}), so the ops' task functions, written once with fixed task names ("cells",
 * "rows") for their per-op graphs, add their tasks here unchanged, once per call. Its
 * {@link #grids} registers their worker grids under the same prefixed names.
 *
 * <p>It also counts the graph nodes TornadoVM will make for the tasks (a TaskGraph has a fixed
 * table of 1024): with {@code counting} on, tasks are only counted, not added, which is how
 * {@link ResidentPlan} sizes a stage's graphs before it builds them. The count follows TornadoVM's
 * graph builder ({@code TornadoGraphBuilder.buildGraph}): a node per task, per distinct scalar
 * value (its constants are kept once per value), per distinct object three (the object, its first
 * use on the device, its release or persistence), and per array argument one more (the read that
 * follows a write). That last one TornadoVM makes only where its analysis of the task finds a
 * write, which can include arrays the op only reads (a count of one per argument the op writes
 * overflowed the table in a Muon step), so every argument is counted. Objects and values already
 * counted cost nothing again, so a stage's calls over the same arrays cost far less than their sum.
 */
final class StageTaskGraph extends TaskGraph {

    private final boolean counting;
    private String prefix = "";
    private int nodes;
    private final Set<Object> objects = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<Object> constants = new HashSet<>();

    StageTaskGraph(String name, boolean counting) {
        super(name);
        this.counting = counting;
    }

    /** Names the tasks that follow {@code c<index>_<task>}. */
    void call(int index) {
        prefix = "c" + index + "_";
    }

    /** Graph nodes of the tasks added (or counted) so far, an upper bound of TornadoVM's count. */
    int nodes() {
        return nodes;
    }

    /** Counts {@code site}'s tasks (a counting graph). */
    void count(Site site) {
        site.tasks(this, "probe", new GridScheduler());
    }

    /** The nodes this counting graph would have with {@code site}'s tasks counted too; this graph is unchanged. */
    int nodesWith(Site site) {
        StageTaskGraph trial = new StageTaskGraph("probe", true);
        trial.nodes = nodes;
        trial.objects.addAll(objects);
        trial.constants.addAll(constants);
        trial.count(site);
        return trial.nodes;
    }

    /** A view of {@code target} that registers grids under this graph's current prefix. */
    GridScheduler grids(GridScheduler target) {
        String graph = getTaskGraphName() + ".";
        return new GridScheduler() {
            @Override
            public void addWorkerGrid(String taskName, WorkerGrid grid) {
                if (!taskName.startsWith(graph)) {
                    throw new IllegalArgumentException("grid " + taskName + " is not for graph " + graph);
                }
                target.addWorkerGrid(graph + prefix + taskName.substring(graph.length()), grid);
            }
        };
    }

    /** Counts a task (see the class comment); true if it is to be added too. */
    private boolean add(String id, Object... args) {
        nodes++;
        for (Object a : args) {
            if (a != null && a.getClass().isArray() || a instanceof uk.ac.manchester.tornado.api.KernelContext) {
                nodes += objects.add(a) ? 4 : 1;
            } else if (constants.add(a)) {
                nodes++;
            }
        }
        return !counting;
    }

    @Override
    public <T1> TaskGraph task(String id, Task1<T1> code, T1 a1) {
        return add(id, a1) ? super.task(prefix + id, code, a1) : this;
    }

    @Override
    public <T1, T2> TaskGraph task(String id, Task2<T1, T2> code, T1 a1, T2 a2) {
        return add(id, a1, a2) ? super.task(prefix + id, code, a1, a2) : this;
    }

    @Override
    public <T1, T2, T3> TaskGraph task(String id, Task3<T1, T2, T3> code, T1 a1, T2 a2, T3 a3) {
        return add(id, a1, a2, a3) ? super.task(prefix + id, code, a1, a2, a3) : this;
    }

    @Override
    public <T1, T2, T3, T4> TaskGraph task(String id, Task4<T1, T2, T3, T4> code, T1 a1, T2 a2, T3 a3, T4 a4) {
        return add(id, a1, a2, a3, a4) ? super.task(prefix + id, code, a1, a2, a3, a4) : this;
    }

    @Override
    public <T1, T2, T3, T4, T5> TaskGraph task(String id, Task5<T1, T2, T3, T4, T5> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5) {
        return add(id, a1, a2, a3, a4, a5) ? super.task(prefix + id, code, a1, a2, a3, a4, a5) : this;
    }

    @Override
    public <T1, T2, T3, T4, T5, T6> TaskGraph task(String id, Task6<T1, T2, T3, T4, T5, T6> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6) {
        return add(id, a1, a2, a3, a4, a5, a6) ? super.task(prefix + id, code, a1, a2, a3, a4, a5, a6) : this;
    }

    @Override
    public <T1, T2, T3, T4, T5, T6, T7> TaskGraph task(String id, Task7<T1, T2, T3, T4, T5, T6, T7> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7) {
        return add(id, a1, a2, a3, a4, a5, a6, a7) ? super.task(prefix + id, code, a1, a2, a3, a4, a5, a6, a7) : this;
    }

    @Override
    public <T1, T2, T3, T4, T5, T6, T7, T8> TaskGraph task(String id, Task8<T1, T2, T3, T4, T5, T6, T7, T8> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8) {
        return add(id, a1, a2, a3, a4, a5, a6, a7, a8) ? super.task(prefix + id, code, a1, a2, a3, a4, a5, a6, a7, a8) : this;
    }

    @Override
    public <T1, T2, T3, T4, T5, T6, T7, T8, T9> TaskGraph task(String id, Task9<T1, T2, T3, T4, T5, T6, T7, T8, T9> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9) {
        return add(id, a1, a2, a3, a4, a5, a6, a7, a8, a9) ? super.task(prefix + id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9) : this;
    }

    @Override
    public <T1, T2, T3, T4, T5, T6, T7, T8, T9, T10> TaskGraph task(String id, Task10<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10) {
        return add(id, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10) ? super.task(prefix + id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10) : this;
    }

    @Override
    public <T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11> TaskGraph task(String id, Task11<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11) {
        return add(id, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11) ? super.task(prefix + id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11) : this;
    }

    @Override
    public <T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12> TaskGraph task(String id, Task12<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12) {
        return add(id, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12) ? super.task(prefix + id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12) : this;
    }

    @Override
    public <T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13> TaskGraph task(String id, Task13<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13) {
        return add(id, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13) ? super.task(prefix + id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13) : this;
    }

    @Override
    public <T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14> TaskGraph task(String id, Task14<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14) {
        return add(id, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14) ? super.task(prefix + id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14) : this;
    }

    @Override
    public <T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15> TaskGraph task(String id, Task15<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15> code, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14, T15 a15) {
        return add(id, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15) ? super.task(prefix + id, code, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15) : this;
    }
}
