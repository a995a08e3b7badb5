package io.ionllama.cli;

import io.ionllama.backend.Backend;
import io.ionllama.model.Tokun;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ionllama tokun roundtrip}: encodes a text, decodes it, and prints the input, the
 * reconstruction, a line marking the characters whose bytes came back wrong, and the score (the
 * fraction of bytes reconstructed exactly), as seed 004's examples do.
 */
@Command(name = "roundtrip", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        description = "Encode and decode one text with a tokun checkpoint; show what came back and the score.")
final class TokunRoundtripCommand implements Callable<Integer> {

    @Option(names = "--checkpoint", required = true, description = "A tokun checkpoint, or a run folder (its latest).")
    Path checkpoint;

    @Option(names = "--text", required = true, description = "The text to round-trip (UTF-8).")
    String text;

    @Mixin
    BackendOptions backendOptions = new BackendOptions();

    @Override
    public Integer call() throws Exception {
        byte[] in = text.getBytes(StandardCharsets.UTF_8);
        if (in.length == 0) {
            throw new Errors.UserError("--text is empty");
        }
        Bounds.check("--text (bytes)", in.length, 1, Bounds.MAX_BYTES);
        backendOptions.validate();
        try (Backend be = backendOptions.open()) {
            Tokun m = TokunCommand.load(checkpoint, be);
            int[][] xy = Tokun.padded(in, 0, in.length, m.chunk());
            Tokun.Output o = m.forward(xy[0], xy[1], 1, xy[0].length);
            int[] rec = m.reconstruction();
            byte[] outBytes = new byte[in.length];
            for (int t = 0; t < in.length; t++) {
                outBytes[t] = (byte) rec[t];
            }
            System.out.println("input:  " + printable(text));
            System.out.println("output: " + printable(new String(outBytes, StandardCharsets.UTF_8)));
            System.out.println("wrong:  " + marks(in, rec));
            System.out.printf(Locale.ROOT, "score:  %.4f (%d/%d bytes, %d/%d chunks of %d exact)%n", o.byteAccuracy(), o.correct(),
                    o.bytes(), o.chunksCorrect(), o.chunks(), m.chunk());
            return 0;
        }
    }

    /** Control characters as '·' so the lines stay aligned. */
    static String printable(String s) {
        StringBuilder b = new StringBuilder();
        s.codePoints().forEach(c -> b.appendCodePoint(Character.isISOControl(c) ? '·' : c));
        return b.toString();
    }

    /** One mark per character of the input: '^' when any of its bytes came back wrong, else ' '. */
    static String marks(byte[] in, int[] rec) {
        StringBuilder b = new StringBuilder();
        int t = 0;
        while (t < in.length) {
            int lead = in[t] & 0xFF;
            int len = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            boolean wrong = false;
            for (int i = t; i < Math.min(in.length, t + len); i++) {
                wrong |= rec[i] != (in[i] & 0xFF);
            }
            b.append(wrong ? '^' : ' ');
            t += len;
        }
        return b.toString().stripTrailing();
    }
}
