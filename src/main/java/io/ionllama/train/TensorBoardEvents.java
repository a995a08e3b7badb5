package io.ionllama.train;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * Scalars as a TensorBoard event file ({@code events.out.tfevents.<unix seconds>.<host>}), written
 * without TensorFlow or a protobuf library. A file is a sequence of TFRecords: {@code uint64}
 * length (little endian), the masked CRC32C of those 8 bytes, the data, the masked CRC32C of the
 * data. Each record's data is a serialized {@code tensorflow.Event}; the first one carries
 * {@code file_version = "brain.Event:2"}, the others a {@code Summary} of {@code simple_value}s:
 * <pre>
 * Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5;
 *           SessionLog session_log = 7; }
 * Summary { repeated Value value = 1; }   Value { string tag = 1; float simple_value = 2; }
 * SessionLog { SessionStatus status = 1; }   (START = 1)
 * </pre>
 * Every record is flushed, so a crash loses nothing already written. Each run (a resumed one too)
 * opens a new file and first writes a {@code SessionLog START} at its first new step: TensorBoard's
 * reader then drops the older files' scalars from that step on (the steps a stopped run did after
 * its checkpoint, or a whole earlier run in the same folder), as it does for a restarted
 * TensorFlow job.
 */
public final class TensorBoardEvents implements AutoCloseable {
    static final String FILE_VERSION = "brain.Event:2";
    private static final int MASK_DELTA = 0xa282ead8;
    private final Path file;
    private final OutputStream out;

    /** Opens a new event file in {@code dir} for a run whose first step is {@code startStep + 1} (marked as a restart). */
    public TensorBoardEvents(Path dir, long startStep) throws IOException {
        Files.createDirectories(dir);
        long now = System.currentTimeMillis();
        String base = "events.out.tfevents." + now / 1000 + "." + hostname();
        Path f = dir.resolve(base);
        OutputStream o = null;
        for (int n = 1; o == null; n++) {
            try {
                o = Files.newOutputStream(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            } catch (FileAlreadyExistsException e) {
                // A second run in the same second (a quick resume): a later name, which TensorBoard reads later.
                f = dir.resolve(base + "." + n);
            }
        }
        file = f;
        out = o;
        double wall = now / 1000.0;
        writeRecord(event(wall, 0, FILE_VERSION, null, false));
        writeRecord(event(wall, startStep + 1, null, null, true));
    }

    public Path file() {
        return file;
    }

    /** One Event with a Summary holding {@code scalars} (tag to value) at {@code step}. */
    public void scalars(long step, double wallTime, Map<String, Double> scalars) {
        if (scalars.isEmpty()) {
            return;
        }
        Proto summary = new Proto();
        for (Map.Entry<String, Double> e : scalars.entrySet()) {
            Proto value = new Proto();
            value.string(1, e.getKey());
            value.float32(2, e.getValue().floatValue());
            summary.message(1, value);
        }
        try {
            writeRecord(event(wallTime, step, null, summary, false));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] event(double wallTime, long step, String fileVersion, Proto summary, boolean sessionStart) {
        Proto ev = new Proto();
        ev.float64(1, wallTime);
        if (step != 0) {
            ev.int64(2, step);
        }
        if (fileVersion != null) {
            ev.string(3, fileVersion);
        }
        if (summary != null) {
            ev.message(5, summary);
        }
        if (sessionStart) {
            Proto log = new Proto();
            log.int64(1, 1); // SessionLog.START
            ev.message(7, log);
        }
        return ev.bytes();
    }

    private void writeRecord(byte[] data) throws IOException {
        out.write(frame(data));
        out.flush();
    }

    /** A TFRecord: length, masked CRC of the length, data, masked CRC of the data. */
    static byte[] frame(byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + 4 + data.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(data.length);
        b.putInt(maskedCrc(b.array(), 0, 8));
        b.put(data);
        b.putInt(maskedCrc(data, 0, data.length));
        return b.array();
    }

    /** TFRecord's masked CRC32C: rotate right by 15 bits, add a constant. */
    static int maskedCrc(byte[] bytes, int off, int len) {
        CRC32C crc = new CRC32C();
        crc.update(bytes, off, len);
        int c = (int) crc.getValue();
        return ((c >>> 15) | (c << 17)) + MASK_DELTA;
    }

    private static String hostname() {
        String h = System.getenv("HOSTNAME");
        if (h == null || h.isBlank()) {
            try {
                h = InetAddress.getLocalHost().getHostName();
            } catch (IOException | RuntimeException e) {
                h = "localhost";
            }
        }
        return h.replaceAll("[^A-Za-z0-9._-]", "_");
    }

    @Override
    public void close() throws IOException {
        out.close();
    }

    /** Just enough protobuf wire format: varints, 64-bit, 32-bit and length-delimited fields. */
    static final class Proto {
        private final java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();

        private void varint(long v) {
            while ((v & ~0x7FL) != 0) {
                buf.write((int) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            buf.write((int) v);
        }

        private void tag(int field, int wireType) {
            varint((long) field << 3 | wireType);
        }

        void int64(int field, long v) {
            tag(field, 0);
            varint(v);
        }

        void float64(int field, double v) {
            tag(field, 1);
            long bits = Double.doubleToLongBits(v);
            for (int i = 0; i < 8; i++) {
                buf.write((int) (bits >>> (8 * i)));
            }
        }

        void float32(int field, float v) {
            tag(field, 5);
            int bits = Float.floatToIntBits(v);
            for (int i = 0; i < 4; i++) {
                buf.write(bits >>> (8 * i));
            }
        }

        void string(int field, String s) {
            bytes(field, s.getBytes(StandardCharsets.UTF_8));
        }

        void message(int field, Proto m) {
            bytes(field, m.bytes());
        }

        private void bytes(int field, byte[] b) {
            tag(field, 2);
            varint(b.length);
            buf.writeBytes(b);
        }

        byte[] bytes() {
            return buf.toByteArray();
        }
    }
}
