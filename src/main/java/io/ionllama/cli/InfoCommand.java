package io.ionllama.cli;

import io.ionllama.model.Architecture;
import io.ionllama.model.DenseConfig;
import io.ionllama.model.MemoryEstimate;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.ParamLayout;
import io.ionllama.model.RnnConfig;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ionllama info}: the tensors of a model and the memory a training step needs, without allocating it. */
@Command(name = "info", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = "Print a model's tensors, parameter count and the memory a training step needs (nothing is allocated).")
final class InfoCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model = new ModelOptions();

    @Option(names = "--batch-size", defaultValue = "8", description = "Sequences per step, for the memory estimate.")
    int batchSize;

    @Option(names = "--seq-len", defaultValue = "1024", description = "Bytes per sequence, for the memory estimate.")
    int seqLen;

    @Option(names = "--patcher", description = "With tokun:PATH: the layout of a model patched by that tokun checkpoint (tokun.proj in place of enc.proj; the frozen tokun counted apart).")
    String patcher;

    @Option(names = "--tensors", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "List every tensor (--no-tensors: totals only).")
    boolean listTensors;

    @Override
    public Integer call() throws java.io.IOException {
        Bounds.batch("--batch-size", batchSize, "--seq-len", seqLen, 1);
        if (model.dense()) {
            return dense(model.denseConfig());
        }
        if (model.rnn()) {
            return rnn(model.rnnConfig());
        }
        ModelConfig c = model.config();
        io.ionllama.model.TokunConfig tokun = patcher != null && io.ionllama.model.Patcher.isTokun(patcher)
                ? TrainCommand.tokunPatcher(patcher, c).config() : null;
        if (patcher != null && tokun == null) {
            io.ionllama.model.Patcher.parse(patcher, c.maxPatch(), c.targetPatch()); // the others share one layout: only checked
        }
        ParamLayout layout = Architecture.layout(c, tokun == null ? 0 : tokun.dim());
        System.out.println("ionLlama v12 " + c.size() + (tokun == null ? "" : ", patcher " + patcher.strip() + ": a frozen "
                + tokun.describe() + " (" + String.format("%,d", tokun.layout().total()) + " params, not trained) as the patch encoder"));
        StringBuilder dims = new StringBuilder();
        for (Map.Entry<String, String> e : c.toMap().entrySet()) {
            dims.append(dims.isEmpty() ? "  " : " ").append(e.getKey()).append('=').append(e.getValue());
        }
        System.out.println(dims);
        printTensors(layout);
        System.out.printf("%n  total parameters   %,d (%s nominal %s)%n", layout.total(),
                c.size(), human(ModelConfig.nominalParams(c.size())));
        MemoryEstimate m = MemoryEstimate.of(c, layout, batchSize, seqLen);
        long frozen = 0;
        if (tokun != null) {
            MemoryEstimate f = MemoryEstimate.ofTokunPatcher(tokun, tokun.layout().total(), batchSize, seqLen);
            frozen = f.total();
            System.out.printf("  frozen tokun       %s (its weights and gradient array %s; its buffers for a batch's patches %s)%n",
                    bytes(f.total()), bytes(f.optimizerState()), bytes(f.activations()));
        }
        printMemory(layout, m, seqLen, frozen);
        return 0;
    }

    /** {@code info --model dense}: the dense byte GPT's dimensions, tensors, parameters and step memory. */
    private int dense(DenseConfig c) {
        ParamLayout layout = Architecture.dense(c);
        System.out.println("dense byte-level GPT (" + c.describe() + ")");
        StringBuilder dims = new StringBuilder();
        for (Map.Entry<String, String> e : c.toMap().entrySet()) {
            dims.append(dims.isEmpty() ? "  " : " ").append(e.getKey()).append('=').append(e.getValue());
        }
        System.out.println(dims);
        printTensors(layout);
        System.out.printf("%n  total parameters   %,d (the seed's: about 2.5M at its defaults)%n", layout.total());
        // A dense step reads at most the context: a longer --seq-len is estimated at the context.
        int T = Math.min(seqLen, c.context());
        printMemory(layout, MemoryEstimate.ofDense(c, layout, batchSize, T), T, 0);
        return 0;
    }

    /** {@code info --model rnn}: the context-vector RNN's dimensions, tensors, parameters and step memory. */
    private int rnn(RnnConfig c) {
        ParamLayout layout = Architecture.rnn(c);
        System.out.println("context-vector RNN (" + c.describe() + ")");
        StringBuilder dims = new StringBuilder();
        for (Map.Entry<String, String> e : c.toMap().entrySet()) {
            dims.append(dims.isEmpty() ? "  " : " ").append(e.getKey()).append('=').append(e.getValue());
        }
        System.out.println(dims);
        printTensors(layout);
        System.out.printf("%n  total parameters   %,d (the seed's: about 2.7M at its base configuration)%n", layout.total());
        System.out.printf("  generation state   %,d floats (the context vectors; flat in the length)%n", c.layers() * c.dContext());
        printMemory(layout, MemoryEstimate.ofRnn(c, layout, batchSize, seqLen), seqLen, 0);
        return 0;
    }

    private void printTensors(ParamLayout layout) {
        if (listTensors) {
            System.out.printf("%n  %-28s %-20s %14s%n", "tensor", "shape", "params");
            for (ParamLayout.Tensor t : layout.tensors()) {
                System.out.printf("  %-28s %-20s %,14d%n", t.name(), t.shapeString(), t.size());
            }
        }
    }

    /** The step's memory, and whether it fits the heap with {@code frozen} bytes (a frozen patcher's) beside it. */
    private void printMemory(ParamLayout layout, MemoryEstimate m, int seqLen, long frozen) {
        System.out.printf("  training step      %s (parameters, gradients, AdamW moments %s; activations %s) at batch %d x %d bytes%n",
                bytes(m.total()), bytes(m.optimizerState()), bytes(m.activations()), batchSize, seqLen);
        long heap = Runtime.getRuntime().maxMemory();
        if (!layout.fitsInOneArray()) {
            System.out.println("  does not fit: more than 2^31 parameters cannot live in one Java array");
        } else if (m.total() + frozen > heap) {
            System.out.printf("  does not fit in this JVM's heap (%s): raise -Xmx or choose a smaller size/batch%n", bytes(heap));
        } else {
            System.out.printf("  fits in this JVM's heap (%s)%n", bytes(heap));
        }
    }

    static String human(long n) {
        if (n >= 1_000_000_000L) {
            return String.format("%.1fB", n / 1e9);
        }
        if (n >= 1_000_000L) {
            return String.format("%.0fM", n / 1e6);
        }
        return String.format("%,d", n);
    }

    static String bytes(long b) {
        if (b >= 1L << 30) {
            return String.format("%.2f GiB", b / (double) (1L << 30));
        }
        return String.format("%.1f MiB", b / (double) (1L << 20));
    }
}
