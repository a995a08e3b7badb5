package io.ionllama.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tukaani.xz.LZMA2Options;
import org.tukaani.xz.XZOutputStream;

class CorpusTest {

    @TempDir
    Path dir;

    static String text(ByteSource s) {
        int[] b = new int[(int) s.size()];
        s.read(0, b, 0, b.length);
        byte[] out = new byte[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = (byte) b[i];
        }
        return new String(out, StandardCharsets.UTF_8);
    }

    @Test
    void embeddedCorpusIsDeterministicAndHoldsEveryTask() {
        byte[] a = EmbeddedCorpus.generate(1, 50_000), b = EmbeddedCorpus.generate(1, 50_000);
        assertThat(a).isEqualTo(b);
        assertThat(EmbeddedCorpus.generate(2, 50_000)).isNotEqualTo(a);
        String s = new String(a, StandardCharsets.UTF_8);
        assertThat(s).contains(" + ", " * ", "spell ", "count ", "reverse ", "Once upon a time");
    }

    @Test
    void taskAnswersAreRight() {
        var rnd = new java.util.SplittableRandom(5);
        for (int i = 0; i < 200; i++) {
            Tasks.Pair p = Tasks.random(rnd);
            String q = p.prompt();
            switch (p.kind()) {
                case ADD -> {
                    String[] x = q.replace(" = ", "").split(" \\+ ");
                    assertThat(Long.parseLong(p.answer())).isEqualTo(Long.parseLong(x[0]) + Long.parseLong(x[1]));
                }
                case REVERSE -> assertThat(new StringBuilder(p.answer()).reverse().toString())
                        .isEqualTo(q.substring(8, q.length() - 2));
                default -> assertThat(p.answer()).isNotEmpty();
            }
        }
    }

    @Test
    void directoryIsJoinedInSortedOrderAndCompressedFilesAreRead() throws IOException {
        Path d = Files.createDirectories(dir.resolve("data/sub"));
        Files.writeString(dir.resolve("data/b.txt"), "bravo");
        try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(dir.resolve("data/a.txt.gz")))) {
            o.write("alpha".getBytes(StandardCharsets.UTF_8));
        }
        try (OutputStream o = new XZOutputStream(Files.newOutputStream(d.resolve("c.xz")), new LZMA2Options())) {
            o.write("charlie".getBytes(StandardCharsets.UTF_8));
        }
        try (Corpus c = Corpus.open(dir.resolve("data"), dir.resolve("data/b.txt"), 4, dir.resolve("cache"))) {
            assertThat(text(c.train())).isEqualTo("alpha\n\nbravo\n\ncharlie");
            assertThat(text(c.valid())).isEqualTo("bravo");
        }
    }

    @Test
    void splitHoldsOutTheTail() throws IOException {
        Path f = dir.resolve("f.txt");
        Files.writeString(f, "x".repeat(900) + "y".repeat(100));
        try (Corpus c = Corpus.open(f, null, 65, dir)) {
            assertThat(c.train().size() + c.valid().size()).isEqualTo(1000);
            assertThat(text(c.valid())).matches("y+");
            assertThat(c.valid().size()).isEqualTo(65);
        }
    }

    @Test
    void badDataGivesOneClearLine() throws IOException {
        assertThatThrownBy(() -> Corpus.open(dir.resolve("missing.txt"), null, 10, dir))
                .isInstanceOf(Corpus.DataException.class).hasMessageContaining("no such file");
        Path empty = Files.createFile(dir.resolve("empty.txt"));
        assertThatThrownBy(() -> Corpus.open(empty, null, 10, dir)).hasMessageContaining("is empty");
        Path tiny = dir.resolve("tiny.txt");
        Files.writeString(tiny, "abc");
        assertThatThrownBy(() -> Corpus.open(tiny, null, 10, dir)).hasMessageContaining("too short");
        Path bad = dir.resolve("bad.gz");
        Files.writeString(bad, "not gzip");
        assertThatThrownBy(() -> Corpus.open(bad, null, 2, dir.resolve("c2"))).hasMessageContaining("cannot read");
    }

    @Test
    void samplerDependsOnlyOnSeedAndStep() {
        ByteSource s = ByteSource.of(EmbeddedCorpus.generate(1, 10_000));
        BatchSampler a = new BatchSampler(s, 7, 3, 16), b = new BatchSampler(s, 7, 3, 16);
        int[] in1 = new int[48], t1 = new int[48], in2 = new int[48], t2 = new int[48], w = new int[17];
        a.fill(5, in1, t1, w);
        b.fill(4, in2, t2, w);
        b.fill(5, in2, t2, w);
        assertThat(in2).isEqualTo(in1);
        assertThat(t2).isEqualTo(t1);
        assertThat(t1[0]).isEqualTo(in1[1]);
    }
}
