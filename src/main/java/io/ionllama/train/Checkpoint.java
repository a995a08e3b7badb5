package io.ionllama.train;

import io.ionllama.model.Architecture;
import io.ionllama.model.ByteModel;
import io.ionllama.model.ContextRnn;
import io.ionllama.model.DenseConfig;
import io.ionllama.model.DenseGpt;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.ParamLayout;
import io.ionllama.model.Patcher;
import io.ionllama.model.RnnConfig;
import io.ionllama.model.Tokun;
import io.ionllama.model.TokunConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Checkpoints as safetensors files: every parameter tensor under its layout name, optimizer
 * moments under {@code adamw.m.}, {@code adamw.v.} and {@code muon.m.} prefixes (omitted in
 * weights-only files), and metadata with the model and training configuration, the step, the
 * patch threshold and everything else a resumed run needs. The architecture is recorded as
 * {@code model} ({@code ionllama}, {@code dense}, {@code rnn} or {@code tokun}; files without it are ionLlama's), and a file of
 * one architecture given to another is refused in one line. Written atomically by
 * {@link Safetensors#write}; loading checks the model's dimensions and every tensor's name and
 * shape and says in one line what does not fit.
 *
 * <p>A model's frozen parts ({@link ByteModel#frozenParts}: the tokun of an ionLlama model trained
 * with {@code --patcher tokun:PATH}) are stored whole under their prefix, with their configuration
 * in the model's metadata, so such a file is loaded without the tokun checkpoint it came from.
 */
public final class Checkpoint {
    private Checkpoint() {}

    public static final String FORMAT = "ionllama-v12-1";

    /** A problem with a checkpoint file: its message is one line for the user. */
    public static final class CheckpointException extends IOException {
        public CheckpointException(String message) {
            super(printable(message));
        }

        /**
         * The message with control characters written as {@code \\uXXXX}: messages quote values
         * read from a damaged file, and a carriage return or newline among them would break the
         * one-line error (a fuzzed header once turned the '-' of the format name into '\\r').
         */
        static String printable(String message) {
            StringBuilder b = new StringBuilder(message.length());
            message.codePoints().forEach(c -> {
                if (Character.isISOControl(c)) {
                    b.append(String.format("\\u%04X", c));
                } else {
                    b.appendCodePoint(c);
                }
            });
            return b.toString();
        }
    }

    /**
     * What a checkpoint's metadata says about the run that wrote it. {@code model} is the
     * architecture; {@code config} (with patcher, dense attention, θ and level) describes an
     * ionLlama model and is null for the others; {@code denseConfig} is the dense model's and
     * {@code rnnConfig} the context-vector RNN's (each null for the other models).
     * {@code tokunConfig} is a tokun model's, or an ionLlama model's frozen tokun patch encoder
     * ({@code --patcher tokun:PATH}); null otherwise.
     */
    public record Meta(ModelConfig config, String patcher, boolean dense, float theta, double level, long step,
                       long bytesSeen, long skippedSteps, double bestValidBpb, Map<String, String> raw, String model,
                       DenseConfig denseConfig, RnnConfig rnnConfig, TokunConfig tokunConfig) {

        /** The dimensions as the model reports them ({@link ByteModel#configMap}). */
        public Map<String, String> configMap() {
            return config != null ? config.toMap() : denseConfig != null ? denseConfig.toMap()
                    : rnnConfig != null ? rnnConfig.toMap() : tokunConfig.toMap();
        }

        /** The layout of the model the file holds. */
        ParamLayout layout() {
            return config != null ? Architecture.layout(config, patchTokun() ? tokunConfig.dim() : 0) : denseConfig != null ? Architecture.dense(denseConfig)
                    : rnnConfig != null ? Architecture.rnn(rnnConfig) : tokunConfig.layout();
        }

        public String describe() {
            return Checkpoint.describe(model, configMap());
        }

        /** Whether this is an ionLlama model whose patch vectors come from a frozen tokun it carries. */
        public boolean patchTokun() {
            return config != null && tokunConfig != null;
        }

        /** The layouts of the frozen parts the file carries, by tensor-name prefix (as {@link ByteModel#frozenParts}). */
        Map<String, ParamLayout> frozenLayouts() {
            return patchTokun() ? Map.of(IonLlama.TOKUN_PREFIX, tokunConfig.layout()) : Map.of();
        }
    }

    /** Writes model (and, when {@code trainer} is not null, optimizer) state to {@code path} atomically. */
    public static void save(Path path, ByteModel model, Trainer trainer, long bytesSeen, double bestValidBpb,
                            Map<String, String> extra) throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("model", model.kind());
        for (Map.Entry<String, String> e : model.configMap().entrySet()) {
            meta.put("model." + e.getKey(), e.getValue());
        }
        meta.putAll(model.stateMeta());
        meta.put("bytes_seen", Long.toString(bytesSeen));
        meta.put("best_valid_bpb", Double.toString(bestValidBpb));
        if (extra != null) {
            meta.putAll(extra);
        }
        List<Safetensors.Tensor> tensors = new ArrayList<>();
        for (ParamLayout.Tensor t : model.layout().tensors()) {
            tensors.add(tensor(t.name(), t, model.params()));
        }
        for (Map.Entry<String, ByteModel> part : model.frozenParts().entrySet()) {
            part.getValue().backend().toHost(part.getValue().params());
            for (ParamLayout.Tensor t : part.getValue().layout().tensors()) {
                tensors.add(tensor(part.getKey() + t.name(), t, part.getValue().params()));
            }
        }
        if (trainer != null) {
            // The moments may live on the device between steps (TornadoVM backend): bring them home first.
            model.backend().toHost(model.params(), trainer.adamw().m, trainer.adamw().v);
            if (trainer.muon() != null) {
                model.backend().toHost(trainer.muon().momentum);
            }
            meta.put("step", Long.toString(trainer.step));
            meta.put("skipped_steps", Long.toString(trainer.skippedSteps));
            meta.put("adamw.t", Long.toString(trainer.adamw().t));
            TrainConfig c = trainer.cfg;
            meta.put("train.batch", Integer.toString(c.batch()));
            meta.put("train.seq_len", Integer.toString(c.seqLen()));
            meta.put("train.grad_accum", Integer.toString(c.gradAccum()));
            meta.put("train.lr", Float.toString(c.lr()));
            meta.put("train.min_lr", Float.toString(c.minLr()));
            meta.put("train.warmup", Integer.toString(c.warmup()));
            meta.put("train.max_steps", Long.toString(c.maxSteps()));
            meta.put("train.optimizer", c.optimizer());
            meta.put("train.weight_decay", Float.toString(c.weightDecay()));
            meta.put("train.clip", Float.toString(c.clip()));
            meta.put("train.seed", Long.toString(c.seed()));
            meta.put("train.entropy_warmup", Integer.toString(c.entropyWarmup()));
            meta.put("train.adamw_lr", Float.toString(c.adamwLr()));
            meta.put("train.max_seconds", Double.toString(c.maxSeconds()));
            meta.put("train.dropout", Float.toString(c.dropout()));
            // Training time so far: where a resumed time-driven run continues its schedule.
            meta.put("train.elapsed_s", Double.toString(trainer.elapsed()));
            meta.put("train.clock", trainer.clockKind());
            meta.put("train.mix_tasks", Double.toString(trainer.mixTasks()));
            meta.put("train.grad_accum_sum", trainer.accumSum().flag());
            for (ParamLayout.Tensor t : model.layout().tensors()) {
                tensors.add(tensor("adamw.m." + t.name(), t, trainer.adamw().m));
                tensors.add(tensor("adamw.v." + t.name(), t, trainer.adamw().v));
            }
            if (trainer.muon() != null) {
                for (ParamLayout.Tensor t : trainer.muon().muonTensors()) {
                    tensors.add(tensor("muon.m." + t.name(), t, trainer.muon().momentum));
                }
            }
        }
        try {
            Safetensors.write(path, meta, tensors);
        } catch (IOException e) {
            throw new CheckpointException(writeFailure(path, e));
        }
    }

    /**
     * One line for a checkpoint that could not be written: the file, why, and what is left. The
     * write is atomic (a temporary file renamed over the old one), so an earlier checkpoint at
     * {@code path} is still whole.
     */
    static String writeFailure(Path path, IOException e) {
        String left = Files.isRegularFile(path) ? "the previous " + path.getFileName() + " is intact"
                : "no earlier checkpoint was there";
        return "cannot write checkpoint " + path + " (" + reason(e) + "); " + left;
    }

    /** Why an I/O operation failed, in words: "the disk is full", "permission denied", the system's reason. */
    public static String reason(IOException e) {
        String msg = String.valueOf(e.getMessage());
        if (msg.contains("No space left on device") || msg.contains("Disk quota exceeded")) {
            return "the disk is full";
        }
        if (e instanceof java.nio.file.AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof java.nio.file.DirectoryNotEmptyException || msg.contains("Is a directory")) {
            return "a folder of that name is in the way";
        }
        if (e instanceof java.nio.file.FileAlreadyExistsException) {
            return "a file of that name is in the way";
        }
        if (e instanceof java.nio.file.NoSuchFileException) {
            return "its folder does not exist";
        }
        if (e instanceof java.nio.file.FileSystemException fs && fs.getReason() != null) {
            return fs.getReason();
        }
        return msg;
    }

    private static Safetensors.Tensor tensor(String name, ParamLayout.Tensor t, float[] data) {
        long[] shape = new long[t.shape().length];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = t.shape()[i];
        }
        return new Safetensors.Tensor(name, shape, data, t.off());
    }

    /**
     * Reads and validates the metadata of {@code path}, and checks that the file holds every
     * parameter tensor, in the shape, that the configuration implies: before a model is
     * allocated, so a corrupt or edited configuration cannot ask for gigabytes first.
     */
    public static Meta readMeta(Path path) throws IOException {
        Safetensors.Reader r = open(path);
        Meta meta = meta(path, r.metadata());
        ParamLayout layout = meta.layout();
        java.util.Set<String> names = new java.util.HashSet<>();
        for (ParamLayout.Tensor t : layout.tensors()) {
            entry(r, path, t.name(), t);
            names.add(t.name());
        }
        for (Map.Entry<String, ParamLayout> part : meta.frozenLayouts().entrySet()) {
            for (ParamLayout.Tensor t : part.getValue().tensors()) {
                entry(r, path, part.getKey() + t.name(), t);
                names.add(part.getKey() + t.name());
            }
        }
        // Nothing beyond the configuration's tensors and their optimizer moments: a file with more was
        // written for another configuration (a damaged layer count would otherwise load the wrong slices).
        for (String name : r.entries().keySet()) {
            String base = name.startsWith("adamw.m.") || name.startsWith("adamw.v.") || name.startsWith("muon.m.")
                    ? name.substring(name.indexOf('.', name.indexOf('.') + 1) + 1) : name;
            if (!names.contains(base)) {
                throw new CheckpointException(path + " holds tensor '" + name + "', which its configuration (" + meta.describe()
                        + ") does not have: the file is damaged or its metadata edited");
            }
        }
        return meta;
    }

    static Safetensors.Reader open(Path path) throws IOException {
        if (!Files.exists(path)) {
            throw new CheckpointException("no checkpoint at " + path);
        }
        try {
            return Safetensors.open(path);
        } catch (Safetensors.FormatException e) {
            throw new CheckpointException(e.getMessage());
        }
    }

    private static Meta meta(Path path, Map<String, String> m) throws CheckpointException {
        if (!FORMAT.equals(m.get("format"))) {
            throw new CheckpointException(path + " is not an ionllama v12 checkpoint (format '" + m.get("format") + "')");
        }
        if (!m.containsKey(Safetensors.CHECKSUM_KEY)) {
            // Every checkpoint this project writes has one: without it the data could not be verified.
            throw new CheckpointException(path + ": damaged header (the data's checksum is missing)");
        }
        String model = m.getOrDefault("model", IonLlama.KIND);
        if (model.equals(DenseGpt.KIND)) {
            try {
                DenseConfig dc = DenseConfig.fromMap(m, "model.").validate();
                return new Meta(null, null, false, 0f, 0, Long.parseLong(m.getOrDefault("step", "0")),
                        Long.parseLong(m.getOrDefault("bytes_seen", "0")), Long.parseLong(m.getOrDefault("skipped_steps", "0")),
                        Double.parseDouble(m.getOrDefault("best_valid_bpb", "NaN")), m, model, dc, null, null);
            } catch (RuntimeException e) {
                throw new CheckpointException(path + ": unreadable checkpoint metadata (" + e.getMessage() + ")");
            }
        }
        if (model.equals(ContextRnn.KIND)) {
            try {
                RnnConfig rc = RnnConfig.fromMap(m, "model.").validate();
                return new Meta(null, null, false, 0f, 0, Long.parseLong(m.getOrDefault("step", "0")),
                        Long.parseLong(m.getOrDefault("bytes_seen", "0")), Long.parseLong(m.getOrDefault("skipped_steps", "0")),
                        Double.parseDouble(m.getOrDefault("best_valid_bpb", "NaN")), m, model, null, rc, null);
            } catch (RuntimeException e) {
                throw new CheckpointException(path + ": unreadable checkpoint metadata (" + e.getMessage() + ")");
            }
        }
        if (model.equals(Tokun.KIND)) {
            try {
                TokunConfig tc = TokunConfig.fromMap(m, "model.");
                return new Meta(null, null, false, 0f, 0, Long.parseLong(m.getOrDefault("step", "0")),
                        Long.parseLong(m.getOrDefault("bytes_seen", "0")), Long.parseLong(m.getOrDefault("skipped_steps", "0")),
                        Double.parseDouble(m.getOrDefault("best_valid_bpb", "NaN")), m, model, null, null, tc);
            } catch (RuntimeException e) {
                throw new CheckpointException(path + ": unreadable checkpoint metadata (" + e.getMessage() + ")");
            }
        }
        if (!model.equals(IonLlama.KIND)) {
            throw new CheckpointException(path + " holds a model of unknown architecture '" + model
                    + "' (expected ionllama, dense, rnn or tokun)");
        }
        try {
            String[] ng = m.get("model.ngrams").isEmpty() ? new String[0] : m.get("model.ngrams").split(",");
            int[] ngrams = new int[ng.length];
            for (int i = 0; i < ng.length; i++) {
                ngrams[i] = Integer.parseInt(ng[i]);
            }
            ModelConfig c = new ModelConfig(m.get("model.size"), i(m, "model.d_local"), i(m, "model.d_model"),
                    i(m, "model.layers"), i(m, "model.heads"), i(m, "model.n_enc"), i(m, "model.n_dec"),
                    i(m, "model.d_entropy"), i(m, "model.n_entropy"), ngrams, i(m, "model.buckets"),
                    i(m, "model.local_mlp"), i(m, "model.global_mlp"), i(m, "model.window"), i(m, "model.max_patch"),
                    Float.parseFloat(m.get("model.target_patch"))).validate();
            // A tokun patcher's tokun is carried by the file: its configuration under patcher.tokun.
            TokunConfig patchTokun = Patcher.isTokun(m.get("patcher")) ? TokunConfig.fromMap(m, IonLlama.TOKUN_PREFIX) : null;
            patcher(m.get("patcher"), c, patchTokun);
            return new Meta(c, m.get("patcher"), "dense".equals(m.get("attention")), Float.parseFloat(m.get("patch.theta")),
                    Double.parseDouble(m.get("patch.level")), Long.parseLong(m.getOrDefault("step", "0")),
                    Long.parseLong(m.getOrDefault("bytes_seen", "0")), Long.parseLong(m.getOrDefault("skipped_steps", "0")),
                    Double.parseDouble(m.getOrDefault("best_valid_bpb", "NaN")), m, model, null, null, patchTokun);
        } catch (RuntimeException e) {
            throw new CheckpointException(path + ": unreadable checkpoint metadata (" + e.getMessage() + ")");
        }
    }

    /** The patcher {@code spec} names for a model of configuration {@code c} ({@code tokun} its tokun's, for tokun:PATH). */
    private static Patcher patcher(String spec, ModelConfig c, TokunConfig tokun) {
        return tokun != null ? Patcher.tokun(Patcher.tokunPath(spec), tokun.chunk(), c.maxPatch(), c.targetPatch())
                : Patcher.parse(spec, c.maxPatch(), c.targetPatch());
    }

    private static int i(Map<String, String> m, String key) {
        String v = m.get(key);
        if (v == null) {
            throw new IllegalArgumentException("missing " + key);
        }
        return Integer.parseInt(v);
    }

    /**
     * Loads parameters (and, with a trainer, its optimizer state and step) from {@code path} into
     * {@code model}, whose configuration must match the file's.
     */
    public static Meta load(Path path, ByteModel model, Trainer trainer) throws IOException {
        Safetensors.Reader r = open(path);
        Meta meta = meta(path, r.metadata());
        checkArchitecture(path, meta, model.kind());
        if (!meta.configMap().equals(model.configMap())) {
            throw new CheckpointException(path + " holds a different model (" + meta.describe() + ") than requested ("
                    + describe(model.kind(), model.configMap()) + ")");
        }
        if (!meta.frozenLayouts().keySet().equals(model.frozenParts().keySet())) {
            throw new CheckpointException(path + " holds a model patched " + (meta.patchTokun() ? "by a tokun" : "by --patcher "
                    + meta.patcher()) + ", not one patched as requested (" + (model.patcher() == null ? model.kind()
                    : "--patcher " + model.patcher().spec()) + ")");
        }
        for (ParamLayout.Tensor t : model.layout().tensors()) {
            read(r, path, t.name(), t, model.params());
        }
        for (Map.Entry<String, ByteModel> part : model.frozenParts().entrySet()) {
            ByteModel frozen = part.getValue();
            for (Map.Entry<String, String> e : frozen.configMap().entrySet()) {
                if (!e.getValue().equals(meta.raw().get(part.getKey() + e.getKey()))) {
                    throw new CheckpointException(path + " carries a different " + frozen.kind() + " (" + part.getKey() + e.getKey()
                            + " " + meta.raw().get(part.getKey() + e.getKey()) + ") than the model's (" + e.getValue() + ")");
                }
            }
            for (ParamLayout.Tensor t : frozen.layout().tensors()) {
                read(r, path, part.getKey() + t.name(), t, frozen.params());
            }
            frozen.backend().hostChanged(frozen.params());
        }
        model.restoreState(meta.raw());
        if (trainer != null) {
            if (!r.entries().containsKey("adamw.m." + model.layout().tensors().get(0).name())) {
                throw new CheckpointException(path + " holds weights only, no optimizer state to resume from");
            }
            for (ParamLayout.Tensor t : model.layout().tensors()) {
                read(r, path, "adamw.m." + t.name(), t, trainer.adamw().m);
                read(r, path, "adamw.v." + t.name(), t, trainer.adamw().v);
            }
            if (trainer.muon() != null) {
                // Tensors the file lacks keep the momentum they have: bring it home before writing the rest.
                model.backend().toHost(trainer.muon().momentum);
                for (ParamLayout.Tensor t : trainer.muon().muonTensors()) {
                    if (r.entries().containsKey("muon.m." + t.name())) {
                        read(r, path, "muon.m." + t.name(), t, trainer.muon().momentum);
                    }
                }
                model.backend().hostChanged(trainer.muon().momentum);
            }
            model.backend().hostChanged(model.params(), trainer.adamw().m, trainer.adamw().v);
            trainer.step = meta.step();
            trainer.skippedSteps = meta.skippedSteps();
            trainer.adamw().t = Long.parseLong(meta.raw().getOrDefault("adamw.t", Long.toString(meta.step())));
            trainer.elapsedBefore = Double.parseDouble(meta.raw().getOrDefault("train.elapsed_s", "NaN"));
            trainer.startClock();
        }
        return meta;
    }

    private static void read(Safetensors.Reader r, Path path, String name, ParamLayout.Tensor t, float[] dst) throws IOException {
        entry(r, path, name, t);
        r.readF32(name, dst, t.off());
    }

    /** The file's entry for tensor {@code name}, which must have {@code t}'s shape. */
    private static Safetensors.Entry entry(Safetensors.Reader r, Path path, String name, ParamLayout.Tensor t) throws CheckpointException {
        Safetensors.Entry e = r.entries().get(name);
        if (e == null) {
            throw new CheckpointException(path + " lacks tensor '" + name + "'");
        }
        long[] want = new long[t.shape().length];
        for (int i = 0; i < want.length; i++) {
            want[i] = t.shape()[i];
        }
        if (!java.util.Arrays.equals(e.shape(), want)) {
            throw new CheckpointException(path + ": tensor '" + name + "' has shape " + java.util.Arrays.toString(e.shape())
                    + ", the model expects " + java.util.Arrays.toString(want));
        }
        return e;
    }

    static String describe(String kind, Map<String, String> c) {
        if (kind.equals(DenseGpt.KIND)) {
            return String.format("dense: d_model %s, %s layers, %s heads, mlp %s, context %s", c.get("d_model"), c.get("layers"),
                    c.get("heads"), c.get("mlp"), c.get("context"));
        }
        if (kind.equals(Tokun.KIND)) {
            return String.format("tokun: groups %s, dim %s, %s heads, mlp %s", c.get("groups"), c.get("dim"), c.get("heads"),
                    c.get("mlp"));
        }
        if (kind.equals(ContextRnn.KIND)) {
            return String.format("rnn: d_embed %s, d_hidden %s, d_context %s, %s layers", c.get("d_embed"), c.get("d_hidden"),
                    c.get("d_context"), c.get("layers"));
        }
        return String.format("%s: d_local %s, d_model %s, %s layers, %s heads", c.get("size"), c.get("d_local"), c.get("d_model"),
                c.get("layers"), c.get("heads"));
    }

    /**
     * Refuses, in one line, a checkpoint of another architecture than {@code expected} (a dense or
     * rnn checkpoint given where an ionLlama model is wanted, and every other pair).
     */
    public static void checkArchitecture(Path path, Meta meta, String expected) throws CheckpointException {
        if (!meta.model().equals(expected) && meta.model().equals(Tokun.KIND)) {
            throw new CheckpointException(path + " is a checkpoint of tokun, the byte-group autoencoder, not of a " + expected
                    + " language model: it reconstructs bytes and cannot predict them (use ionllama tokun eval or tokun roundtrip)");
        }
        if (!meta.model().equals(expected) && expected.equals(Tokun.KIND)) {
            throw new CheckpointException(path + " is a checkpoint of the " + meta.model() + " language model, not of tokun"
                    + " (train one with ionllama tokun train)");
        }
        if (!meta.model().equals(expected)) {
            throw new CheckpointException(path + " is a checkpoint of the " + meta.model() + " model, not of " + expected
                    + " (it was trained with --model " + meta.model() + ")");
        }
    }

    /** Creates the model a checkpoint describes, of whichever architecture (on {@code backend}), and loads its weights. */
    public static ByteModel loadAny(Path path, io.ionllama.backend.Backend backend) throws IOException {
        Meta meta = readMeta(path);
        if (meta.model().equals(Tokun.KIND)) {
            // Every caller of loadAny wants a language model (generate, chat, eval, demo).
            checkArchitecture(path, meta, IonLlama.KIND);
        }
        if (meta.model().equals(DenseGpt.KIND)) {
            DenseGpt m = new DenseGpt(meta.denseConfig(), backend);
            load(path, m, null);
            return m;
        }
        if (meta.model().equals(ContextRnn.KIND)) {
            ContextRnn m = new ContextRnn(meta.rnnConfig(), backend);
            load(path, m, null);
            return m;
        }
        return loadModel(path, backend);
    }

    /** Creates the tokun model a checkpoint describes (on {@code backend}) and loads its weights; refuses any other model in one line. */
    public static Tokun loadTokun(Path path, io.ionllama.backend.Backend backend) throws IOException {
        Meta meta = readMeta(path);
        checkArchitecture(path, meta, Tokun.KIND);
        Tokun m = new Tokun(meta.tokunConfig(), backend);
        load(path, m, null);
        return m;
    }

    /** Creates the ionLlama model a checkpoint describes (on {@code backend}) and loads its weights. */
    public static IonLlama loadModel(Path path, io.ionllama.backend.Backend backend) throws IOException {
        Meta meta = readMeta(path);
        checkArchitecture(path, meta, IonLlama.KIND);
        IonLlama m = newModel(meta, backend);
        load(path, m, null);
        return m;
    }

    /**
     * The ionLlama model {@code meta} describes, its weights not yet loaded ({@link #load} reads
     * them, a tokun patch encoder's included): what resuming a run builds before loading.
     */
    public static IonLlama newModel(Meta meta, io.ionllama.backend.Backend backend) {
        Tokun patchEncoder = meta.patchTokun() ? new Tokun(meta.tokunConfig(), backend) : null;
        return new IonLlama(meta.config(), backend, patcher(meta.patcher(), meta.config(), meta.tokunConfig()), meta.dense(),
                patchEncoder);
    }
}
