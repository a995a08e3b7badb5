package io.ionllama.cli;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.generate.Generator;
import io.ionllama.generate.Sampling;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import io.ionllama.train.Checkpoint;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Runs CLI commands in-process with given standard input, and makes tiny checkpoints to run them on. */
final class CliHarness {
    private CliHarness() {}

    record Run(int code, byte[] stdout, String err) {
        String out() {
            return new String(stdout, StandardCharsets.UTF_8);
        }
    }

    /** A small randomly initialised model (its greedy output is close to random bytes: good for UTF-8 tests). */
    static IonLlama tinyModel(CpuBackend cpu) {
        ModelConfig c = new ModelConfig("nano", 32, 32, 2, 2, 1, 1, 16, 1, new int[] {3, 4}, 97, 48, 48, 3, 8, 3f).validate();
        IonLlama m = new IonLlama(c, cpu, Patcher.parse("fixed:3", c.maxPatch(), c.targetPatch()), false);
        m.init(3);
        return m;
    }

    /** Writes the tiny model as a weights-only checkpoint at {@code file}. */
    static Path tinyCheckpoint(Path file) throws Exception {
        try (CpuBackend cpu = new CpuBackend(1)) {
            Checkpoint.save(file, tinyModel(cpu), null, 0, Double.NaN, null);
        }
        return file;
    }

    /** What {@link Generator} makes from {@code checkpoint} for {@code prompt}: the bytes the CLI must print. */
    static byte[] generate(Path checkpoint, String prompt, int n, Sampling s, long seed, int context) throws Exception {
        try (CpuBackend cpu = new CpuBackend(1)) {
            IonLlama m = Checkpoint.loadModel(checkpoint, cpu);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] p = prompt.getBytes(StandardCharsets.UTF_8);
            int[] pi = new int[p.length];
            for (int i = 0; i < p.length; i++) {
                pi[i] = p[i] & 0xFF;
            }
            new Generator(m, context).generate(pi, n, s, seed, b -> {
                out.write(b);
                return true;
            });
            return out.toByteArray();
        }
    }

    static Run run(String stdin, String... args) {
        return run(stdin.getBytes(StandardCharsets.UTF_8), args);
    }

    static synchronized Run run(byte[] stdin, String... args) {
        InputStream oldIn = System.in;
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setIn(new ByteArrayInputStream(stdin));
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Run(code, out.toByteArray(), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setIn(oldIn);
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }
}
