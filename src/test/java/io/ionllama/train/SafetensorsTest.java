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
}
