package io.ionllama.train;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32C;

/**
 * Reads and writes the safetensors format (an 8-byte little-endian header length, a JSON header,
 * then the raw little-endian tensor bytes), so checkpoints open in Python's {@code safetensors}
 * and other tools. Only F32 tensors are used.
 *
 * <p>Writes are atomic: the file is written beside its destination under a temporary name,
 * forced to disk, then renamed over the destination, so a crash at any moment leaves either the
 * old or the new file, never a torn one. A CRC32C of the data section is stored in the metadata
 * ({@value #CHECKSUM_KEY}) and verified on load.
 */
public final class Safetensors {
    private Safetensors() {}

    public static final String CHECKSUM_KEY = "ionllama.crc32c";
    private static final Gson GSON = new Gson();
    private static final int CHUNK = 1 << 20;

    /** A slice of a float array to write as one tensor. */
    public record Tensor(String name, long[] shape, float[] data, int offset) {
        public long count() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }

        public static Tensor of(String name, float[] data, int offset, int... shape) {
            long[] s = new long[shape.length];
            for (int i = 0; i < shape.length; i++) {
                s[i] = shape[i];
            }
            return new Tensor(name, s, data, offset);
        }
    }

    /** A tensor's entry in a file's header. */
    public record Entry(String name, String dtype, long[] shape, long begin, long end) {
        public long count() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    /** A file that failed validation: truncated, corrupt, or not safetensors at all. */
    public static final class FormatException extends IOException {
        public FormatException(String message) {
            super(message);
        }
    }

    /** Writes {@code tensors} and {@code metadata} to {@code path} atomically. */
    public static void write(Path path, Map<String, String> metadata, List<Tensor> tensors) throws IOException {
        JsonObject header = new JsonObject();
        JsonObject meta = new JsonObject();
        for (Map.Entry<String, String> e : new TreeMap<>(metadata).entrySet()) {
            meta.addProperty(e.getKey(), e.getValue());
        }
        meta.addProperty(CHECKSUM_KEY, "00000000");
        header.add("__metadata__", meta);
        long pos = 0;
        for (Tensor t : tensors) {
            JsonObject o = new JsonObject();
            o.addProperty("dtype", "F32");
            o.add("shape", GSON.toJsonTree(t.shape()));
            long bytes = t.count() * Float.BYTES;
            o.add("data_offsets", GSON.toJsonTree(new long[] {pos, pos + bytes}));
            header.add(t.name(), o);
            pos += bytes;
        }
        byte[] headerBytes = padded(header.toString());
        Path dir = path.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = dir.resolve("." + path.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        CRC32C crc = new CRC32C();
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE, StandardOpenOption.READ)) {
            ch.position(8 + headerBytes.length);
            ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
            for (Tensor t : tensors) {
                long n = t.count();
                for (long i = 0; i < n; i++) {
                    if (buf.remaining() < Float.BYTES) {
                        flush(ch, buf, crc);
                    }
                    buf.putFloat(t.data()[Math.toIntExact(t.offset() + i)]);
                }
            }
            flush(ch, buf, crc);
            meta.addProperty(CHECKSUM_KEY, String.format("%08x", crc.getValue()));
            byte[] finalHeader = padded(header.toString());
            if (finalHeader.length != headerBytes.length) {
                throw new IllegalStateException("header length changed");
            }
            ByteBuffer head = ByteBuffer.allocate(8 + finalHeader.length).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(finalHeader.length).put(finalHeader).flip();
            ch.position(0);
            while (head.hasRemaining()) {
                ch.write(head);
            }
            ch.force(true);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        try {
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING);
        }
        syncDirectory(dir);
    }

    private static void flush(FileChannel ch, ByteBuffer buf, CRC32C crc) throws IOException {
        buf.flip();
        crc.update(buf.duplicate());
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
        buf.clear();
    }

    /** JSON header padded with spaces to a multiple of 8 bytes, as the format recommends. */
    private static byte[] padded(String json) {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        int len = (b.length + 7) / 8 * 8;
        byte[] out = new byte[len];
        System.arraycopy(b, 0, out, 0, b.length);
        for (int i = b.length; i < len; i++) {
            out[i] = ' ';
        }
        return out;
    }

    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException ignored) {
            // Some file systems cannot open a directory; the rename itself is still atomic.
        }
    }

    /** An opened, validated file: header parsed, sizes and checksum checked. */
    public static final class Reader {
        private final Path path;
        private final Map<String, String> metadata;
        private final Map<String, Entry> entries;
        private final long dataStart;

        private Reader(Path path, Map<String, String> metadata, Map<String, Entry> entries, long dataStart) {
            this.path = path;
            this.metadata = metadata;
            this.entries = entries;
            this.dataStart = dataStart;
        }

        public Map<String, String> metadata() {
            return metadata;
        }

        public Map<String, Entry> entries() {
            return entries;
        }

        public Entry entry(String name) throws FormatException {
            Entry e = entries.get(name);
            if (e == null) {
                throw new FormatException(path + ": no tensor '" + name + "'");
            }
            return e;
        }

        /** Reads F32 tensor {@code name} into {@code dst[off..]}. */
        public void readF32(String name, float[] dst, int off) throws IOException {
            Entry e = entry(name);
            if (!"F32".equals(e.dtype())) {
                throw new FormatException(path + ": tensor '" + name + "' is " + e.dtype() + ", expected F32");
            }
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                ch.position(dataStart + e.begin());
                ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
                long n = e.count();
                long i = 0;
                while (i < n) {
                    buf.clear();
                    buf.limit((int) Math.min(buf.capacity(), (n - i) * Float.BYTES));
                    while (buf.hasRemaining()) {
                        if (ch.read(buf) < 0) {
                            throw new FormatException(path + ": truncated inside tensor '" + name + "'");
                        }
                    }
                    buf.flip();
                    while (buf.hasRemaining()) {
                        dst[Math.toIntExact(off + i++)] = buf.getFloat();
                    }
                }
            }
        }
    }

    /** Opens {@code path}, validating its header, its size and (unless absent) its checksum. */
    public static Reader open(Path path) throws IOException {
        if (!Files.isRegularFile(path)) {
            throw new java.nio.file.NoSuchFileException(path.toString());
        }
        long size = Files.size(path);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            if (size < 8) {
                throw new FormatException(path + ": not a safetensors file (too short)");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, path);
            long headerLen = lenBuf.flip().getLong();
            if (headerLen <= 0 || headerLen > 100_000_000L || 8 + headerLen > size) {
                throw new FormatException(path + ": not a safetensors file (bad header length " + headerLen + ")");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(ch, hb, path);
            JsonObject header;
            try {
                header = JsonParser.parseString(new String(hb.array(), StandardCharsets.UTF_8)).getAsJsonObject();
            } catch (JsonParseException | IllegalStateException e) {
                throw new FormatException(path + ": corrupt header (" + e.getMessage() + ")");
            }
            Map<String, String> meta = new LinkedHashMap<>();
            Map<String, Entry> entries = new LinkedHashMap<>();
            long dataLen = size - 8 - headerLen;
            List<long[]> spans = new ArrayList<>();
            for (Map.Entry<String, JsonElement> e : header.entrySet()) {
                if (e.getKey().equals("__metadata__")) {
                    for (Map.Entry<String, JsonElement> m : e.getValue().getAsJsonObject().entrySet()) {
                        meta.put(m.getKey(), m.getValue().getAsString());
                    }
                    continue;
                }
                JsonObject o = e.getValue().getAsJsonObject();
                long[] shape = GSON.fromJson(o.get("shape"), long[].class);
                long[] offs = GSON.fromJson(o.get("data_offsets"), long[].class);
                Entry entry = new Entry(e.getKey(), o.get("dtype").getAsString(), shape, offs[0], offs[1]);
                long width = switch (entry.dtype()) {
                    case "F32", "I32" -> 4;
                    case "F64", "I64" -> 8;
                    case "F16", "BF16", "I16" -> 2;
                    default -> 1;
                };
                if (offs[0] < 0 || offs[1] < offs[0] || offs[1] > dataLen || offs[1] - offs[0] != entry.count() * width) {
                    throw new FormatException(path + ": truncated or corrupt (tensor '" + e.getKey() + "' does not fit the file)");
                }
                entries.put(e.getKey(), entry);
                spans.add(offs);
            }
            String want = meta.get(CHECKSUM_KEY);
            if (want != null) {
                CRC32C crc = new CRC32C();
                ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
                ch.position(8 + headerLen);
                while (ch.read(buf) > 0) {
                    buf.flip();
                    crc.update(buf);
                    buf.clear();
                }
                String got = String.format("%08x", crc.getValue());
                if (!got.equals(want)) {
                    throw new FormatException(path + ": checksum mismatch (file is corrupt)");
                }
            }
            return new Reader(path, meta, entries, 8 + headerLen);
        } catch (IllegalStateException | ClassCastException | NullPointerException | JsonParseException
                 | ArrayIndexOutOfBoundsException | UnsupportedOperationException e) {
            throw new FormatException(path + ": corrupt header (" + e.getClass().getSimpleName() + ")");
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, Path path) throws IOException {
        while (buf.hasRemaining()) {
            if (ch.read(buf) < 0) {
                throw new FormatException(path + ": truncated");
            }
        }
    }
}
