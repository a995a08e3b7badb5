package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.Backend;
import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.data.ByteSource;
import io.ionllama.data.EmbeddedCorpus;
import io.ionllama.train.TrainConfig;
import io.ionllama.train.Trainer;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The arrays a training step passes to the backend stay the same when entropy patching starts
 * after the fixed-patch warm-up, as long as a batch's patches stay within the patch buffers'
 * quarter of headroom ({@link GlobalBlock#grown}): a device backend keeps one resident plan per
 * set of arrays, and a new array means building and compiling it again.
 */
class PatchBufferHeadroomTest {

    @Test
    void entropyPatchingWithinTheHeadroomBindsNoNewArrays() {
        ByteSource data = ByteSource.of(EmbeddedCorpus.generate(EmbeddedCorpus.TRAIN_SEED, 100_000));
        try (CpuBackend cpu = new CpuBackend(1)) {
            Set<Object> seen = Collections.newSetFromMap(new IdentityHashMap<>());
            int[] fresh = new int[1];
            Backend recording = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                    (proxy, method, args) -> {
                        if (args != null) {
                            for (Object a : args) {
                                if ((a instanceof float[] || a instanceof int[]) && seen.add(a)) {
                                    fresh[0]++;
                                }
                            }
                        }
                        try {
                            return method.invoke(cpu, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
            ModelConfig c = StepArrayCountTest.deep(1, 1, 1);
            IonLlama m = new IonLlama(c, recording, Patcher.parse("entropy", c.maxPatch(), c.targetPatch()), false);
            m.init(2);
            int B = 4, T = 64, warmup = 3, fixedPatches = B * T / Math.round(c.targetPatch());
            Trainer t = new Trainer(m, data, new TrainConfig(B, T, 1, 3e-3f, 3e-4f, 1, 12, "adamw", 0.1f, 1f, 7, warmup));
            int checked = 0;
            for (int s = 0; s < 12; s++) {
                fresh[0] = 0;
                Trainer.Step step = t.step();
                double patches = step.bytes() / step.bytesPerPatch();
                System.out.printf("PatchBufferHeadroomTest step %d: %.0f patches (fixed: %d), %d new arrays%n", s, patches,
                        fixedPatches, fresh[0]);
                if (s > 0 && patches < fixedPatches * 1.25) {
                    assertThat(fresh[0]).as("new arrays in step %d (%.0f patches)", s, patches).isZero();
                    checked += s >= warmup ? 1 : 0;
                }
            }
            assertThat(checked).as("entropy-patched steps within the headroom").isPositive();
        }
    }
}
