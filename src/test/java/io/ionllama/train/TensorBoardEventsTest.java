package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The event file is read back record by record, every CRC checked, and its Events decoded. */
class TensorBoardEventsTest {

    /** One decoded Event: what the writer sets. */
    record Event(double wallTime, long step, String fileVersion, int sessionStatus, Map<String, Float> scalars) {}

    /** Reads a TFRecord file, checking both CRCs of every record; throws on any mismatch or truncation. */
    static List<Event> read(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        List<Event> events = new ArrayList<>();
        while (b.hasRemaining()) {
            if (b.remaining() < 12) {
                throw new IOException("truncated record header at " + b.position());
            }
            byte[] len = new byte[8];
            b.get(len);
            if (b.getInt() != TensorBoardEvents.maskedCrc(len, 0, 8)) {
                throw new IOException("length CRC mismatch at " + (b.position() - 12));
            }
            long n = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (n < 0 || n > b.remaining() - 4) {
                throw new IOException("truncated record at " + b.position());
            }
            byte[] data = new byte[(int) n];
            b.get(data);
            if (b.getInt() != TensorBoardEvents.maskedCrc(data, 0, data.length)) {
                throw new IOException("data CRC mismatch at " + (b.position() - 4 - n));
            }
            events.add(decodeEvent(ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN)));
        }
        return events;
    }

    private static Event decodeEvent(ByteBuffer b) throws IOException {
        double wall = 0;
        long step = 0;
        String version = null;
        int status = 0;
        Map<String, Float> scalars = new LinkedHashMap<>();
        while (b.hasRemaining()) {
            long key = varint(b);
            int field = (int) (key >>> 3), wire = (int) (key & 7);
            switch (field) {
                case 1 -> { expect(wire, 1); wall = b.getDouble(); }
                case 2 -> { expect(wire, 0); step = varint(b); }
                case 3 -> { expect(wire, 2); version = new String(bytes(b), StandardCharsets.UTF_8); }
                case 5 -> {
                    expect(wire, 2);
                    ByteBuffer s = ByteBuffer.wrap(bytes(b)).order(ByteOrder.LITTLE_ENDIAN);
                    while (s.hasRemaining()) {
                        long k = varint(s);
                        expect((int) k, 1 << 3 | 2);
                        ByteBuffer v = ByteBuffer.wrap(bytes(s)).order(ByteOrder.LITTLE_ENDIAN);
                        String tag = null;
                        Float value = null;
                        while (v.hasRemaining()) {
                            long vk = varint(v);
                            if (vk == (1 << 3 | 2)) {
                                tag = new String(bytes(v), StandardCharsets.UTF_8);
                            } else if (vk == (2 << 3 | 5)) {
                                value = v.getFloat();
                            } else {
                                throw new IOException("unexpected Value field " + vk);
                            }
                        }
                        scalars.put(tag, value);
                    }
                }
                case 7 -> {
                    expect(wire, 2);
                    ByteBuffer s = ByteBuffer.wrap(bytes(b));
                    expect((int) varint(s), 1 << 3);
                    status = (int) varint(s);
                }
                default -> throw new IOException("unexpected Event field " + field);
            }
        }
        return new Event(wall, step, version, status, scalars);
    }

    private static void expect(int got, int want) throws IOException {
        if (got != want) {
            throw new IOException("wire type/key " + got + ", expected " + want);
        }
    }

    private static long varint(ByteBuffer b) {
        long v = 0;
        for (int shift = 0;; shift += 7) {
            int x = b.get() & 0xFF;
            v |= (long) (x & 0x7F) << shift;
            if (x < 0x80) {
                return v;
            }
        }
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[(int) varint(b)];
        b.get(out);
        return out;
    }

    static Path eventsFile(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> f = s.filter(p -> p.getFileName().toString().startsWith("events.out.tfevents.")).sorted().toList();
            assertThat(f).hasSize(1);
            return f.get(0);
        }
    }

    @Test
    void crc32cAndMaskMatchTheReference() {
        // CRC-32C check value for "123456789" (RFC 3720), then TFRecord's mask of it.
        byte[] check = "123456789".getBytes(StandardCharsets.US_ASCII);
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(check);
        assertThat(crc.getValue()).isEqualTo(0xE3069283L);
        int c = 0xE3069283;
        assertThat(TensorBoardEvents.maskedCrc(check, 0, check.length)).isEqualTo(((c >>> 15) | (c << 17)) + 0xa282ead8);
    }

    @Test
    void bytesEqualTensorBoardsOwnWriter() {
        // Produced by tensorboard 2.x: event_pb2.Event(...).SerializeToString() framed by
        // tensorboard.summary.writer.record_writer.RecordWriter.
        var summary = new TensorBoardEvents.Proto();
        var value = new TensorBoardEvents.Proto();
        value.string(1, "train/bpb");
        value.float32(2, 1.25f);
        summary.message(1, value);
        assertThat(HexFormat.of().formatHex(TensorBoardEvents.frame(TensorBoardEvents.event(1.5, 7, null, summary, false))))
                .isEqualTo("1f00000000000000514b441809000000000000f83f10072a120a100a09747261696e2f627062150000a03f8f354a4d");
        assertThat(HexFormat.of().formatHex(TensorBoardEvents.frame(TensorBoardEvents.event(1.5, 0, "brain.Event:2", null, false))))
                .isEqualTo("1800000000000000a37f4b2209000000000000f83f1a0d627261696e2e4576656e743a322a28646c");
        assertThat(HexFormat.of().formatHex(TensorBoardEvents.frame(TensorBoardEvents.event(1.5, 201, null, null, true))))
                .isEqualTo("100000000000000095fbfe1809000000000000f83f10c9013a0208016c578f46");
    }

    @Test
    void metricsRecordsBecomeScalarsReadBackWithCheckedCrcs(@TempDir Path dir) throws IOException {
        try (MetricsLog log = new MetricsLog(dir.resolve("metrics.jsonl"), 0, new TensorBoardEvents(dir, 0))) {
            log.write(Map.of("kind", "train", "step", 1L, "loss", 5.5, "bpb", 7.9, "lr", 3e-4, "grad_norm", 2.5,
                    "bytes_per_s", 1234.0, "bytes_per_patch", 4.0, "time", 1.7e9, "peak_heap_mb", 12.0));
            log.write(Map.of("kind", "train", "step", 10L, "loss", 2.0, "bpb", 2.9, "lr", 3e-3, "grad_norm", Double.NaN,
                    "time", 1.7e9 + 1));
            log.write(Map.of("kind", "valid", "step", 10L, "loss", 2.1, "bpb", 3.0, "bytes_per_patch", 4.5, "time", 1.7e9 + 2));
        }
        Path f = eventsFile(dir);
        assertThat(f.getFileName().toString()).matches("events\\.out\\.tfevents\\.\\d{10}\\.[^/]+");
        List<Event> ev = read(f);
        assertThat(ev).hasSize(5);
        assertThat(ev.get(0).fileVersion()).isEqualTo("brain.Event:2");
        assertThat(ev.get(1).sessionStatus()).isEqualTo(1);
        assertThat(ev.get(1).step()).isEqualTo(1);
        Event first = ev.get(2);
        assertThat(first.step()).isEqualTo(1);
        assertThat(first.wallTime()).isEqualTo(1.7e9);
        assertThat(first.scalars()).containsOnlyKeys("train/loss", "train/bpb", "train/lr", "train/grad_norm",
                "train/bytes_per_sec", "train/bytes_per_patch");
        assertThat(first.scalars().get("train/bpb")).isEqualTo(7.9f);
        assertThat(first.scalars().get("train/lr")).isEqualTo(3e-4f);
        assertThat(first.scalars().get("train/bytes_per_sec")).isEqualTo(1234f);
        assertThat(ev.get(3).step()).isEqualTo(10);
        assertThat(ev.get(3).scalars().get("train/grad_norm")).isNaN();
        assertThat(ev.get(4).scalars()).containsEntry("valid/bpb", 3.0f).containsEntry("valid/bytes_per_patch", 4.5f)
                .containsEntry("valid/loss", 2.1f);
    }

    @Test
    void everyFlippedByteIsRejected(@TempDir Path dir) throws IOException {
        try (TensorBoardEvents tb = new TensorBoardEvents(dir, 0)) {
            tb.scalars(3, 1.0, Map.of("train/bpb", 2.5));
        }
        Path f = eventsFile(dir);
        byte[] good = Files.readAllBytes(f);
        assertThat(read(f)).hasSize(3);
        Path bad = dir.resolve("bad");
        for (int i = 0; i < good.length; i++) {
            byte[] b = good.clone();
            b[i] ^= 0x10;
            Files.write(bad, b);
            assertThatThrownBy(() -> read(bad)).as("byte %d flipped", i).isInstanceOf(IOException.class)
                    .hasMessageContaining("CRC");
        }
        Files.write(bad, java.util.Arrays.copyOf(good, good.length - 1));
        assertThatThrownBy(() -> read(bad)).isInstanceOf(IOException.class);
    }

    @Test
    void eachRunOpensItsOwnFileAndMarksItsRestartStep(@TempDir Path dir) throws IOException {
        try (TensorBoardEvents a = new TensorBoardEvents(dir, 0); TensorBoardEvents b = new TensorBoardEvents(dir, 200)) {
            assertThat(a.file()).isNotEqualTo(b.file());
            // A same-second second file sorts after the first, so TensorBoard reads it later.
            assertThat(b.file().getFileName().toString()).isGreaterThan(a.file().getFileName().toString());
            List<Event> ev = read(b.file());
            assertThat(ev.get(1).sessionStatus()).isEqualTo(1);
            assertThat(ev.get(1).step()).isEqualTo(201);
        }
    }
}
