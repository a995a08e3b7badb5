package io.ionllama.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A read-only run of bytes the trainer samples windows from. Large files are read with positional
 * reads through a {@link FileChannel} (the OS page cache does the caching), so a corpus of any size
 * never has to fit in the heap; the embedded corpus is a plain array.
 */
public interface ByteSource extends AutoCloseable {

    long size();

    /** Copies bytes {@code [pos, pos + len)} into {@code dst[off..]}, as ints 0..255. */
    void read(long pos, int[] dst, int off, int len);

    @Override
    default void close() {}

    /** A view of {@code [from, to)} of this source. */
    default ByteSource slice(long from, long to) {
        ByteSource parent = this;
        return new ByteSource() {
            @Override
            public long size() {
                return to - from;
            }

            @Override
            public void read(long pos, int[] dst, int off, int len) {
                parent.read(from + pos, dst, off, len);
            }
        };
    }

    /** The sources one after another (several --data files trained on together); a read may span two. */
    static ByteSource concat(java.util.List<ByteSource> parts) {
        if (parts.size() == 1) {
            return parts.get(0);
        }
        long[] start = new long[parts.size() + 1];
        for (int i = 0; i < parts.size(); i++) {
            start[i + 1] = start[i] + parts.get(i).size();
        }
        return new ByteSource() {
            @Override
            public long size() {
                return start[parts.size()];
            }

            @Override
            public void read(long pos, int[] dst, int off, int len) {
                int i = 0;
                while (i < parts.size() - 1 && pos >= start[i + 1]) {
                    i++;
                }
                while (len > 0) {
                    int n = (int) Math.min(len, start[i + 1] - pos);
                    parts.get(i).read(pos - start[i], dst, off, n);
                    pos += n;
                    off += n;
                    len -= n;
                    i++;
                }
            }
        };
    }

    static ByteSource of(byte[] bytes) {
        return new ByteSource() {
            @Override
            public long size() {
                return bytes.length;
            }

            @Override
            public void read(long pos, int[] dst, int off, int len) {
                int p = Math.toIntExact(pos);
                for (int i = 0; i < len; i++) {
                    dst[off + i] = bytes[p + i] & 0xFF;
                }
            }
        };
    }

    /** A file read by positional reads; thread-safe. */
    static ByteSource open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        long size = ch.size();
        return new ByteSource() {
            private final ThreadLocal<ByteBuffer> buffers = ThreadLocal.withInitial(() -> ByteBuffer.allocate(1 << 16));

            @Override
            public long size() {
                return size;
            }

            @Override
            public void read(long pos, int[] dst, int off, int len) {
                ByteBuffer buf = buffers.get();
                if (buf.capacity() < len) {
                    buf = ByteBuffer.allocate(len);
                    buffers.set(buf);
                }
                buf.clear().limit(len);
                try {
                    long p = pos;
                    while (buf.hasRemaining()) {
                        int n = ch.read(buf, p);
                        if (n < 0) {
                            throw new IOException(file + " shrank while reading");
                        }
                        p += n;
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                byte[] a = buf.array();
                for (int i = 0; i < len; i++) {
                    dst[off + i] = a[i] & 0xFF;
                }
            }

            @Override
            public void close() {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // read-only: nothing to lose
                }
            }
        };
    }
}
