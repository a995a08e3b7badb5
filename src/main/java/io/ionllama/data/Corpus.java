package io.ionllama.data;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.tukaani.xz.XZInputStream;

/**
 * Training and validation bytes from one of three places: the embedded corpus (no argument), a
 * file, or a directory (read recursively in sorted order, files joined by {@link #SEPARATOR}).
 * {@code .gz} and {@code .xz} files are decompressed once into a cache file, streamed, never
 * held in the heap. Without separate validation data the last {@link #VALID_FRACTION} of the bytes
 * (at least one window, at most {@link #MAX_VALID} bytes) are held out: a deterministic split.
 */
public final class Corpus implements AutoCloseable {

    public static final String SEPARATOR = "\n\n";
    public static final double VALID_FRACTION = 0.05;
    public static final long MAX_VALID = 4L << 20;
    /** Bytes of embedded corpus generated for training and validation. */
    public static final int EMBEDDED_TRAIN_BYTES = 8 << 20, EMBEDDED_VALID_BYTES = 256 << 10;

    private final String description;
    private final ByteSource train;
    private final ByteSource valid;
    private final List<ByteSource> owned;

    private Corpus(String description, ByteSource train, ByteSource valid, List<ByteSource> owned) {
        this.description = description;
        this.train = train;
        this.valid = valid;
        this.owned = owned;
    }

    /** A user-facing problem with the data: one line says what. */
    public static final class DataException extends RuntimeException {
        public DataException(String message) {
            super(message);
        }
    }

    public String description() {
        return description;
    }

    public ByteSource train() {
        return train;
    }

    public ByteSource valid() {
        return valid;
    }

    public static Corpus embedded() {
        byte[] t = EmbeddedCorpus.generate(EmbeddedCorpus.TRAIN_SEED, EMBEDDED_TRAIN_BYTES);
        byte[] v = EmbeddedCorpus.generate(EmbeddedCorpus.VALID_SEED, EMBEDDED_VALID_BYTES);
        return new Corpus(String.format("embedded corpus (%,d train / %,d valid bytes)", t.length, v.length),
                ByteSource.of(t), ByteSource.of(v), List.of());
    }

    /**
     * Opens {@code data} (file or directory) and optionally {@code validData}; {@code window} is
     * the bytes one training sequence needs (seq-len + 1), the minimum for each split.
     */
    public static Corpus open(Path data, Path validData, int window, Path cacheDir) throws IOException {
        List<ByteSource> owned = new ArrayList<>();
        ByteSource all = openPath(data, cacheDir, owned);
        if (all.size() == 0) {
            throw new DataException(data + " is empty");
        }
        ByteSource train, valid;
        String desc;
        if (validData != null) {
            valid = openPath(validData, cacheDir, owned);
            train = all;
            desc = String.format("%s (%,d bytes), validation %s (%,d bytes)", data, train.size(), validData, valid.size());
        } else {
            long v = Math.min(MAX_VALID, Math.max(window, (long) (all.size() * VALID_FRACTION)));
            train = all.slice(0, all.size() - v);
            valid = all.slice(all.size() - v, all.size());
            desc = String.format("%s (%,d train / %,d valid bytes, last %.0f%% held out)", data, train.size(), valid.size(),
                    100.0 * v / all.size());
        }
        if (train.size() < window) {
            throw new DataException(String.format("%s is too short: training needs at least %,d bytes (seq-len + 1), has %,d",
                    data, window, train.size()));
        }
        if (valid.size() < 2) {
            throw new DataException("validation data " + (validData != null ? validData : data) + " is too short");
        }
        return new Corpus(desc, train, valid, owned);
    }

    private static ByteSource openPath(Path p, Path cacheDir, List<ByteSource> owned) throws IOException {
        if (!Files.exists(p)) {
            throw new DataException("no such file or directory: " + p);
        }
        if (!Files.isReadable(p)) {
            throw new DataException("cannot read " + p);
        }
        List<Path> files = new ArrayList<>();
        if (Files.isDirectory(p)) {
            try (Stream<Path> s = Files.walk(p)) {
                s.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().startsWith(".")).sorted().forEach(files::add);
            }
            if (files.isEmpty()) {
                throw new DataException(p + " holds no files");
            }
        } else {
            files.add(p);
        }
        ByteSource src;
        if (files.size() == 1 && !isCompressed(files.get(0))) {
            src = ByteSource.open(files.get(0));
        } else {
            src = ByteSource.open(materialize(files, cacheDir));
        }
        owned.add(src);
        return src;
    }

    static boolean isCompressed(Path f) {
        String n = f.getFileName().toString();
        return n.endsWith(".gz") || n.endsWith(".xz");
    }

    /** Decompresses and joins files into one cache file named by their paths, sizes and times. */
    private static Path materialize(List<Path> files, Path cacheDir) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        for (Path f : files) {
            md.update((f.toAbsolutePath() + "|" + Files.size(f) + "|" + Files.getLastModifiedTime(f).toMillis() + "\n")
                    .getBytes(StandardCharsets.UTF_8));
        }
        String key = HexFormat.of().formatHex(md.digest()).substring(0, 24);
        Path dir = cacheDir.resolve("joined");
        Files.createDirectories(dir);
        Path out = dir.resolve(key + ".bin");
        if (Files.isRegularFile(out)) {
            return out;
        }
        Path tmp = dir.resolve(key + ".tmp-" + ProcessHandle.current().pid());
        try (OutputStream os = Files.newOutputStream(tmp)) {
            boolean first = true;
            for (Path f : files) {
                if (!first) {
                    os.write(SEPARATOR.getBytes(StandardCharsets.UTF_8));
                }
                first = false;
                try (InputStream in = decoded(f)) {
                    in.transferTo(os);
                } catch (IOException e) {
                    throw new DataException("cannot read " + f + ": " + e.getMessage());
                }
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return out;
    }

    static InputStream decoded(Path f) throws IOException {
        InputStream raw = new BufferedInputStream(Files.newInputStream(f), 1 << 16);
        String n = f.getFileName().toString();
        if (n.endsWith(".gz")) {
            return new GZIPInputStream(raw, 1 << 16);
        }
        if (n.endsWith(".xz")) {
            return new XZInputStream(raw);
        }
        return raw;
    }

    /** {@code ~/.cache/ionllama}, or {@code IONLLAMA_CACHE} when set. */
    public static Path defaultCacheDir() {
        String env = System.getenv("IONLLAMA_CACHE");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        return Path.of(System.getProperty("user.home"), ".cache", "ionllama");
    }

    @Override
    public void close() {
        for (ByteSource s : owned) {
            s.close();
        }
    }

}
