package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.model.IonLlama;
import io.ionllama.model.ModelConfig;
import io.ionllama.model.Patcher;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.SplittableRandom;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.lifecycle.AfterContainer;

/**
 * The checkpoint loader on thousands of damaged files: cut short, bytes flipped anywhere, the
 * JSON header edited (with its length prefix fixed up or not). Every load either succeeds with
 * exactly the original parameters (the data's checksum guarantees that), or fails with an
 * {@link IOException} whose message is one line naming the file. Never another exception, and
 * never longer than 30 s even on a loaded machine (no hang, no giant allocation from an edited configuration).
 */
class CheckpointFuzzTest {
    private static final CpuBackend CPU = new CpuBackend(1);
    private static final Path DIR;
    private static final byte[] ORIGINAL;
    private static final float[] PARAMS;
    private static final int HEADER_END;

    static {
        try {
            DIR = Files.createTempDirectory("ionllama-fuzz");
            ModelConfig c = new ModelConfig("nano", 16, 16, 1, 2, 1, 1, 8, 1, new int[] {3}, 17, 24, 24, 3, 8, 3f).validate();
            IonLlama m = new IonLlama(c, CPU, Patcher.parse("entropy", c.maxPatch(), c.targetPatch()), false);
            m.init(5);
            Path p = DIR.resolve("original.safetensors");
            Checkpoint.save(p, m, null, 0, Double.NaN, null);
            ORIGINAL = Files.readAllBytes(p);
            PARAMS = m.params.clone();
            HEADER_END = 8 + (int) ByteBuffer.wrap(ORIGINAL).order(ByteOrder.LITTLE_ENDIAN).getLong();
        } catch (IOException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @AfterContainer
    static void cleanUp() throws IOException {
        CPU.close();
        try (var files = Files.list(DIR)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.delete(f);
            }
        }
        Files.delete(DIR);
    }

    @Property(tries = 1000)
    void truncatedFilesFailInOneLine(@ForAll long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        // Cuts cluster at the start (inside the header) and anywhere in the data.
        int cut = r.nextBoolean() ? r.nextInt(HEADER_END + 1) : r.nextInt(ORIGINAL.length);
        check(Arrays.copyOf(ORIGINAL, cut), "cut at " + cut);
    }

    @Property(tries = 1500)
    void flippedBytesFailInOneLineOrLoadTheOriginal(@ForAll long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        byte[] b = ORIGINAL.clone();
        int flips = 1 + r.nextInt(4);
        StringBuilder what = new StringBuilder("flipped");
        for (int k = 0; k < flips; k++) {
            // Half the flips land in the length prefix or the header, where a parser has most to get wrong.
            int at = r.nextBoolean() ? r.nextInt(HEADER_END) : r.nextInt(b.length);
            b[at] ^= (byte) (1 << r.nextInt(8));
            what.append(' ').append(at);
        }
        check(b, what.toString());
    }

    @Property(tries = 1500)
    void editedHeadersFailInOneLineOrLoadTheOriginal(@ForAll long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        String header = new String(ORIGINAL, 8, HEADER_END - 8, StandardCharsets.UTF_8);
        StringBuilder h = new StringBuilder(header);
        String alphabet = "{}[]\",:0123456789-+.eE aZ\\";
        int edits = 1 + r.nextInt(3);
        for (int k = 0; k < edits && h.length() > 2; k++) {
            int at = r.nextInt(h.length());
            switch (r.nextInt(4)) {
                case 0 -> h.setCharAt(at, alphabet.charAt(r.nextInt(alphabet.length())));
                case 1 -> h.delete(at, Math.min(h.length(), at + 1 + r.nextInt(12)));
                case 2 -> h.insert(at, alphabet.charAt(r.nextInt(alphabet.length())));
                default -> {
                    // A digit run made long: shapes, offsets and sizes that overflow or ask for too much.
                    h.insert(at, "9".repeat(1 + r.nextInt(20)));
                }
            }
        }
        byte[] hb = h.toString().getBytes(StandardCharsets.UTF_8);
        boolean fixLength = r.nextInt(4) != 0;
        long prefix = fixLength ? hb.length : HEADER_END - 8;
        ByteBuffer out = ByteBuffer.allocate(8 + hb.length + ORIGINAL.length - HEADER_END).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(prefix).put(hb).put(ORIGINAL, HEADER_END, ORIGINAL.length - HEADER_END);
        check(out.array(), "edited header: " + h);
    }

    /**
     * Found by the flips above: one bit turns {@code "model.n_entropy":"1"} into {@code "0"}, the
     * smaller configuration's tensors all exist in the file, and without the check for tensors the
     * configuration lacks, the model loaded with a different layout.
     */
    @Example
    void aConfigurationThatLacksSomeOfTheFilesTensorsIsRefused() throws IOException {
        String header = new String(ORIGINAL, 8, HEADER_END - 8, StandardCharsets.UTF_8);
        assertThat(header).contains("\"model.n_entropy\":\"1\"");
        byte[] edited = ORIGINAL.clone();
        byte[] h = header.replace("\"model.n_entropy\":\"1\"", "\"model.n_entropy\":\"0\"").getBytes(StandardCharsets.UTF_8);
        System.arraycopy(h, 0, edited, 8, h.length);
        Path p = DIR.resolve("edited.safetensors");
        Files.write(p, edited);
        assertThatThrownBy(() -> Checkpoint.loadModel(p, CPU)).isInstanceOf(Checkpoint.CheckpointException.class)
                .hasMessageContaining("entropy.0.").hasMessageContaining("does not have");
        check(edited, "n_entropy 1 -> 0");
    }

    /**
     * Found by the flips above: one bit turns the '-' of the format name into a carriage return,
     * and the message that quotes the format broke the one-line rule.
     */
    @Example
    void aControlCharacterInAQuotedValueStaysOnOneLine() {
        String header = new String(ORIGINAL, 8, HEADER_END - 8, StandardCharsets.UTF_8);
        int at = 8 + header.indexOf("ionllama-v12") + "ionllama".length();
        assertThat((char) ORIGINAL[at]).isEqualTo('-');
        byte[] b = ORIGINAL.clone();
        b[at] ^= 0x20; // '-' -> '\r'
        check(b, "format '-' -> CR");
        assertThatThrownBy(() -> {
            Files.write(DIR.resolve("mutant.safetensors"), b);
            Checkpoint.loadModel(DIR.resolve("mutant.safetensors"), CPU);
        }).hasMessageContaining("ionllama\\u000Dv12");
    }

    /** Found by the header edits: a layer count of 999991 once built a layout of millions of tensors before failing. */
    @Example
    void anEnormousLayerCountIsRefusedAtOnce() {
        String header = new String(ORIGINAL, 8, HEADER_END - 8, StandardCharsets.UTF_8);
        byte[] h = header.replace("\"model.layers\":\"1\"", "\"model.layers\":\"999991\"").getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + h.length + ORIGINAL.length - HEADER_END).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(h.length).put(h).put(ORIGINAL, HEADER_END, ORIGINAL.length - HEADER_END);
        long t0 = System.nanoTime();
        check(out.array(), "layers 999991");
        assertThat((System.nanoTime() - t0) / 1e9).as("seconds to refuse it").isLessThan(2.0 * Math.max(1, loadPerCore()));
    }

    private static double loadPerCore() {
        return java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage()
                / Runtime.getRuntime().availableProcessors();
    }

    /** Loads {@code bytes} as a checkpoint and asserts the contract above. */
    private static void check(byte[] bytes, String what) {
        Path p = DIR.resolve("mutant.safetensors");
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            Files.write(p, bytes);
            IonLlama loaded;
            try {
                loaded = Checkpoint.loadModel(p, CPU);
            } catch (IOException e) {
                assertThat(e.getMessage()).as(what).isNotBlank().doesNotContain("\n", "\r").contains(p.getFileName().toString());
                return;
            } catch (RuntimeException e) {
                throw new AssertionError("not a one-line error (" + what + ")", e);
            }
            assertThat(loaded.params).as("a damaged file that loads must hold the original parameters (%s)", what)
                    .containsExactly(PARAMS);
        }, what);
    }
}
