package io.ionllama.cli;

import io.ionllama.backend.Backend;
import io.ionllama.backend.Backends;
import io.ionllama.backend.OpProfile;
import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.model.ByteModel;
import io.ionllama.model.ContextRnn;
import io.ionllama.model.DenseConfig;
import io.ionllama.model.DenseGpt;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import io.ionllama.model.RnnConfig;
import io.ionllama.model.StepFlops;
import io.ionllama.train.AdamW;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ionllama bench step}: a whole training step (zero gradients, forward, backward, gradient
 * norm, AdamW) of a model on random bytes, on 1 and N threads of the CPU backend: bytes/s, the
 * time per stage, and the achieved GFLOP/s (model FLOPs per step from {@link StepFlops} / time).
 */
@Command(name = "step", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = {
            "Time a whole training step (forward, backward, AdamW) on 1 and N threads: bytes/s, per-stage breakdown,",
            "GFLOP/s (model FLOPs counted analytically: 6 x matmul multiply-adds + attention products)."})
final class BenchStepCommand implements Callable<Integer> {

    @Option(names = "--model", description = "Architecture: ionllama, dense (the byte-level GPT baseline), or rnn (the context-vector RNN).")
    String architecture = "ionllama";

    @Option(names = "--size", description = "Model size: nano, tiny, small, base, large, xl.")
    String size = "tiny";

    @Option(names = "--batch-size", description = "Sequences per step.")
    int batch = 8;

    @Option(names = "--seq-len", description = "Bytes per sequence.")
    int seqLen = 1024;

    @Option(names = "--threads", description = "Worker threads of the second column (all hardware threads unless given).")
    int threads = Backends.defaultThreads();

    @Option(names = "--steps", description = "Timed steps per thread count (the best is reported).")
    int steps = 3;

    @Option(names = "--warmup", description = "Untimed steps first (JIT compilation, buffers).")
    int warmup = 2;

    @Option(names = "--patcher", description = "Patcher (fixed:4 gives the patch count entropy patching targets, reproducibly).")
    String patcher = "fixed:4";

    @Option(names = "--attention", description = "Global attention: dilated or dense.")
    String attention = "dilated";

    @Option(names = "--profile", description = "Also time every backend op of the timed steps: ms and calls per step, share of the step, and the time between ops.")
    boolean profile;

    @Option(names = "--d-model", description = "Dense model: width (default 192).")
    Integer dModel;

    @Option(names = "--layers", description = "Dense model: layers (default 6); rnn: layers (default 3).")
    Integer layers;

    @Option(names = "--heads", description = "Dense model: attention heads (default 8).")
    Integer heads;

    @Option(names = "--mlp", description = "Dense model: SwiGLU hidden width (default 7/3 d-model rounded to 64: 448 at 192).")
    Integer mlp;

    @Option(names = "--d-embed", description = "RNN model: byte embedding width (default 256).")
    Integer dEmbed;

    @Option(names = "--d-hidden", description = "RNN model: FNN (hidden) width (default 512).")
    Integer dHidden;

    @Option(names = "--d-context", description = "RNN model: context vector width (default 256).")
    Integer dContext;

    /** Stages of the report: the model's own, then the optimizer. */
    static String[] stages(String[] model) {
        String[] s = Arrays.copyOf(model, model.length + 1);
        s[s.length - 1] = "optimizer (norm + AdamW)";
        return s;
    }

    static final String[] STAGES = stages(IonLlama.STAGES);

    /** Best step of one thread count: total and per-stage nanoseconds; the op profile when asked for. */
    record Timing(long total, long[] stages, int[] patches, OpProfile profile, long profiledNanos) {}

    /** The backend a model of this run computes on: the CPU, timed op by op with --profile. */
    private Backend backend(CpuBackend cpu) {
        if (!profile) {
            return cpu;
        }
        current = new OpProfile();
        return current.wrap(cpu);
    }

    private OpProfile current;

    @Override
    public Integer call() {
        Bounds.batch("--batch-size", batch, "--seq-len", seqLen, 2);
        Bounds.check("--threads", threads, 1, Bounds.maxThreads());
        Bounds.check("--steps", steps, 1, 10_000);
        Bounds.check("--warmup", warmup, 0, 10_000);
        if (!attention.equals("dilated") && !attention.equals("dense")) {
            throw new Errors.UserError("--attention must be dilated or dense");
        }
        if (!architecture.equals("rnn") && (dEmbed != null || dHidden != null || dContext != null)) {
            throw new Errors.UserError("--d-embed, --d-hidden and --d-context apply to --model rnn");
        }
        if (architecture.equals("dense")) {
            return dense();
        }
        if (architecture.equals("rnn")) {
            return rnn();
        }
        if (!architecture.equals("ionllama")) {
            throw new Errors.UserError("--model must be ionllama, dense or rnn (got '" + architecture + "')");
        }
        if (dModel != null || layers != null || heads != null || mlp != null) {
            throw new Errors.UserError("--d-model, --layers, --heads and --mlp apply to --model dense (ionllama: --size)");
        }
        ModelConfig c;
        Patcher p;
        try {
            c = ModelConfig.of(size);
            p = Patcher.parse(patcher, c.maxPatch(), c.targetPatch());
        } catch (IllegalArgumentException e) {
            throw new Errors.UserError(e.getMessage());
        }
        boolean dense = attention.equals("dense");
        long bytes = (long) batch * seqLen;
        int[] counts = threads > 1 ? new int[] {1, threads} : new int[] {1};
        Timing[] res = new Timing[counts.length];
        String describe = "";
        for (int k = 0; k < counts.length; k++) {
            try (CpuBackend cpu = new CpuBackend(counts[k])) {
                describe = cpu.describe();
                Backend b = backend(cpu);
                res[k] = run(new IonLlama(c, b, p, dense), b);
            }
        }
        double flops = StepFlops.perStep(c, bytes, res[0].patches, dense);
        long patches = 0;
        for (int n : res[0].patches) {
            patches += n;
        }
        System.out.printf(Locale.ROOT, "step: size %s, batch %d x %d bytes, patcher %s (%d patches), %s attention; best of %d after %d warm-up%n",
                c.size(), batch, seqLen, p.spec(), patches, attention, steps, warmup);
        System.out.printf(Locale.ROOT, "model FLOPs per step: %.3g (6 x matmul multiply-adds + attention; StepFlops); %s%n", flops, describe);
        report(STAGES, counts, res, bytes, flops);
        return 0;
    }

    /** {@code --model dense}: the same step and report for the dense byte GPT (its context is --seq-len at least). */
    private int dense() {
        DenseConfig b = DenseConfig.defaults();
        int d = dModel != null ? dModel : b.dModel();
        DenseConfig c = new DenseConfig(d, layers != null ? layers : b.layers(), heads != null ? heads : b.heads(),
                mlp != null ? mlp : DenseConfig.defaultMlp(d), Math.max(b.context(), seqLen)).validate();
        long bytes = (long) batch * seqLen;
        int[] counts = threads > 1 ? new int[] {1, threads} : new int[] {1};
        Timing[] res = new Timing[counts.length];
        String describe = "";
        long params = 0;
        for (int k = 0; k < counts.length; k++) {
            try (CpuBackend cpu = new CpuBackend(counts[k])) {
                describe = cpu.describe();
                Backend bk = backend(cpu);
                DenseGpt m = new DenseGpt(c, bk);
                params = m.layout.total();
                res[k] = run(m, bk);
            }
        }
        double flops = StepFlops.perStepDense(c, batch, seqLen);
        System.out.printf(Locale.ROOT, "step: dense d_model %d, %d layers, %d heads, mlp %d (%,d params), batch %d x %d bytes; best of %d after %d warm-up%n",
                c.dModel(), c.layers(), c.heads(), c.mlp(), params, batch, seqLen, steps, warmup);
        System.out.printf(Locale.ROOT, "model FLOPs per step: %.3g (6 x matmul multiply-adds + attention; StepFlops); %s%n", flops, describe);
        report(stages(DenseGpt.STAGES), counts, res, bytes, flops);
        return 0;
    }

    /**
     * {@code --model rnn}: the same step and report for the context-vector RNN (truncated BPTT over
     * --seq-len; each time step one batched product over the batch, the gates fused).
     */
    private int rnn() {
        if (dModel != null || heads != null || mlp != null) {
            throw new Errors.UserError("--d-model, --heads and --mlp apply to --model dense (rnn: --d-embed, --d-hidden, --d-context, --layers)");
        }
        RnnConfig b = RnnConfig.defaults();
        RnnConfig c = new RnnConfig(dEmbed != null ? dEmbed : b.dEmbed(), dHidden != null ? dHidden : b.dHidden(),
                dContext != null ? dContext : b.dContext(), layers != null ? layers : b.layers()).validate();
        long bytes = (long) batch * seqLen;
        int[] counts = threads > 1 ? new int[] {1, threads} : new int[] {1};
        Timing[] res = new Timing[counts.length];
        String describe = "";
        for (int k = 0; k < counts.length; k++) {
            try (CpuBackend cpu = new CpuBackend(counts[k])) {
                describe = cpu.describe();
                Backend bk = backend(cpu);
                res[k] = run(new ContextRnn(c, bk), bk);
            }
        }
        double flops = StepFlops.perStepRnn(c, bytes);
        System.out.printf(Locale.ROOT, "step: rnn d_embed %d, d_hidden %d, d_context %d, %d layers (%,d params), batch %d x %d bytes; best of %d after %d warm-up%n",
                c.dEmbed(), c.dHidden(), c.dContext(), c.layers(), c.layout().total(), batch, seqLen, steps, warmup);
        System.out.printf(Locale.ROOT, "model FLOPs per step: %.3g (%.1f MFLOP/byte: 6 x matmul multiply-adds; StepFlops); %s%n", flops,
                c.flopsPerByte() / 1e6, describe);
        report(stages(ContextRnn.STAGES), counts, res, bytes, flops);
        return 0;
    }

    private void report(String[] stageNames, int[] counts, Timing[] res, long bytes, double flops) {
        StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "%-28s", "stage (ms)"));
        for (int n : counts) {
            head.append(String.format(Locale.ROOT, "%13s", n + (n == 1 ? " thread" : " threads")));
        }
        System.out.println(head);
        for (int s = 0; s < stageNames.length; s++) {
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-28s", stageNames[s]));
            for (Timing t : res) {
                row.append(String.format(Locale.ROOT, "%13.1f", t.stages[s] / 1e6));
            }
            System.out.println(row);
        }
        String[] labels = {"step (ms)", "bytes/s", "GFLOP/s"};
        for (int r = 0; r < 3; r++) {
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-28s", labels[r]));
            for (Timing t : res) {
                double sec = t.total / 1e9;
                double v = r == 0 ? t.total / 1e6 : r == 1 ? bytes / sec : flops / sec / 1e9;
                row.append(String.format(Locale.ROOT, r == 1 ? "%13.0f" : "%13.1f", v));
            }
            System.out.println(row);
        }
        for (int c = 0; c < counts.length; c++) {
            if (res[c].profile != null) {
                printProfile(counts[c], res[c], steps);
            }
        }
    }

    /** The op table of --profile: per timed step (the mean of them), ops by time, then what ran between them. */
    private static void printProfile(int threads, Timing t, int steps) {
        double step = t.profiledNanos / 1e6 / steps, ops = t.profile.totalNanos() / 1e6 / steps;
        System.out.printf(Locale.ROOT, "%nprofile, %d thread(s), mean of %d timed steps: %.1f ms a step, %.1f ms in backend ops,"
                + " %.1f ms (%.1f%%) between them%n", threads, steps, step, ops, step - ops, 100 * (step - ops) / step);
        System.out.printf(Locale.ROOT, "%-44s %10s %10s %8s %9s%n", "op (matmul: rows x in -> out)", "ms/step", "calls/step", "share",
                "GFLOP/s");
        for (OpProfile.Entry e : t.profile.entries()) {
            String rate = Double.isNaN(e.gflops()) ? "" : String.format(Locale.ROOT, "%9.1f", e.gflops());
            System.out.printf(Locale.ROOT, "%-44s %10.1f %10d %7.1f%% %s%n", e.op(), e.nanos() / 1e6 / steps, e.calls() / steps,
                    100 * e.nanos() / 1e6 / steps / step, rate);
        }
    }

    private Timing run(ByteModel m, Backend cpu) {
        OpProfile prof = profile ? current : null;
        long profiled = 0;
        String[] stages = stages(m.stages());
        m.init(1);
        AdamW opt = AdamW.defaults(m.layout().total(), 0.1f);
        int n = batch * seqLen;
        int[] x = new int[n], y = new int[n];
        SplittableRandom rnd = new SplittableRandom(7);
        for (int i = 0; i < n; i++) {
            x[i] = 32 + rnd.nextInt(95);
        }
        for (int i = 0; i < n; i++) {
            y[i] = (i + 1) % seqLen == 0 ? 32 + rnd.nextInt(95) : x[i + 1];
        }
        long best = Long.MAX_VALUE;
        long[] bestStages = null;
        for (int k = 0; k < warmup + steps; k++) {
            if (prof != null && k == warmup) {
                prof.reset();
            }
            m.resetTimers();
            long t0 = System.nanoTime();
            Arrays.fill(m.grads(), 0f);
            m.forward(x, y, batch, seqLen);
            m.backward(1f);
            long t1 = System.nanoTime();
            double norm = AdamW.gradNorm(cpu, m.layout(), m.grads());
            opt.update(cpu, m.layout().tensors(), m.params(), m.grads(), 1e-4f, AdamW.clipScale(norm, 1f));
            long t2 = System.nanoTime();
            if (k >= warmup) {
                profiled += t2 - t0;
            }
            if (k >= warmup && t2 - t0 < best) {
                best = t2 - t0;
                bestStages = Arrays.copyOf(m.stageNanos(), stages.length);
                // The model's stages cover forward and backward; the remainder of that span is
                // zeroing the gradients, counted with the optimizer.
                long model = 0;
                for (long s : m.stageNanos()) {
                    model += s;
                }
                bestStages[stages.length - 1] = (t1 - t0 - model) + (t2 - t1);
            }
        }
        int[] patches = new int[batch];
        if (m instanceof IonLlama ion) {
            int[] ends = ion.lastBoundaries();
            for (int i = 0; i < ends.length; i++) {
                patches[i / seqLen] += ends[i] != 0 ? 1 : 0;
            }
        }
        return new Timing(best, bestStages, patches, prof, profiled);
    }
}
