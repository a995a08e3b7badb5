package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {

    @TempDir
    Path dir;

    private Path sample() throws IOException {
        float[] params = new float[10];
        for (int i = 0; i < params.length; i++) {
            params[i] = i * 0.5f - 1;
        }
        Path p = dir.resolve("m.safetensors");
        Safetensors.write(p, Map.of("step", "7"), List.of(
                Safetensors.Tensor.of("a", params, 0, 2, 3),
                Safetensors.Tensor.of("b", params, 6, 4)));
        return p;
    }

    @Test
    void roundTripsTensorsAndMetadata() throws IOException {
        Path p = sample();
        Safetensors.Reader r = Safetensors.open(p);
        assertThat(r.metadata()).containsEntry("step", "7").containsKey(Safetensors.CHECKSUM_KEY);
        float[] back = new float[10];
        r.readF32("a", back, 0);
        r.readF32("b", back, 6);
        for (int i = 0; i < 10; i++) {
            assertThat(back[i]).isEqualTo(i * 0.5f - 1);
        }
        assertThat(r.entry("a").shape()).containsExactly(2, 3);
    }

    /** The layout other tools read: u64 LE header length, JSON header, F32 LE data at the stated offsets. */
    @Test
    void bytesFollowTheFormat() throws IOException {
        byte[] all = Files.readAllBytes(sample());
        ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        long n = b.getLong();
        assertThat(n % 8).isZero();
        String header = new String(all, 8, (int) n, StandardCharsets.UTF_8);
        assertThat(header).contains("\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}");
        assertThat(b.getFloat((int) (8 + n) + 4 * 6)).isEqualTo(2.0f);
        assertThat(all.length).isEqualTo(8 + n + 40);
    }

    @Test
    void rejectsTruncatedFiles() throws IOException {
        Path p = sample();
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(f.length() - 4);
        }
        assertThatThrownBy(() -> Safetensors.open(p)).isInstanceOf(Safetensors.FormatException.class)
                .hasMessageContaining("truncated");
    }

    @Test
    void rejectsFlippedDataBits() throws IOException {
        Path p = sample();
        byte[] all = Files.readAllBytes(p);
        all[all.length - 3] ^= 0x10;
        Files.write(p, all);
        assertThatThrownBy(() -> Safetensors.open(p)).hasMessageContaining("checksum");
    }

    @Test
    void rejectsGarbage() throws IOException {
        Path p = dir.resolve("junk.safetensors");
        Files.writeString(p, "this is not a checkpoint at all");
        assertThatThrownBy(() -> Safetensors.open(p)).isInstanceOf(Safetensors.FormatException.class);
        Files.write(p, new byte[] {1, 2});
        assertThatThrownBy(() -> Safetensors.open(p)).isInstanceOf(Safetensors.FormatException.class);
    }

    @Test
    void overwriteLeavesNoTemporaryFiles() throws IOException {
        sample();
        sample();
        try (var s = Files.list(dir)) {
            assertThat(s.map(x -> x.getFileName().toString()).toList()).containsExactly("m.safetensors");
        }
    }

    /** A file with {@code header} (JSON, unpadded) and {@code data}, as another tool would write it: no checksum. */
    private Path raw(String name, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Path p = dir.resolve(name);
        Files.write(p, b.array());
        return p;
    }

    @Test
    void aFileCutInsideItsHeaderIsReportedAsTruncated() throws IOException {
        Path p = sample();
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(40);
        }
        assertThatThrownBy(() -> Safetensors.open(p)).isInstanceOf(Safetensors.FormatException.class)
                .hasMessageContaining("truncated").hasMessageContaining("the file has 40").hasMessageNotContaining("header length");
    }

    @Test
    void halfPrecisionAndDoubleTensorsLoadAsFloats() throws IOException {
        ByteBuffer d = ByteBuffer.allocate(4 + 4 + 16).order(ByteOrder.LITTLE_ENDIAN);
        d.putShort(Float.floatToFloat16(1.5f)).putShort(Float.floatToFloat16(-0.25f));
        d.putShort((short) (Float.floatToRawIntBits(3.0f) >>> 16)).putShort((short) (Float.floatToRawIntBits(-2.0f) >>> 16));
        d.putDouble(0.125).putDouble(1e3);
        Path p = raw("half.safetensors", "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]},"
                + "\"f\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[8,24]}}", d.array());
        Safetensors.Reader r = Safetensors.open(p);
        float[] out = new float[6];
        r.readF32("h", out, 0);
        r.readF32("b", out, 2);
        r.readF32("f", out, 4);
        assertThat(out).containsExactly(1.5f, -0.25f, 3.0f, -2.0f, 0.125f, 1000f);
    }

    @Test
    void integerTensorsAreRefusedByName() throws IOException {
        Path p = raw("ints.safetensors", "{\"i\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]);
        assertThatThrownBy(() -> Safetensors.open(p).readF32("i", new float[1], 0)).isInstanceOf(Safetensors.FormatException.class)
                .hasMessageContaining("'i' is I32").hasMessageContaining("F16");
        Path q = raw("odd.safetensors", "{\"i\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]);
        assertThatThrownBy(() -> Safetensors.open(q)).hasMessageContaining("unknown dtype 'Q4'");
    }

    @Test
    void aHeaderThatIsNotJsonGivesOneLineWithoutTheParsersAdvice() throws IOException {
        Path p = raw("nojson.safetensors", "{not json at all, \"x\": [1,2", new byte[0]);
        assertThatThrownBy(() -> Safetensors.open(p)).isInstanceOf(Safetensors.FormatException.class)
                .hasMessageContaining(p.toString()).hasMessageContaining("corrupt header")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n", "gson", "http"));
    }

    @Test
    void staleTemporariesOfDeadProcessesAreRemovedAndLiveOnesKept() throws IOException, InterruptedException {
        Process sleeper = new ProcessBuilder("sleep", "30").start();
        Process dead = new ProcessBuilder("true").start();
        dead.waitFor();
        try {
            Path live = Files.write(dir.resolve(Safetensors.temporaryName("latest.safetensors", sleeper.pid())), new byte[16]);
            Path gone = Files.write(dir.resolve(Safetensors.temporaryName("latest.safetensors", dead.pid())), new byte[16]);
            Path mine = Files.write(dir.resolve(Safetensors.temporaryName("best.safetensors", ProcessHandle.current().pid())), new byte[16]);
            Path other = Files.write(dir.resolve(".notes.tmp-1"), new byte[1]);
            assertThat(Safetensors.removeStaleTemporaries(dir)).isEqualTo(2);
            assertThat(live).exists();
            assertThat(other).exists();
            assertThat(gone).doesNotExist();
            assertThat(mine).as("this process writes nothing while it cleans up: a reused pid's leftover").doesNotExist();
        } finally {
            sleeper.destroyForcibly();
        }
    }
}
