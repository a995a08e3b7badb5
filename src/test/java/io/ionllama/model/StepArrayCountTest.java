package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.Backend;
import io.ionllama.testing.CpuBackendTest;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The number of distinct arrays one training step (forward and backward) passes to backend ops
 * does not grow with depth: the layers of a stack share one array per role
 * ({@link IntegralLayer.Saved}, {@link GlobalBlock.Saved}). A resident TornadoVM step binds every
 * such array to each graph of its plan, and trains op by op above {@code ResidentPlan.MAX_SHARED}
 * (480) arrays (docs/gpu.md, "graph size limits").
 */
class StepArrayCountTest extends CpuBackendTest {

    /** ResidentPlan.MAX_SHARED in the TornadoVM backend (not on this test's class path). */
    static final int MAX_SHARED = 480;

    /** Small widths, the given depths: global blocks, encoder and decoder layers, entropy layers. */
    static ModelConfig deep(int layers, int local, int entropy) {
        return new ModelConfig("nano", 16, 16, layers, 2, local, local, 8, entropy, new int[] {3, 4}, 13, 24, 24, 2, 6,
                3f).validate();
    }

    /** The same depths as a named size, at small widths (base itself is ~200M parameters). */
    static ModelConfig depthOf(String size) {
        ModelConfig c = ModelConfig.of(size);
        return new ModelConfig(size, 16, 16, c.layers(), 2, c.nEnc(), c.nDec(), 8, c.nEntropy(), new int[] {3, 4}, 13,
                24, 24, 2, 6, 3f).validate();
    }

    /** Distinct float[] and int[] arrays passed to the backend's ops during one forward and backward. */
    static int arraysPerStep(ModelConfig c) {
        Set<Object> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        Backend recording = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> {
                    String name = method.getName();
                    // transfers are not ops: they name arrays the ops already bound
                    if (args != null && !name.equals("toHost") && !name.equals("hostChanged")) {
                        for (Object a : args) {
                            if (a instanceof float[] || a instanceof int[]) {
                                seen.add(a);
                            }
                        }
                    }
                    try {
                        return method.invoke(cpu, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        IonLlama m = new IonLlama(c, recording, Patcher.parse("entropy", c.maxPatch(), c.targetPatch()), false);
        m.init(3);
        int B = 2, T = 32;
        int[][] xy = ModelGradientTest.batch(B, T, 5);
        m.forward(xy[0], xy[1], B, T);
        m.backward(1f);
        return seen.size();
    }

    @Test
    void arrayCountDoesNotGrowWithDepth() {
        int shallow = arraysPerStep(deep(2, 2, 2));
        int deeper = arraysPerStep(deep(6, 6, 6));
        assertThat(deeper).as("arrays bound by a step with 6 vs 2 layers per stack").isEqualTo(shallow);
    }

    @Test
    void baseAndLargeDepthsStayWellUnderTheGraphLimit() {
        int shallow = arraysPerStep(deep(2, 2, 2));
        for (String size : new String[] {"base", "large", "xl"}) {
            int n = arraysPerStep(depthOf(size));
            assertThat(n).as("arrays bound by a step at %s's depth", size).isEqualTo(shallow).isLessThan(MAX_SHARED / 2);
        }
    }
}
