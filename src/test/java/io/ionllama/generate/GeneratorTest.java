package io.ionllama.generate;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class GeneratorTest {

    static IonLlama model(CpuBackend cpu) {
        ModelConfig c = new ModelConfig("nano", 32, 32, 2, 2, 1, 1, 16, 1, new int[] {3, 4}, 97, 48, 48, 3, 8, 3f).validate();
        IonLlama m = new IonLlama(c, cpu, Patcher.parse("fixed:3", c.maxPatch(), c.targetPatch()), false);
        m.init(3);
        return m;
    }

    static List<Integer> run(Generator g, String prompt, int n, Sampling s, long seed) {
        List<Integer> out = new ArrayList<>();
        g.generate(prompt.chars().toArray(), n, s, seed, out::add);
        return out;
    }

    @Test
    void greedyIncrementalEqualsGreedyFullReforward() {
        try (CpuBackend cpu = new CpuBackend(2)) {
            IonLlama m = model(cpu);
            List<Integer> inc = run(new Generator(m, 1024, true), "Once upon a", 64, Sampling.greedy(), 1);
            List<Integer> full = run(new Generator(m, 1024, false), "Once upon a", 64, Sampling.greedy(), 1);
            assertThat(inc).hasSize(64).isEqualTo(full);
        }
    }

    @Test
    void samplingIsReproducibleFromTheSeedAndStopsWhenAsked() {
        try (CpuBackend cpu = new CpuBackend(1)) {
            IonLlama m = model(cpu);
            Generator g = new Generator(m, 64);
            Sampling s = Sampling.defaults();
            assertThat(run(g, "abc", 40, s, 9)).isEqualTo(run(g, "abc", 40, s, 9));
            List<Integer> out = new ArrayList<>();
            g.generate("abc".chars().toArray(), 40, s, 9, b -> out.add(b) && out.size() < 5);
            assertThat(out).hasSize(5);
        }
    }

    @Test
    void slidingWindowRunsPastTheContext() {
        try (CpuBackend cpu = new CpuBackend(1)) {
            IonLlama m = model(cpu);
            assertThat(run(new Generator(m, 16), "hello", 100, Sampling.defaults(), 2)).hasSize(100);
        }
    }

    @Test
    void samplingRespectsTopKAndPenalty() {
        float[] logits = new float[256];
        for (int v = 0; v < 256; v++) {
            logits[v] = -v * 0.01f;
        }
        Sampling topTwo = new Sampling(1.5f, 2, 1f, 1f, 64).validate();
        SplittableRandom r = new SplittableRandom(1);
        float[] scratch = new float[512];
        for (int i = 0; i < 200; i++) {
            assertThat(topTwo.pick(logits, 0, new int[0], 0, r, scratch)).isIn(0, 1);
        }
        logits[7] = 5f;
        assertThat(Sampling.greedy().pick(logits, 0, new int[0], 0, r, scratch)).isEqualTo(7);
        logits[0] = 1f;
        Sampling penal = new Sampling(0f, 1, 1f, 10f, 8).validate();
        assertThat(penal.pick(logits, 0, new int[] {7}, 1, r, scratch)).isEqualTo(0);
    }
}
