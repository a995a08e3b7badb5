package io.ionllama.backend.tornado;

import io.ionllama.backend.Backends;
import io.ionllama.backend.ForwardingBackend;
import io.ionllama.backend.cpu.CpuBackend;
import java.util.List;
import java.util.Map;

/**
 * The TornadoVM backend: runs the kernel library's units as TaskGraphs on a TornadoVM device (a
 * GPU through PTX or OpenCL, or a CPU through OpenCL/PoCL, which is how it is tested).
 *
 * <p><b>What runs on the device now</b> (each a TaskGraph with named tasks whose kernels call the
 * kernel library's units):
 * <ul>
 *   <li>matmul: {@link #matmulForward} ({@link MatmulKernels#forward}, or {@link MatmulKernels#forwardTiled}
 *       when {@code -Dionllama.tornado.tile=T} is set), {@link #matmulBackwardInput},
 *       {@link #matmulBackwardWeight} (weight and bias gradients);</li>
 *   <li>RMSNorm forward and backward ({@link NormKernels});</li>
 *   <li>the IntegralLNN scan: {@link #scanForward}, {@link #scanForwardChunked}, {@link #scanBackward},
 *       {@link #scanBackwardChunked} as the three-phase chunked scan ({@link ScanKernels}), also for
 *       the "sequential" methods, whose results it matches to rounding; the gate forward and
 *       backward and generation's {@link #scanStep} ({@link GlueKernels});</li>
 *   <li>attention: sparse dilated and dense, forward and backward (a query pass for dq and a key
 *       GATHER pass for dk, dv), generation's one-query {@link #attentionQuery}, RoPE forward and
 *       backward ({@link AttentionKernels});</li>
 *   <li>glue: copy, accumulate, fill, SwiGLU forward and backward ({@link GlueKernels});</li>
 *   <li>embeddings: byte embedding gather (also used by the model as a row gather) and its
 *       per-channel scatter backward, n-gram bucket indices, n-gram forward and backward
 *       ({@link EmbeddingKernels});</li>
 *   <li>losses: cross-entropy forward and backward, entropy, argmax and the batch statistics, whose
 *       1/valid rows the backward reads from the statistics array ({@link LossKernels});</li>
 *   <li>patch boundaries: the entropy threshold's calibration (an exact quantile in one
 *       work-group), the per-sequence decision, the sequence starts and the global stage's rows
 *       ({@link PatchKernels});</li>
 *   <li>the optimizer: AdamW, per tensor or over the whole tensor list in one launch with the
 *       moments kept on the device ({@link #adamwTensors}), and the per-block sums of squares of
 *       the gradient norm ({@link OptimKernels}).</li>
 * </ul>
 * That is every op a training step and generation call. <b>LayerNorm, softmax and the standalone
 * activations</b> (silu, gelu, softplus), which the model does not call, run on an internal
 * {@link CpuBackend}, inherited from {@link ForwardingBackend}: an op gets a device version by
 * overriding it here.
 *
 * <p>What stays on the device: inside training steps ({@link #beginStep} .. {@link #endStep}),
 * from the second step on, every array the step binds, in one execution plan ({@link Residency});
 * outside steps, AdamW's moments when the trainer's one-launch update runs ({@link #adamwTensors}).
 * Either way they come back to the host through {@link #toHost} (checkpoints call it) and are
 * replaced after {@link #hostChanged} (a loaded checkpoint). An op outside a step moves its data
 * per call: it copies its inputs to the device and its results back
 * (see {@link MatmulGraphs}), because {@link io.ionllama.backend.Backend} is called with host
 * {@code float[]} slices. {@link #bytesToDevice()} and {@link #bytesToHost()} count what moves
 * (nano at batch 8 x 256: about 380 MB in and 240 MB out per training step, against 4.4 MB of
 * parameters). Keeping parameters, gradients, moments and activations resident on the device is
 * the next step; until then this backend is correct but pays a transfer per op, so it is for
 * testing and for large matmuls rather than for speed.
 *
 * <p>This class is loaded by {@link Backends} through reflection and must load (and answer
 * {@link #unavailableReason()}) in a JVM without TornadoVM, so it names no TornadoVM type itself:
 * everything that does lives in the package's other classes, loaded on first use.
 */
public final class TornadoBackend extends ForwardingBackend {

    /** {@code -Dionllama.tornado.profile=true}: collect device kernel times in {@link #stats()}. */
    public static final String PROFILE_PROPERTY = "ionllama.tornado.profile";
    /**
     * {@code -Dionllama.tornado.resident=false}: every op copies its data per call, also inside
     * training steps (the default keeps a step's arrays on the device, see {@link Residency}).
     */
    public static final String RESIDENT_PROPERTY = "ionllama.tornado.resident";
    /** {@code -Dionllama.tornado.tile=T}: matmul forward through the tiled local-memory kernel with T x T work-groups. */
    public static final String TILE_PROPERTY = "ionllama.tornado.tile";

    private static volatile String cachedReason;
    private static volatile boolean probed;

    private final CpuBackend cpu;
    private final TornadoSession session;
    private final MatmulGraphs matmul;
    private final NormGraphs norms;
    private final ScanGraphs scan;
    private final AttentionGraphs attention;
    private final GlueGraphs glue;
    private final EmbeddingGraphs embeddings;
    private final LossGraphs losses;
    private final PatchGraphs patches;
    private final OptimGraphs optim;
    private final Residency residency;
    private final int tile;

    /**
     * Opens the backend on device {@code device} (the numbering of {@code ionllama devices});
     * a negative value takes {@code -Dionllama.device}, else TornadoVM's default device. Ops that
     * do not run on the device use a CPU backend with as many threads as the machine has.
     */
    public TornadoBackend(int device) {
        this(device, Backends.defaultThreads(), Boolean.getBoolean(PROFILE_PROPERTY), Integer.getInteger(TILE_PROPERTY, 0));
    }

    public TornadoBackend(int device, int cpuThreads) {
        this(device, cpuThreads, Boolean.getBoolean(PROFILE_PROPERTY), Integer.getInteger(TILE_PROPERTY, 0));
    }

    /** Whether training steps keep their arrays on the device: {@link #RESIDENT_PROPERTY}, on unless set to false. */
    static boolean residentByDefault() {
        return !"false".equalsIgnoreCase(System.getProperty(RESIDENT_PROPERTY, "true"));
    }

    /**
     * @param profile collect the device's kernel and transfer times per op ({@link #stats()})
     * @param tile    0: matmul forward with one thread per output cell; T in 1..32: the tiled kernel with T x T work-groups
     */
    public TornadoBackend(int device, int cpuThreads, boolean profile, int tile) {
        this(new CpuBackend(cpuThreads), device, profile, tile, residentByDefault());
    }

    /** @param resident keep a training step's arrays on the device ({@link Residency}) */
    public TornadoBackend(int device, int cpuThreads, boolean profile, int tile, boolean resident) {
        this(new CpuBackend(cpuThreads), device, profile, tile, resident);
    }

    private TornadoBackend(CpuBackend cpu, int device, boolean profile, int tile, boolean resident) {
        super(cpu);
        String why = unavailableReason();
        if (why != null) {
            cpu.close();
            throw new IllegalStateException(why);
        }
        if (tile < 0 || tile > MatmulKernels.MAX_TILE) {
            cpu.close();
            throw new IllegalArgumentException("tile " + tile + " out of range 0.." + MatmulKernels.MAX_TILE);
        }
        this.cpu = cpu;
        try {
            this.session = new TornadoSession(TornadoDevices.select(device), profile);
        } catch (RuntimeException e) {
            cpu.close();
            throw e;
        }
        if (tile > 0) {
            long maxGroup = session.device().maxWorkGroupThreads();
            if (maxGroup > 0 && (long) tile * tile > maxGroup) {
                cpu.close();
                throw new IllegalArgumentException("tile " + tile + " needs " + tile * tile + " threads per work-group; "
                        + deviceName() + " allows " + maxGroup);
            }
        }
        this.tile = tile;
        this.residency = new Residency(session, resident);
        this.matmul = new MatmulGraphs(session, residency);
        this.norms = new NormGraphs(session, residency);
        this.scan = new ScanGraphs(session, residency);
        this.attention = new AttentionGraphs(session, residency);
        this.glue = new GlueGraphs(session, residency);
        this.embeddings = new EmbeddingGraphs(session, residency);
        this.losses = new LossGraphs(session, residency);
        this.patches = new PatchGraphs(session, residency);
        this.optim = new OptimGraphs(session, residency);
    }

    /**
     * Null when this JVM runs TornadoVM and it sees a device; otherwise why not, in one line.
     * Never throws: without TornadoVM's classes (a plain {@code java -jar}) it says so.
     */
    public static String unavailableReason() {
        if (probed) {
            return cachedReason;
        }
        synchronized (TornadoBackend.class) {
            if (!probed) {
                cachedReason = probe();
                probed = true;
            }
            return cachedReason;
        }
    }

    private static String probe() {
        String launch = "run under TornadoVM: `tornado -jar target/ionllama.jar ...`, or scripts/ionllama with TORNADOVM_HOME set";
        try {
            Class.forName("uk.ac.manchester.tornado.api.TornadoExecutionPlan", false, TornadoBackend.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            return "no TornadoVM runtime in this JVM; " + launch;
        }
        if (System.getProperty("tornado.load.runtime.implementation") == null) {
            // TornadoVM's argfile sets this; without it the API is present but its runtime is not.
            return "this JVM was not started through TornadoVM (its API is here, its runtime is not); " + launch;
        }
        try {
            return TornadoSession.probe();
        } catch (LinkageError | RuntimeException e) {
            // Launched through TornadoVM, but its runtime failed to start: usually no OpenCL/CUDA
            // platform or driver. Name the innermost cause in one line.
            Throwable root = e;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            String text = root.getMessage() == null ? "" : root.getMessage().replaceAll("\u001B\\[[0-9;]*m", "");
            String msg = text.isBlank() ? "" : ": " + text.lines().findFirst().orElse("").strip();
            return "TornadoVM's runtime failed to start (" + root.getClass().getSimpleName() + msg
                    + "); check its driver and devices with `tornado --devices`";
        }
    }

    /**
     * One line per TornadoVM device, numbered as {@code --device N} counts them, for
     * {@code ionllama devices}; empty when TornadoVM is unavailable.
     */
    public static List<String> deviceLines() {
        if (unavailableReason() != null) {
            return List.of();
        }
        return TornadoDevices.lines();
    }

    @Override
    public String name() {
        return "tornado";
    }

    @Override
    public String describe() {
        TornadoDevices.Entry d = session.device();
        return "tornado backend on device " + d.index() + " (" + d.backendName() + " " + d.backend() + ":" + d.device()
                + ", " + deviceName() + "); every training op on the device"
                + (tile > 0 ? " (matmul tiled " + tile + "x" + tile + ")" : "")
                + (residency.enabled() ? ", a training step's arrays resident from its second step on" : ", per-op transfers")
                + "; layernorm, softmax and the standalone activations, which the model does"
                + " not call, on the cpu (" + cpu.threads() + " thread(s))";
    }

    /** The device's name as its driver reports it. */
    public String deviceName() {
        return session.device().name();
    }

    /** Counters per device op (graphs built, executions, kernel time when profiling), by op name. */
    public Map<String, OpStats> stats() {
        return java.util.Collections.unmodifiableMap(session.allStats());
    }

    /** Bytes copied host to device by every device op so far: the whole staging arrays each graph transfers. */
    @Override
    public long bytesToDevice() {
        return session.bytesToDevice();
    }

    /** Bytes copied device to host by every device op so far. */
    @Override
    public long bytesToHost() {
        return session.bytesToHost();
    }

    /** The counters of one op ({@code "matmulForward"}, ...), zero when it has not run. */
    public OpStats stats(String op) {
        return session.stats(op);
    }

    @Override
    public void close() {
        try {
            matmul.close();
            norms.close();
            scan.close();
            attention.close();
            glue.close();
            embeddings.close();
            losses.close();
            patches.close();
            optim.close();
            residency.close();
        } finally {
            cpu.close();
        }
    }

    // ---------------------------------------------------------------- matmul (on the device)

    @Override
    public void matmulForward(float[] y, int yOff, float[] x, int xOff, float[] w, int wOff,
                              float[] b, int bOff, int rows, int in, int out) {
        if (rows <= 0 || in <= 0 || out <= 0) {
            cpu.matmulForward(y, yOff, x, xOff, w, wOff, b, bOff, rows, in, out);
            return;
        }
        matmul.forward(y, yOff, x, xOff, w, wOff, b, bOff, rows, in, out, tile);
    }

    /** The tiled local-memory matmul forward with {@code tile x tile} work-groups, whatever {@code -Dionllama.tornado.tile} says. */
    public void matmulForwardTiled(float[] y, int yOff, float[] x, int xOff, float[] w, int wOff,
                                   float[] b, int bOff, int rows, int in, int out, int tile) {
        if (tile < 1 || tile > MatmulKernels.MAX_TILE) {
            throw new IllegalArgumentException("tile " + tile + " out of range 1.." + MatmulKernels.MAX_TILE);
        }
        matmul.forward(y, yOff, x, xOff, w, wOff, b, bOff, rows, in, out, tile);
    }

    @Override
    public void matmulBackwardInput(float[] dx, int dxOff, float[] dy, int dyOff, float[] w, int wOff,
                                    int rows, int in, int out) {
        if (rows <= 0 || in <= 0 || out <= 0) {
            cpu.matmulBackwardInput(dx, dxOff, dy, dyOff, w, wOff, rows, in, out);
            return;
        }
        matmul.backwardInput(dx, dxOff, dy, dyOff, w, wOff, rows, in, out);
    }

    @Override
    public void matmulBackwardWeight(float[] dw, int dwOff, float[] db, int dbOff, float[] dy, int dyOff,
                                     float[] x, int xOff, int rows, int in, int out) {
        if (rows <= 0 || in <= 0 || out <= 0) {
            cpu.matmulBackwardWeight(dw, dwOff, db, dbOff, dy, dyOff, x, xOff, rows, in, out);
            return;
        }
        matmul.backwardWeight(dw, dwOff, db, dbOff, dy, dyOff, x, xOff, rows, in, out);
    }

    // ---------------------------------------------------------------- RMSNorm (on the device)

    @Override
    public void rmsNormForward(float[] out, int outOff, float[] rstd, int rstdOff, float[] x, int xOff,
                               float[] w, int wOff, int rows, int C, float eps) {
        if (rows <= 0 || C <= 0) {
            cpu.rmsNormForward(out, outOff, rstd, rstdOff, x, xOff, w, wOff, rows, C, eps);
            return;
        }
        norms.rmsForward(out, outOff, rstd, rstdOff, x, xOff, w, wOff, rows, C, eps);
    }

    @Override
    public void rmsNormBackward(float[] dx, int dxOff, float[] dw, int dwOff, float[] dy, int dyOff,
                                float[] x, int xOff, float[] w, int wOff, float[] rstd, int rstdOff,
                                int rows, int C) {
        if (rows <= 0 || C <= 0) {
            cpu.rmsNormBackward(dx, dxOff, dw, dwOff, dy, dyOff, x, xOff, w, wOff, rstd, rstdOff, rows, C);
            return;
        }
        norms.rmsBackward(dx, dxOff, dw, dwOff, dy, dyOff, x, xOff, w, wOff, rstd, rstdOff, rows, C);
    }

    // ---------------------------------------------------------------- IntegralLNN scan (on the device)
    //
    // Always the chunked three-phase scan: on a device the sequential form would leave a thread
    // walking T steps per channel. scanForward/scanBackward pick the chunk length
    // (ScanGraphs.defaultChunk, about sqrt(T)) and agree with the CPU's sequential scan to rounding.
    // The chunked methods take the caller's chunk length; their carry arrays are the CPU's scratch
    // and stay untouched here, the carries living on the device.

    @Override
    public void scanForward(float[] h, float[] a, float[] u, int off, int B, int T, int C) {
        scanForwardChunked(h, a, u, off, B, T, C, ScanGraphs.defaultChunk(T), null, null);
    }

    @Override
    public void scanForwardChunked(float[] h, float[] a, float[] u, int off, int B, int T, int C, int chunk,
                                   float[] carryA, float[] carryB) {
        if (chunk < 1) {
            throw new IllegalArgumentException("scan chunk length must be >= 1, got " + chunk);
        }
        if (B <= 0 || T <= 0 || C <= 0) {
            return;
        }
        scan.forward(h, a, u, off, B, T, C, chunk);
    }

    @Override
    public void scanBackward(float[] da, float[] du, float[] dh, float[] h, float[] a, float[] u,
                             int off, int B, int T, int C) {
        scanBackwardChunked(da, du, dh, h, a, u, off, B, T, C, ScanGraphs.defaultChunk(T), null, null);
    }

    @Override
    public void scanBackwardChunked(float[] da, float[] du, float[] dh, float[] h, float[] a, float[] u,
                                    int off, int B, int T, int C, int chunk, float[] carryA, float[] carryB) {
        if (chunk < 1) {
            throw new IllegalArgumentException("scan chunk length must be >= 1, got " + chunk);
        }
        if (B <= 0 || T <= 0 || C <= 0) {
            return;
        }
        scan.backward(da, du, dh, h, a, u, off, B, T, C, chunk);
    }

    // ---------------------------------------------------------------- attention and RoPE (on the device)
    //
    // The model calls these once per sequence, with that sequence's patch count: one graph per
    // (heads, head size, window) serves every P (and slot count) up to its capacity.

    @Override
    public void ropeForward(float[] y, int yOff, float[] x, int xOff, int rows, int P, int pos0,
                            int heads, int headDim, float base) {
        if (rows <= 0 || heads <= 0 || headDim <= 0) {
            cpu.ropeForward(y, yOff, x, xOff, rows, P, pos0, heads, headDim, base);
            return;
        }
        attention.rope(false, y, yOff, x, xOff, rows, P, pos0, heads, headDim, base);
    }

    @Override
    public void ropeBackward(float[] dx, int dxOff, float[] dy, int dyOff, int rows, int P, int pos0,
                             int heads, int headDim, float base) {
        if (rows <= 0 || heads <= 0 || headDim <= 0) {
            cpu.ropeBackward(dx, dxOff, dy, dyOff, rows, P, pos0, heads, headDim, base);
            return;
        }
        attention.rope(true, dx, dxOff, dy, dyOff, rows, P, pos0, heads, headDim, base);
    }

    @Override
    public void attentionDenseForward(float[] out, int outOff, float[] att, int attOff,
                                      float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                      int B, int P, int heads, int headDim) {
        if (B <= 0 || P <= 0 || heads <= 0 || headDim <= 0) {
            cpu.attentionDenseForward(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, B, P, heads, headDim);
            return;
        }
        attention.forward(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, B, P, heads, headDim, 0, P);
    }

    @Override
    public void attentionDenseBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                       float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                       float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                                       int B, int P, int heads, int headDim) {
        if (B <= 0 || P <= 0 || heads <= 0 || headDim <= 0) {
            cpu.attentionDenseBackward(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff, v, vOff,
                    out, outOff, att, attOff, B, P, heads, headDim);
            return;
        }
        attention.backward(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff, v, vOff, out, outOff,
                att, attOff, B, P, heads, headDim, 0, P);
    }

    @Override
    public void attentionDilatedForward(float[] out, int outOff, float[] att, int attOff,
                                        float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                        int B, int P, int heads, int headDim, int window, int slots) {
        checkDilated(P, window, slots);
        if (B <= 0 || P <= 0 || heads <= 0 || headDim <= 0) {
            return;
        }
        attention.forward(out, outOff, att, attOff, q, qOff, k, kOff, v, vOff, B, P, heads, headDim, window, slots);
    }

    @Override
    public void attentionDilatedBackward(float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                         float[] dout, int doutOff, float[] q, int qOff, float[] k, int kOff,
                                         float[] v, int vOff, float[] out, int outOff, float[] att, int attOff,
                                         int B, int P, int heads, int headDim, int window, int slots) {
        checkDilated(P, window, slots);
        if (B <= 0 || P <= 0 || heads <= 0 || headDim <= 0) {
            return;
        }
        attention.backward(dq, dqOff, dk, dkOff, dv, dvOff, dout, doutOff, q, qOff, k, kOff, v, vOff, out, outOff,
                att, attOff, B, P, heads, headDim, window, slots);
    }

    @Override
    public void attentionQuery(boolean dense, float[] out, int outOff, float[] att, float[] q, int qOff,
                               float[] k, int kOff, float[] v, int vOff, int i, int heads, int headDim, int window, int slots) {
        if (i < 0 || heads <= 0 || headDim <= 0) {
            cpu.attentionQuery(dense, out, outOff, att, q, qOff, k, kOff, v, vOff, i, heads, headDim, window, slots);
            return;
        }
        attention.query(dense, out, outOff, att, q, qOff, k, kOff, v, vOff, i, heads, headDim, dense ? 0 : window, slots);
    }

    @Override
    public void scanStep(float[] h, int hOff, float[] a, int aOff, float[] u, int uOff, int n) {
        if (n > 0) {
            glue.scanStep(h, hOff, a, aOff, u, uOff, n);
        }
    }

    /** The CPU backend's argument check, so both backends reject the same calls. */
    private static void checkDilated(int P, int window, int slots) {
        if (window < 1 || slots < io.ionllama.kernels.Attention.dilatedSlots(window, P)) {
            throw new IllegalArgumentException("dilated attention needs window >= 1 and slots >= "
                    + "dilatedSlots(window, P); got window " + window + ", slots " + slots + ", P " + P);
        }
    }

    // ---------------------------------------------------------------- glue (on the device)

    @Override
    public void copy(float[] dst, int dstOff, float[] src, int srcOff, int n) {
        if (n > 0) {
            glue.copy(dst, dstOff, src, srcOff, n);
        }
    }

    @Override
    public void accumulate(float[] dst, int dstOff, float[] src, int srcOff, int n) {
        if (n > 0) {
            glue.accumulate(dst, dstOff, src, srcOff, n);
        }
    }

    @Override
    public void fill(float[] dst, int dstOff, float value, int n) {
        if (n > 0) {
            glue.fill(dst, dstOff, value, n);
        }
    }

    @Override
    public void swigluForward(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n) {
        if (n > 0) {
            glue.swigluForward(out, outOff, a, aOff, b, bOff, n);
        }
    }

    @Override
    public void swigluBackward(float[] da, int daOff, float[] db, int dbOff, float[] dy, int dyOff,
                               float[] a, int aOff, float[] b, int bOff, int n) {
        if (n > 0) {
            glue.swigluBackward(da, daOff, db, dbOff, dy, dyOff, a, aOff, b, bOff, n);
        }
    }

    @Override
    public void integralGateForward(float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows, int C) {
        if (rows > 0 && C > 0) {
            glue.gateForward(a, aOff, z, zOff, lambda, lambdaOff, rows, C);
        }
    }

    @Override
    public void integralGateBackward(float[] dz, int dzOff, float[] dLambda, int dLambdaOff, float[] da, int daOff,
                                     float[] a, int aOff, float[] z, int zOff, float[] lambda, int lambdaOff, int rows, int C) {
        if (rows > 0 && C > 0) {
            glue.gateBackward(dz, dzOff, dLambda, dLambdaOff, da, daOff, a, aOff, z, zOff, lambda, lambdaOff, rows, C);
        }
    }

    // ---------------------------------------------------------------- embeddings (on the device)

    @Override
    public void byteEmbeddingForward(float[] out, int outOff, float[] emb, int embOff, int[] bytes, int bytesOff,
                                     int rows, int D) {
        if (rows > 0 && D > 0) {
            embeddings.byteEmbedding(false, out, outOff, emb, embOff, bytes, bytesOff, rows, D);
        }
    }

    @Override
    public void byteEmbeddingBackward(float[] dEmb, int dEmbOff, float[] dout, int doutOff, int[] bytes, int bytesOff,
                                      int rows, int D) {
        if (rows > 0 && D > 0) {
            embeddings.byteEmbedding(true, dout, doutOff, dEmb, dEmbOff, bytes, bytesOff, rows, D);
        }
    }

    @Override
    public void ngramIndex(int[] idx, int idxOff, int[] bytes, int bytesOff, int[] ns, int buckets, int T, int rows) {
        if (rows > 0 && ns.length > 0) {
            embeddings.ngramIndex(idx, idxOff, bytes, bytesOff, ns, buckets, T, rows);
        }
    }

    @Override
    public void ngramEmbeddingForward(float[] out, int outOff, float[] tables, int tablesOff, int[] idx, int idxOff,
                                      int numN, int rows, int D) {
        if (rows > 0 && numN > 0 && D > 0) {
            embeddings.ngram(false, out, outOff, tables, tablesOff, idx, idxOff, numN, rows, D);
        }
    }

    @Override
    public void ngramEmbeddingBackward(float[] dTables, int dTablesOff, float[] dout, int doutOff, int[] idx, int idxOff,
                                       int numN, int rows, int D) {
        if (rows > 0 && numN > 0 && D > 0) {
            embeddings.ngram(true, dout, doutOff, dTables, dTablesOff, idx, idxOff, numN, rows, D);
        }
    }

    // ---------------------------------------------------------------- losses (on the device)

    @Override
    public void crossEntropyForward(float[] losses, int lossesOff, float[] probs, int probsOff,
                                    float[] logits, int logitsOff, int[] targets, int targetsOff, int rows, int V) {
        if (rows > 0 && V > 0) {
            this.losses.crossEntropyForward(losses, lossesOff, probs, probsOff, logits, logitsOff, targets, targetsOff,
                    rows, V);
        }
    }

    @Override
    public void crossEntropyBackward(float[] dlogits, int dlogitsOff, float[] probs, int probsOff,
                                     int[] targets, int targetsOff, float[] dloss, int dlossOff, int dlossStride,
                                     int rows, int V) {
        if (rows > 0 && V > 0) {
            losses.crossEntropyBackward(dlogits, dlogitsOff, probs, probsOff, targets, targetsOff, dloss, dlossOff,
                    dlossStride, rows, V);
        }
    }

    @Override
    public void entropy(float[] entropy, int entropyOff, float[] logits, int logitsOff, int rows, int V) {
        if (rows > 0 && V > 0) {
            losses.entropy(entropy, entropyOff, logits, logitsOff, rows, V);
        }
    }

    @Override
    public void argmax(int[] argmax, int argmaxOff, float[] logits, int logitsOff, int rows, int V) {
        if (rows > 0 && V > 0) {
            losses.argmax(argmax, argmaxOff, logits, logitsOff, rows, V);
        }
    }

    @Override
    public void lossStats(float[] stats, int statsOff, float[] losses, int lossesOff, int[] argmax, int argmaxOff,
                          int[] targets, int targetsOff, int rows) {
        if (rows > 0) {
            this.losses.lossStats(stats, statsOff, losses, lossesOff, argmax, argmaxOff, targets, targetsOff, rows);
        } else {
            cpu.lossStats(stats, statsOff, losses, lossesOff, argmax, argmaxOff, targets, targetsOff, rows);
        }
    }

    // ---------------------------------------------------------------- patch boundaries (on the device)

    @Override
    public void patchBoundaries(int[] ends, int[] endRows, int[] pi, int[] seqStart, int[] seqCount, int[] bytes,
                                float[] hNext, float[] state, int B, int T, int mode, int fixedLength, int maxPatch,
                                int warmupFixed, int calibrate, int rank) {
        if (B > 0 && T > 0) {
            patches.patchBoundaries(ends, endRows, pi, seqStart, seqCount, bytes, hNext, state, B, T, mode, fixedLength, maxPatch,
                    warmupFixed, calibrate, rank);
        } else {
            cpu.patchBoundaries(ends, endRows, pi, seqStart, seqCount, bytes, hNext, state, B, T, mode, fixedLength, maxPatch,
                    warmupFixed, calibrate, rank);
        }
    }

    // ---------------------------------------------------------------- optimizer (on the device)

    @Override
    public void adamw(float[] p, float[] g, float[] m, float[] v, int off, int n, float lr, float beta1, float beta2,
                      float eps, float weightDecay, float bc1, float bc2, float gradScale) {
        if (n > 0) {
            // This path reads m and v from the host: take them back from a resident graph first.
            optim.release(m, v);
            optim.adamw(p, g, m, v, off, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2, gradScale);
        }
    }

    @Override
    public void adamwTensors(float[] p, float[] g, float[] m, float[] v, int[] offs, int[] sizes, float[] wds, int count,
                             float lr, float beta1, float beta2, float eps, float bc1, float bc2, float gradScale) {
        if (count > 0) {
            optim.adamwTensors(p, g, m, v, offs, sizes, wds, count, lr, beta1, beta2, eps, bc1, bc2, gradScale);
        }
    }

    @Override
    public void toHost(float[]... arrays) {
        optim.toHost(arrays);
        residency.toHost((Object[]) arrays);
    }

    @Override
    public void hostChanged(float[]... arrays) {
        optim.hostChanged(arrays);
        residency.hostChanged((Object[]) arrays);
    }

    @Override
    public void toHost(int[]... arrays) {
        residency.toHost((Object[]) arrays);
    }

    @Override
    public void hostChanged(int[]... arrays) {
        residency.hostChanged((Object[]) arrays);
    }

    @Override
    public void beginStep(String kind) {
        residency.beginStep(kind);
    }

    @Override
    public void endStep() {
        residency.endStep();
    }

    /** Ops run on device-resident arrays so far ({@link Residency}); 0 with residency off. */
    public long residentRuns() {
        return residency.runs();
    }

    /** Stage graph executions so far: each runs the ops a step calls between two host hand-overs ({@link Residency}). */
    public long residentStageRuns() {
        return residency.stageRuns();
    }

    /** Resident plans built so far (each compiles every graph of a step). */
    public int residentPlans() {
        return residency.rebuilds();
    }

    @Override
    public double sumSquares(float[] g, int off, int n) {
        return n > 0 ? optim.sumSquares(g, off, n) : 0;
    }

    @Override
    public double sumSquaresTensors(float[] g, int[] offs, int[] sizes, int count) {
        return optim.sumSquaresTensors(g, offs, sizes, count);
    }
}
