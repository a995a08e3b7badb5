package io.ionllama.generate;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class Utf8StreamTest {

    /** Feeds the bytes one at a time and records what was emitted after each byte. */
    static List<String> stepwise(byte[] bytes) {
        StringBuilder sb = new StringBuilder();
        Utf8Stream s = new Utf8Stream(sb::append);
        List<String> steps = new ArrayList<>();
        for (byte b : bytes) {
            s.write(b);
            steps.add(sb.toString());
            sb.setLength(0);
        }
        s.finish();
        steps.add(sb.toString());
        return steps;
    }

    static byte[] hex(String h) {
        String[] parts = h.trim().split("\\s+");
        byte[] b = new byte[parts.length];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) Integer.parseInt(parts[i], 16);
        }
        return b;
    }

    /**
     * Reference: the Unicode standard's "U+FFFD substitution of maximal subparts" (chapter 3,
     * table 3-7 of well-formed sequences), over a whole array at once.
     */
    static String reference(byte[] b) {
        StringBuilder sb = new StringBuilder();
        int i = 0;
        while (i < b.length) {
            int lead = b[i] & 0xFF;
            int[][] ranges = lead < 0x80 ? new int[0][]
                    : lead >= 0xC2 && lead <= 0xDF ? new int[][] {{0x80, 0xBF}}
                    : lead == 0xE0 ? new int[][] {{0xA0, 0xBF}, {0x80, 0xBF}}
                    : lead >= 0xE1 && lead <= 0xEC || lead == 0xEE || lead == 0xEF ? new int[][] {{0x80, 0xBF}, {0x80, 0xBF}}
                    : lead == 0xED ? new int[][] {{0x80, 0x9F}, {0x80, 0xBF}}
                    : lead == 0xF0 ? new int[][] {{0x90, 0xBF}, {0x80, 0xBF}, {0x80, 0xBF}}
                    : lead >= 0xF1 && lead <= 0xF3 ? new int[][] {{0x80, 0xBF}, {0x80, 0xBF}, {0x80, 0xBF}}
                    : lead == 0xF4 ? new int[][] {{0x80, 0x8F}, {0x80, 0xBF}, {0x80, 0xBF}}
                    : null;
            if (ranges == null) {
                sb.append('\uFFFD');
                i++;
                continue;
            }
            int ok = 0;
            while (ok < ranges.length && i + 1 + ok < b.length && (b[i + 1 + ok] & 0xFF) >= ranges[ok][0]
                    && (b[i + 1 + ok] & 0xFF) <= ranges[ok][1]) {
                ok++;
            }
            if (ok == ranges.length) {
                sb.append(new String(b, i, ok + 1, StandardCharsets.UTF_8));
            } else {
                sb.append('\uFFFD');
            }
            i += ok + 1;
        }
        return sb.toString();
    }

    /** The JDK agrees with the standard except for encoded surrogates (ED A0..BF xx), which it replaces as one unit. */
    static boolean jdkComparable(byte[] b) {
        for (int i = 0; i + 1 < b.length; i++) {
            if ((b[i] & 0xFF) == 0xED && (b[i + 1] & 0xFF) >= 0xA0 && (b[i + 1] & 0xFF) <= 0xBF) {
                return false;
            }
        }
        return true;
    }

    static boolean strictlyValid(String s) {
        try {
            StandardCharsets.UTF_8.newEncoder().onMalformedInput(CodingErrorAction.REPORT).encode(java.nio.CharBuffer.wrap(s));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }

    @ParameterizedTest
    @CsvSource({"A, 1", "é, 2", "€, 3", "\uD83D\uDE00, 4", "\u0080, 2", "\u07FF, 2", "\u0800, 3", "\uFFFD, 3", "\uD800\uDC00, 4", "\uDBFF\uDFFF, 4"})
    void aValidCharacterAppearsWhenItsLastByteArrivesAndNotBefore(String ch, int length) {
        byte[] b = ch.getBytes(StandardCharsets.UTF_8);
        assertThat(b).hasSize(length);
        List<String> steps = stepwise(b);
        for (int i = 0; i < length - 1; i++) {
            assertThat(steps.get(i)).as("after byte %d", i).isEmpty();
        }
        assertThat(steps.get(length - 1)).isEqualTo(ch);
        assertThat(steps.get(length)).as("finish").isEmpty();
    }

    @Test
    void validTextSplitAtEveryPointDecodesTheSame() {
        String text = "a é € 😀 z\u0000\u007F\u0080\u07FF\u0800\uFFFF\uD800\uDC00\uDBFF\uDFFF";
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        for (int cut = 0; cut <= b.length; cut++) {
            StringBuilder sb = new StringBuilder();
            Utf8Stream s = new Utf8Stream(sb::append);
            s.write(b, 0, cut);
            String head = sb.toString();
            assertThat(strictlyValid(head)).as("cut %d", cut).isTrue();
            assertThat(text).startsWith(head);
            s.write(b, cut, b.length - cut);
            s.finish();
            assertThat(sb.toString()).as("cut %d", cut).isEqualTo(text);
        }
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
        // lone continuation bytes and never-valid lead bytes
        "80 | \uFFFD", "BF 41 | \uFFFDA", "C0 | \uFFFD", "C1 BF | \uFFFD\uFFFD", "F5 80 | \uFFFD\uFFFD", "FF FE | \uFFFD\uFFFD",
        // overlong forms: 2-byte '/' and NUL, 3-byte and 4-byte overlongs
        "C0 AF | \uFFFD\uFFFD", "C0 80 | \uFFFD\uFFFD", "E0 80 AF | \uFFFD\uFFFD\uFFFD", "E0 9F BF | \uFFFD\uFFFD\uFFFD",
        "F0 80 80 AF | \uFFFD\uFFFD\uFFFD\uFFFD", "F0 8F BF BF | \uFFFD\uFFFD\uFFFD\uFFFD",
        // UTF-16 surrogates encoded directly (CESU-8) are ill-formed
        "ED A0 80 | \uFFFD\uFFFD\uFFFD", "ED BF BF | \uFFFD\uFFFD\uFFFD", "ED A0 BD ED B8 80 | \uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD",
        "ED 9F BF | \uD7FF",
        // beyond U+10FFFF
        "F4 90 80 80 | \uFFFD\uFFFD\uFFFD\uFFFD", "F4 8F BF BF | \uDBFF\uDFFF",
        // truncated sequences: one replacement per maximal subpart, the breaking byte decoded afresh
        "C3 | \uFFFD", "E2 82 | \uFFFD", "F0 9F 98 | \uFFFD", "E2 82 41 | \uFFFDA", "F0 9F 41 | \uFFFDA", "E2 41 82 | \uFFFDA\uFFFD",
        "C3 C3 A9 | \uFFFDé", "E2 82 E2 82 AC | \uFFFD€", "F0 9F 98 F0 9F 98 80 | \uFFFD\uD83D\uDE00",
        "61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 | a\uFFFD\uFFFD\uFFFDb\uFFFDc\uFFFD\uFFFDd"})
    void illFormedSequencesBecomeReplacementCharacters(String bytes, String expected) {
        byte[] b = hex(bytes);
        String got = Utf8Stream.decode(b);
        assertThat(got).isEqualTo(expected);
        assertThat(reference(b)).isEqualTo(expected);
        if (jdkComparable(b)) {
            assertThat(got).isEqualTo(new String(b, StandardCharsets.UTF_8));
        }
        assertThat(strictlyValid(got)).isTrue();
    }

    @Test
    void truncatedSequenceIsHeldUntilFinish() {
        List<String> steps = stepwise(hex("41 E2 82"));
        assertThat(steps).containsExactly("A", "", "", "\uFFFD");
        StringBuilder sb = new StringBuilder();
        Utf8Stream s = new Utf8Stream(sb::append);
        s.write(0xE2);
        assertThat(s.pending()).isTrue();
        s.finish();
        assertThat(s.pending()).isFalse();
        s.write(0x41);
        assertThat(sb.toString()).isEqualTo("\uFFFDA");
    }

    @Test
    void randomBytesDecodeLikeTheReferenceAndTheJdkAndAlwaysValidly() {
        SplittableRandom r = new SplittableRandom(7);
        for (int trial = 0; trial < 3000; trial++) {
            byte[] b = new byte[r.nextInt(1, 24)];
            for (int i = 0; i < b.length; i++) {
                // Bias towards the interesting region so well-formed multi-byte sequences occur too.
                int v = r.nextInt(4) == 0 ? r.nextInt(128) : 0x80 + r.nextInt(128);
                b[i] = (byte) v;
            }
            String got = Utf8Stream.decode(b);
            String what = java.util.HexFormat.ofDelimiter(" ").formatHex(b);
            assertThat(got).as(what).isEqualTo(reference(b));
            if (jdkComparable(b)) {
                assertThat(got).as(what).isEqualTo(new String(b, StandardCharsets.UTF_8));
            }
            assertThat(strictlyValid(got)).isTrue();
        }
    }

    @Test
    void everyPrefixOfAStreamIsValidText() {
        SplittableRandom r = new SplittableRandom(11);
        byte[] b = new byte[4000];
        r.nextBytes(b);
        StringBuilder sb = new StringBuilder();
        Utf8Stream s = new Utf8Stream(sb::append);
        for (byte x : b) {
            s.write(x);
            // No lone high surrogate is ever left at the end: pairs are emitted together.
            assertThat(sb.isEmpty() || !Character.isHighSurrogate(sb.charAt(sb.length() - 1))).isTrue();
        }
        s.finish();
        assertThat(strictlyValid(sb.toString())).isTrue();
        assertThat(sb.toString()).isEqualTo(reference(b));
    }

    @Test
    void theValidityCheckRejectsWhatANaiveDecoderWouldEmit() {
        // A decoder without the ED 80..9F rule would turn ED A0 80 into a lone surrogate: the
        // strict check used above must reject that, or it would prove nothing.
        assertThat(strictlyValid(String.valueOf((char) 0xD800))).isFalse();
        assertThat(Utf8Stream.decode(hex("ED A0 80"))).isEqualTo("\uFFFD\uFFFD\uFFFD");
    }
}
