package io.ionllama.cli;

import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import io.ionllama.train.Checkpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * What {@code train --resume} may take from the command line. The checkpoint decides the model,
 * the patcher, the attention and the data order (batch, sequence length, accumulation, optimizer,
 * seed, the fraction of task lines mixed in): a flag given with a different value is a conflict,
 * named in one line. Training settings not given are taken from the checkpoint, so
 * {@code --resume RUN} alone continues the run as it was; learning rates, clipping and --max-steps
 * may be changed on purpose.
 */
final class ResumeCheck {

    private final Path checkpoint;
    private final Checkpoint.Meta meta;
    private final Predicate<String> given;
    private final List<String> conflicts = new ArrayList<>();

    ResumeCheck(Path checkpoint, Checkpoint.Meta meta, Predicate<String> given) {
        this.checkpoint = checkpoint;
        this.meta = meta;
        this.given = given;
    }

    /** Model-shape flags: {@code asked} is the configuration the flags describe. */
    ResumeCheck model(ModelConfig asked, List<String> modelFlags, String patcher, String attention) {
        Map<String, String> want = asked.toMap(), have = meta.config().toMap();
        for (String flag : modelFlags) {
            String key = flag.substring(2).replace('-', '_');
            if (given.test(flag) && have.containsKey(key) && !want.get(key).equals(have.get(key))) {
                conflicts.add(flag + " " + want.get(key) + " (the checkpoint's is " + have.get(key) + ")");
            }
        }
        if (given.test("--patcher")) {
            // A tokun patcher is compared as written: the checkpoint carries its tokun, the path is provenance.
            String spec = Patcher.isTokun(patcher) ? patcher.strip()
                    : Patcher.parse(patcher, meta.config().maxPatch(), meta.config().targetPatch()).spec();
            if (!spec.equals(meta.patcher())) {
                conflicts.add("--patcher " + spec + " (the checkpoint's is " + meta.patcher() + ")");
            }
        }
        String theirs = meta.dense() ? "dense" : "dilated";
        if (given.test("--attention") && !attention.equals(theirs)) {
            conflicts.add("--attention " + attention + " (the checkpoint's is " + theirs + ")");
        }
        return this;
    }

    /** Training flags: fixed ones must agree, the rest are taken from the checkpoint when not given. */
    ResumeCheck training(TrainCommand t) {
        Map<String, String> raw = meta.raw();
        t.batchSize = fixed("--batch-size", "train.batch", t.batchSize);
        t.seqLen = fixed("--seq-len", "train.seq_len", t.seqLen);
        t.gradAccum = fixed("--grad-accum", "train.grad_accum", t.gradAccum);
        t.seed = fixedLong("--seed", "train.seed", t.seed);
        if (raw.containsKey("train.optimizer")) {
            if (!given.test("--optimizer")) {
                t.optimizer = raw.get("train.optimizer");
            } else if (!t.optimizer.equals(raw.get("train.optimizer"))) {
                conflicts.add("--optimizer " + t.optimizer + " (the checkpoint's is " + raw.get("train.optimizer") + ")");
            }
        }
        t.maxSteps = (long) inherited("--max-steps", "train.max_steps", t.maxSteps);
        // A time-driven run's budget (its schedule's length) continues unless --max-time is given.
        if (!given.test("--max-time") && Double.parseDouble(raw.getOrDefault("train.max_seconds", "0")) > 0) {
            t.maxTime = raw.get("train.max_seconds") + "s";
        }
        if (raw.containsKey("train.clock")) {
            if (!given.test("--clock")) {
                t.clock = raw.get("train.clock");
            } else if (!t.clock.equals(raw.get("train.clock"))) {
                conflicts.add("--clock " + t.clock + " (the checkpoint's is " + raw.get("train.clock") + ")");
            }
        }
        // Which windows are task lines is part of the data order: a checkpoint from before the flag mixed none.
        double mixed = Double.parseDouble(raw.getOrDefault("train.mix_tasks", "0"));
        if (!given.test("--mix-tasks")) {
            t.mixTasks = mixed;
        } else if (t.mixTasks != mixed) {
            conflicts.add("--mix-tasks " + Bounds.num(t.mixTasks) + " (the checkpoint's is " + Bounds.num(mixed) + ")");
        }
        // How micro-batch gradients are summed changes the bits: a checkpoint from before the flag summed in place.
        String accumSum = raw.getOrDefault("train.grad_accum_sum", "in-place");
        if (!given.test("--grad-accum-sum")) {
            t.gradAccumSum = accumSum;
        } else if (!t.gradAccumSum.equals(accumSum)) {
            conflicts.add("--grad-accum-sum " + t.gradAccumSum + " (the checkpoint's is " + accumSum + ")");
        }
        t.lr = inheritedRate("--lr", "train.lr", t.lr);
        t.minLr = inheritedRate("--min-lr", "train.min_lr", t.minLr);
        t.adamwLr = inheritedRate("--adamw-lr", "train.adamw_lr", t.adamwLr);
        t.warmup = (int) inherited("--warmup", "train.warmup", t.warmup);
        t.weightDecay = inherited("--weight-decay", "train.weight_decay", t.weightDecay);
        t.clip = inherited("--clip", "train.clip", t.clip);
        t.dropout = inherited("--dropout", "train.dropout", t.dropout);
        t.entropyWarmup = (int) inherited("--entropy-warmup", "train.entropy_warmup", t.entropyWarmup);
        return this;
    }

    void throwIfConflicts() {
        if (!conflicts.isEmpty()) {
            throw new Errors.UserError("--resume " + checkpoint + " conflicts with " + String.join(", ", conflicts)
                    + ": leave those flags out to continue the run, or start a new run in another --out");
        }
    }

    private int fixed(String flag, String key, int value) {
        return (int) fixedLong(flag, key, value);
    }

    private long fixedLong(String flag, String key, long value) {
        String theirs = meta.raw().get(key);
        if (theirs == null) {
            return value;
        }
        long v = Long.parseLong(theirs);
        if (!given.test(flag)) {
            return v;
        }
        if (v != value) {
            conflicts.add(flag + " " + value + " (the checkpoint's is " + theirs + ")");
        }
        return value;
    }

    /** A rate flag that may be absent (null: the model's default applies) unless the checkpoint has it. */
    private Double inheritedRate(String flag, String key, Double value) {
        String theirs = meta.raw().get(key);
        return theirs == null || given.test(flag) ? value : Double.valueOf(theirs);
    }

    private double inherited(String flag, String key, double value) {
        String theirs = meta.raw().get(key);
        return theirs == null || given.test(flag) ? value : Double.parseDouble(theirs);
    }
}
