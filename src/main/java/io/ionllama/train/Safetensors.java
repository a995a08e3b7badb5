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
 * and other tools. It writes F32; it reads F32, and F16, BF16 and F64 by converting to float.
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
    /** Largest header accepted: a real one is kilobytes; this only stops a garbage length early. */
    private static final long MAX_HEADER = 100_000_000L;

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
        /** Elements; an ArithmeticException when a (damaged) shape's product overflows. */
        public long count() {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
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
        Path tmp = dir.resolve(temporaryName(path.getFileName().toString(), ProcessHandle.current().pid()));
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

    /** The hidden name a write of {@code file} by process {@code pid} uses until its rename. */
    static String temporaryName(String file, long pid) {
        return "." + file + ".tmp-" + pid;
    }

    private static final java.util.regex.Pattern TEMPORARY = java.util.regex.Pattern.compile("\\..+\\.safetensors\\.tmp-(\\d{1,18})");

    /**
     * Deletes the temporary files in {@code dir} that writes by processes no longer running left
     * behind (a kill between creating the file and renaming it): they can be as large as the
     * model, and nothing will ever rename them. A live process's file is left alone, since it may
     * be writing. Returns how many were deleted; a file that cannot be deleted is skipped.
     */
    public static int removeStaleTemporaries(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        int removed = 0;
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                java.util.regex.Matcher m = TEMPORARY.matcher(f.getFileName().toString());
                if (m.matches() && !writing(Long.parseLong(m.group(1)))) {
                    try {
                        removed += Files.deleteIfExists(f) ? 1 : 0;
                    } catch (IOException e) {
                        // Not ours to insist on: the run goes on, the file stays.
                    }
                }
            }
        }
        return removed;
    }

    /**
     * Whether process {@code pid} may still be writing its temporary file: it is alive and not
     * this process (which writes nothing while it cleans up; a container restarting a run often
     * gives the new process the killed one's pid).
     */
    private static boolean writing(long pid) {
        return pid != ProcessHandle.current().pid() && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
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

        /**
         * Reads tensor {@code name} into {@code dst[off..]} as floats. F32 is read as it is; F16,
         * BF16 and F64 (files from other tools) are converted to the nearest float.
         */
        public void readF32(String name, float[] dst, int off) throws IOException {
            Entry e = entry(name);
            String dtype = e.dtype();
            if (!dtype.equals("F32") && !dtype.equals("F16") && !dtype.equals("BF16") && !dtype.equals("F64")) {
                throw new FormatException(path + ": tensor '" + name + "' is " + dtype + "; only F32, F16, BF16 and F64 load as floats");
            }
            int width = width(dtype);
            int kind = dtype.equals("F32") ? 0 : dtype.equals("F16") ? 1 : dtype.equals("BF16") ? 2 : 3;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                ch.position(dataStart + e.begin());
                ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
                long n = e.count();
                long i = 0;
                while (i < n) {
                    buf.clear();
                    buf.limit((int) Math.min(buf.capacity(), (n - i) * width));
                    while (buf.hasRemaining()) {
                        if (ch.read(buf) < 0) {
                            throw new FormatException(path + ": truncated inside tensor '" + name + "'");
                        }
                    }
                    buf.flip();
                    while (buf.hasRemaining()) {
                        dst[Math.toIntExact(off + i++)] = switch (kind) {
                            case 0 -> buf.getFloat();
                            case 1 -> Float.float16ToFloat(buf.getShort());
                            case 2 -> Float.intBitsToFloat((buf.getShort() & 0xFFFF) << 16);
                            default -> (float) buf.getDouble();
                        };
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
            if (headerLen <= 0 || headerLen > MAX_HEADER) {
                throw new FormatException(path + ": not a safetensors file (bad header length " + headerLen + ")");
            }
            if (8 + headerLen > size) {
                throw new FormatException(path + ": truncated (its header needs " + (8 + headerLen) + " bytes, the file has " + size + ")");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(ch, hb, path);
            JsonObject header;
            try {
                header = JsonParser.parseString(new String(hb.array(), StandardCharsets.UTF_8)).getAsJsonObject();
            } catch (JsonParseException | IllegalStateException e) {
                // The JSON library's own message spans lines and gives advice for its users, not ours.
                throw new FormatException(path + ": corrupt header (not a JSON object)");
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
                long[] shape = naturals(o.get("shape"));
                long[] offs = naturals(o.get("data_offsets"));
                if (shape == null || offs == null) {
                    throw new FormatException(path + ": corrupt header (tensor '" + e.getKey() + "' has no valid shape or data offsets)");
                }
                Entry entry = new Entry(e.getKey(), o.get("dtype").getAsString(), shape, offs[0], offs[1]);
                long width = width(entry.dtype());
                if (width == 0) {
                    throw new FormatException(path + ": tensor '" + e.getKey() + "' has unknown dtype '" + entry.dtype() + "'");
                }
                if (offs.length != 2 || offs[0] < 0 || offs[1] < offs[0]) {
                    throw new FormatException(path + ": corrupt header (tensor '" + e.getKey() + "' has data offsets "
                            + java.util.Arrays.toString(offs) + ")");
                }
                if (offs[1] > dataLen) {
                    throw new FormatException(path + ": truncated (tensor '" + e.getKey() + "' ends at data byte " + offs[1]
                            + ", the file holds " + dataLen + ")");
                }
                long count = entry.count();
                if (offs[1] - offs[0] != Math.multiplyExact(count, width)) {
                    throw new FormatException(path + ": corrupt header (tensor '" + e.getKey() + "', " + entry.dtype() + " of shape "
                            + java.util.Arrays.toString(shape) + ", spans " + (offs[1] - offs[0]) + " bytes)");
                }
                entries.put(e.getKey(), entry);
                spans.add(offs);
            }
            // As the format requires, the tensors tile the data exactly: no holes, no overlaps, nothing after.
            spans.sort(java.util.Comparator.comparingLong(a -> a[0]));
            long covered = 0;
            for (long[] span : spans) {
                if (span[0] != covered) {
                    throw new FormatException(path + ": corrupt header (tensor data " + (span[0] < covered ? "overlaps" : "has a hole")
                            + " at data byte " + Math.min(span[0], covered) + ")");
                }
                covered = span[1];
            }
            if (covered != dataLen) {
                throw new FormatException(path + ": corrupt header (" + (dataLen - covered) + " bytes after the last tensor)");
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
        } catch (RuntimeException e) {
            // Whatever else a damaged header makes the JSON accessors throw (a wrong type, a missing
            // field): the file is at fault, not the program.
            throw new FormatException(path + ": corrupt header (an entry is not what safetensors expects)");
        }
    }

    /** A JSON array of whole numbers >= 0 (a shape, data offsets), or null when it is anything else. */
    private static long[] naturals(JsonElement e) {
        if (e == null || !e.isJsonArray()) {
            return null;
        }
        var a = e.getAsJsonArray();
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            JsonElement v = a.get(i);
            if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isNumber()) {
                return null;
            }
            java.math.BigDecimal d = v.getAsBigDecimal();
            if (d.signum() < 0 || d.compareTo(java.math.BigDecimal.valueOf(Long.MAX_VALUE)) > 0 || d.stripTrailingZeros().scale() > 0) {
                return null;
            }
            out[i] = d.longValueExact();
        }
        return out;
    }

    /** Bytes per element of a safetensors dtype; 0 for a name the format does not define. */
    static int width(String dtype) {
        return switch (dtype) {
            case "F64", "I64", "U64" -> 8;
            case "F32", "I32", "U32" -> 4;
            case "F16", "BF16", "I16", "U16" -> 2;
            case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2" -> 1;
            default -> 0;
        };
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, Path path) throws IOException {
        while (buf.hasRemaining()) {
            if (ch.read(buf) < 0) {
                throw new FormatException(path + ": truncated");
            }
        }
    }
}
