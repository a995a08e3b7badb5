package io.ionllama.generate;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class StopStringsTest {

    /** Feeds text; returns what was released, and "|" plus the position where it stopped, if it did. */
    static String run(List<String> stops, String text) {
        StopStrings s = StopStrings.of(stops);
        StringBuilder out = new StringBuilder();
        byte[] b = text.getBytes(StandardCharsets.ISO_8859_1);
        for (int i = 0; i < b.length; i++) {
            if (s.push(b[i], c -> out.append((char) c))) {
                return out + "|" + (i + 1);
            }
        }
        s.flush(c -> out.append((char) c));
        return out.toString();
    }

    @Test
    void stopsWhenTheTextEndsWithAStopStringWithoutShowingIt() {
        assertThat(run(List.of("\n\n"), "ab\ncd\n\nef")).isEqualTo("ab\ncd|7");
        assertThat(run(List.of("END"), "the ENDless END")).isEqualTo("the ENDless END".substring(0, 4) + "|7");
        assertThat(run(List.of("x"), "x")).isEqualTo("|1");
        assertThat(run(List.of("abc"), "ababc")).isEqualTo("ab|5");
        assertThat(run(List.of("aab"), "aaab")).isEqualTo("a|4");
    }

    @Test
    void anyOfSeveralStopsEndsIt() {
        assertThat(run(List.of("\n", "stop"), "one two stop")).isEqualTo("one two |12");
        assertThat(run(List.of("\n", "stop"), "one\ntwo")).isEqualTo("one|4");
        // Both match at once: the longer one is removed.
        assertThat(run(List.of("b", "ab"), "xab")).isEqualTo("x|3");
    }

    @Test
    void heldBytesAreReleasedWhenTheyTurnOutNotToBeAStop() {
        StopStrings s = StopStrings.of(List.of("\n\n"));
        StringBuilder out = new StringBuilder();
        assertThat(s.push('a', c -> out.append((char) c))).isFalse();
        assertThat(out).hasToString("a");
        assertThat(s.push('\n', c -> out.append((char) c))).isFalse();
        assertThat(out).as("a newline might start the stop").hasToString("a");
        assertThat(s.push('b', c -> out.append((char) c))).isFalse();
        assertThat(out).hasToString("a\nb");
        s.push('\n', c -> out.append((char) c));
        s.flush(c -> out.append((char) c));
        assertThat(out).as("flushed at the end").hasToString("a\nb\n");
    }

    @Test
    void noStopsReleasesEverything() {
        assertThat(run(List.of(), "abc")).isEqualTo("abc");
        assertThat(run(List.of(""), "abc")).isEqualTo("abc");
    }

    @Test
    void agreesWithANaiveSearchOnRandomText() {
        SplittableRandom r = new SplittableRandom(5);
        for (int trial = 0; trial < 2000; trial++) {
            String alphabet = "ab\n";
            StringBuilder t = new StringBuilder();
            for (int i = 0; i < 30; i++) {
                t.append(alphabet.charAt(r.nextInt(3)));
            }
            List<String> stops = List.of(randomWord(r, alphabet), randomWord(r, alphabet));
            String text = t.toString();
            int end = -1, len = 0;
            for (int i = 1; i <= text.length() && end < 0; i++) {
                for (String st : stops) {
                    if (text.substring(0, i).endsWith(st) && st.length() > len) {
                        end = i;
                        len = st.length();
                    }
                }
            }
            String expected = end < 0 ? text : text.substring(0, end - len) + "|" + end;
            assertThat(run(stops, text)).as("%s in %s", stops, text).isEqualTo(expected);
        }
    }

    private static String randomWord(SplittableRandom r, String alphabet) {
        StringBuilder w = new StringBuilder();
        for (int i = r.nextInt(1, 5); i > 0; i--) {
            w.append(alphabet.charAt(r.nextInt(alphabet.length())));
        }
        return w.toString();
    }
}
