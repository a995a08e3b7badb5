package io.ionllama.cli;

import io.ionllama.data.ByteSource;
import io.ionllama.model.Tokun;
import io.ionllama.train.Checkpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code ionllama tokun}: the byte-group autoencoder of seed 004 (model/Tokun.java). Its
 * subcommands train it, measure exact reconstruction and the latent's robustness to noise, and
 * show one text's round trip.
 */
@Command(name = "tokun", mixinStandardHelpOptions = true,
        description = {"tokun: an autoencoder that merges groups of bytes into one vector (4x4: 16 bytes -> one vector)",
            "and decodes it back; train it, evaluate exact reconstruction and robustness, or round-trip a text."},
        subcommands = {TokunTrainCommand.class, TokunEvalCommand.class, TokunRoundtripCommand.class,
            CommandLine.HelpCommand.class})
final class TokunCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** A checkpoint file, or a run folder's latest; a missing one is one line. */
    static Path checkpoint(Path p) {
        if (Files.isDirectory(p)) {
            p = p.resolve("latest.safetensors");
        }
        if (!Files.exists(p)) {
            throw new Errors.UserError("no checkpoint at " + p);
        }
        return p;
    }

    /** Loads a tokun checkpoint (a language model's is refused in one line by Checkpoint.loadTokun). */
    static Tokun load(Path p, io.ionllama.backend.Backend be) throws java.io.IOException {
        return Checkpoint.loadTokun(checkpoint(p), be);
    }

    /** {@code [from, from + n)} of a source as bytes. */
    static byte[] bytes(ByteSource s, long from, int n) {
        int[] tmp = new int[n];
        s.read(from, tmp, 0, n);
        byte[] out = new byte[n];
        for (int i = 0; i < n; i++) {
            out[i] = (byte) tmp[i];
        }
        return out;
    }
}
