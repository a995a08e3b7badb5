package io.ionllama.data;

import java.io.BufferedInputStream;
import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipInputStream;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Named public datasets ({@code --dataset NAME}), downloaded once into
 * {@code <cache>/datasets/<name>/} and read from there afterwards without any network access.
 *
 * <pre>
 *   tinystories  TinyStories-train.txt, TinyStories-valid.txt (Hugging Face roneneldan/TinyStories,
 *                about 1.9 GB + 19 MB, stories separated by &lt;|endoftext|&gt;), used as they are
 *   enwik8       enwik8.zip (mattmahoney.net, 36,445,475 bytes) unzipped and split the usual way:
 *                bytes [0, 90M) train.txt, [90M, 95M) valid.txt, [95M, 100M) test.txt (kept for reporting)
 *   shakespeare  tinyshakespeare input.txt (karpathy/char-rnn, 1,115,394 bytes); the first 90% train.txt,
 *                the last 10% valid.txt (as nanoGPT's shakespeare_char)
 * </pre>
 *
 * <p>Integrity: every downloaded file is checked against its size and SHA-256 where they are
 * known (tinyshakespeare), and its SHA-256 is kept next to it in a {@code .sha256} sidecar
 * ({@code sha256sum} format). Where the SHA-256 is not known in advance (the TinyStories files and
 * {@code enwik8.zip}) the first complete download is trusted and its sidecar recorded
 * (trust-on-first-use); any later download of that file, after the file was deleted or a partial
 * download resumed, must match it. The unzipped enwik8 is checked against its published size
 * (10^8 bytes) and SHA-1, so enwik8 is fully verified despite the trusted zip.
 *
 * <p>Downloads go to {@code FILE.part}, resume with an HTTP Range request when a {@code .part} is
 * there (a server that ignores Range gets a fresh full download), and are renamed into place
 * atomically once complete and verified; derived files are written the same way, so a file in
 * the cache under its final name is complete. A checksum mismatch deletes the {@code .part}. A
 * file lock keeps two processes from downloading the same dataset at once. Connect timeout 20 s,
 * response-header timeout 60 s; a stalled body is not timed out (interrupt and run again: it
 * resumes).
 *
 * <p>The base URL of each dataset can be overridden (mirrors, tests) with the system property
 * {@code ionllama.dataset.baseUrl.NAME} or the environment variable
 * {@code IONLLAMA_DATASET_BASEURL_NAME} (upper case); files are fetched from {@code BASE/FILE}.
 */
public final class Datasets {
    private Datasets() {}

    /** The files to read: as {@code --data} and {@code --valid-data}; {@code valid} may be null. */
    public record Local(Path train, Path valid) {}

    /** A file fetched from {@code BASE/file}; {@code size} is -1 and {@code sha256} null when not known. */
    record Source(String file, long size, String sha256) {}

    /** Builds a dataset's outputs in {@code dir} from its downloaded sources. */
    @FunctionalInterface
    interface Prepare {
        void run(Path dir, Local out, PrintStream progress) throws IOException;
    }

    /** A dataset: where to fetch what, which files it ends as, and how to make them. */
    record Spec(String name, String baseUrl, List<Source> sources, Function<Path, Local> outputs, Prepare prepare) {}

    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(20);
    static final Duration HEADER_TIMEOUT = Duration.ofSeconds(60);
    private static final int BUFFER = 1 << 16;

    static final String SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed";
    static final String ENWIK8_SHA1 = "57b8363b814821dc9d47aa4d41f58733519076b2";

    private static final Map<String, Spec> SPECS = new LinkedHashMap<>();

    static {
        add(new Spec("tinystories", "https://huggingface.co/datasets/roneneldan/TinyStories/resolve/main",
                List.of(new Source("TinyStories-train.txt", -1, null), new Source("TinyStories-valid.txt", -1, null)),
                d -> new Local(d.resolve("TinyStories-train.txt"), d.resolve("TinyStories-valid.txt")), (d, l, p) -> {}));
        add(enwik8(new Source("enwik8.zip", 36_445_475L, null), 90_000_000L, 5_000_000L, 5_000_000L, ENWIK8_SHA1));
        add(shakespeare(new Source("input.txt", 1_115_394L, SHAKESPEARE_SHA256)));
    }

    private static void add(Spec s) {
        SPECS.put(s.name(), s);
    }

    /** The dataset names {@link #ensure} knows, in a stable order. */
    public static List<String> names() {
        return List.copyOf(SPECS.keySet());
    }

    /**
     * Ensures dataset {@code name} is in the cache and returns the paths to read, printing
     * progress to {@code progress} (null: silent). Throws {@link Corpus.DataException} with a
     * one-line message for an unknown name, a failed download or a checksum mismatch.
     */
    public static Local ensure(String name, Path cacheDir, PrintStream progress) throws IOException {
        Spec spec = SPECS.get(name == null ? "" : name.toLowerCase(Locale.ROOT));
        if (spec == null) {
            throw new Corpus.DataException("unknown dataset '" + name + "'; known datasets: " + String.join(", ", names()));
        }
        return ensure(spec, cacheDir, progress);
    }

    static Local ensure(Spec spec, Path cacheDir, PrintStream progress) throws IOException {
        PrintStream out = progress != null ? progress : new PrintStream(OutputStream.nullOutputStream());
        Path dir = cacheDir.resolve("datasets").resolve(spec.name());
        Local local = spec.outputs().apply(dir);
        if (present(local)) {
            return local;
        }
        Files.createDirectories(dir);
        // One JVM may not hold two locks on one file; the monitor serialises threads, the file lock processes.
        synchronized (Datasets.class) {
            try (FileChannel ch = FileChannel.open(dir.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                FileLock lock = ch.tryLock();
                if (lock == null) {
                    out.println(spec.name() + ": waiting for another process that is downloading it");
                    lock = ch.lock();
                }
                try {
                    if (present(local)) {
                        return local;
                    }
                    String base = baseUrl(spec);
                    try (HttpClient client = HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT)
                            .followRedirects(HttpClient.Redirect.NORMAL).version(HttpClient.Version.HTTP_1_1).build()) {
                        for (Source s : spec.sources()) {
                            fetch(client, spec.name(), base, s, dir, out);
                        }
                    }
                    spec.prepare().run(dir, local, out);
                    if (!present(local)) {
                        throw new IllegalStateException(spec.name() + " was prepared but its files are missing");
                    }
                    out.println(spec.name() + ": ready in " + dir);
                    return local;
                } finally {
                    lock.release();
                }
            }
        }
    }

    private static boolean present(Local l) {
        return Files.isRegularFile(l.train()) && (l.valid() == null || Files.isRegularFile(l.valid()));
    }

    /** The system property, else the environment variable, else the canonical URL; no trailing slash. */
    static String baseUrl(Spec spec) {
        String v = System.getProperty("ionllama.dataset.baseUrl." + spec.name());
        if (v == null || v.isBlank()) {
            v = System.getenv("IONLLAMA_DATASET_BASEURL_" + spec.name().toUpperCase(Locale.ROOT));
        }
        if (v == null || v.isBlank()) {
            v = spec.baseUrl();
        }
        return v.endsWith("/") ? v.substring(0, v.length() - 1) : v;
    }

    // ---------------------------------------------------------------- download

    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");

    /** Makes {@code dir/s.file} a complete, verified copy of {@code base/s.file}. */
    static void fetch(HttpClient client, String name, String base, Source s, Path dir, PrintStream out) throws IOException {
        Path dest = dir.resolve(s.file());
        if (Files.isRegularFile(dest)) {
            return;
        }
        Path part = dir.resolve(s.file() + ".part");
        String url = base + "/" + s.file();
        long have = Files.isRegularFile(part) ? Files.size(part) : 0;
        if (s.size() >= 0 && have > s.size()) {
            Files.delete(part);
            have = 0;
        }
        if (s.size() < 0 || have < s.size()) {
            download(client, name, url, s, part, have, out);
        }
        verify(name, s, part, dir.resolve(s.file() + ".sha256"), out);
        Files.move(part, dest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private static void download(HttpClient client, String name, String url, Source s, Path part, long have, PrintStream out)
            throws IOException {
        HttpRequest.Builder rb;
        try {
            rb = HttpRequest.newBuilder(URI.create(url)).timeout(HEADER_TIMEOUT).header("User-Agent", "ionllama").GET();
        } catch (IllegalArgumentException e) {
            throw new Corpus.DataException("bad URL for dataset " + name + ": " + url);
        }
        if (have > 0) {
            rb.header("Range", "bytes=" + have + "-");
        }
        HttpResponse<InputStream> resp;
        try {
            resp = client.send(rb.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw failed(name, url, reason(e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("download of " + url + " interrupted");
        }
        try (InputStream body = resp.body()) {
            int status = resp.statusCode();
            long length = resp.headers().firstValueAsLong("Content-Length").orElse(-1);
            long start;
            if (status == 206 && have > 0) {
                Matcher m = CONTENT_RANGE.matcher(resp.headers().firstValue("Content-Range").orElse(""));
                if (!m.matches() || Long.parseLong(m.group(1)) != have) {
                    throw failed(name, url, "the server answered the resume request with a different range");
                }
                start = have;
            } else if (status == 200) {
                start = 0;
            } else if (status == 416 && have > 0) {
                // The .part is not a prefix of what the server has now: start over.
                Files.delete(part);
                download(client, name, url, s, part, 0, out);
                return;
            } else {
                throw failed(name, url, "HTTP " + status);
            }
            long total = length >= 0 ? start + length : s.size();
            if (s.size() >= 0 && total != s.size()) {
                throw new Corpus.DataException(String.format("size mismatch for dataset %s file %s: the server offers %,d bytes, expected %,d",
                        name, s.file(), total, s.size()));
            }
            if (start > 0) {
                out.printf("%s: resuming %s at %s%n", name, s.file(), mb(start));
            } else {
                out.printf("%s: downloading %s (%s)%n", name, url, total >= 0 ? mb(total) : "size unknown");
            }
            long got = start;
            OutputStream os = start > 0
                    ? Files.newOutputStream(part, StandardOpenOption.WRITE, StandardOpenOption.APPEND)
                    : Files.newOutputStream(part, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
            try (os; Progress p = Progress.start(out, name + " " + s.file(), start, total)) {
                byte[] buf = new byte[BUFFER];
                for (int n; (n = body.read(buf)) > 0; ) {
                    os.write(buf, 0, n);
                    got += n;
                    p.to(got);
                }
            } catch (IOException e) {
                throw failed(name, url, reason(e) + String.format(" after %s (partial download kept: run again to resume)", mb(got)));
            }
            if (total >= 0 && got != total) {
                throw failed(name, url, String.format("connection closed after %,d of %,d bytes (partial download kept: run again to resume)",
                        got, total));
            }
        }
    }

    /** Checks size and SHA-256 of a complete {@code part}, recording the hash on first use. */
    private static void verify(String name, Source s, Path part, Path sidecar, PrintStream out) throws IOException {
        long size = Files.size(part);
        if (s.size() >= 0 && size != s.size()) {
            Files.delete(part);
            throw new Corpus.DataException(String.format("size mismatch for dataset %s file %s: got %,d bytes, expected %,d (download deleted; run again to retry)",
                    name, s.file(), size, s.size()));
        }
        String got = sha256(part);
        String recorded = Files.isRegularFile(sidecar) ? readSidecar(sidecar) : null;
        String expected = s.sha256() != null ? s.sha256() : recorded;
        if (expected != null && !expected.equalsIgnoreCase(got)) {
            Files.delete(part);
            throw new Corpus.DataException("checksum mismatch for dataset " + name + " file " + s.file() + ": sha256 " + got
                    + ", expected " + expected + " (download deleted; run again to retry"
                    + (s.sha256() == null ? ", or delete " + sidecar + " if the file changed upstream)" : ")"));
        }
        if (recorded == null || !recorded.equalsIgnoreCase(got)) {
            Path tmp = sidecar.resolveSibling(sidecar.getFileName() + ".tmp");
            Files.writeString(tmp, got + "  " + s.file() + "\n", StandardCharsets.US_ASCII);
            Files.move(tmp, sidecar, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            if (s.sha256() == null) {
                out.printf("%s: recorded sha256 %s of %s (trusted on first download)%n", name, got, s.file());
            }
        }
    }

    private static String readSidecar(Path sidecar) throws IOException {
        String t = Files.readString(sidecar, StandardCharsets.US_ASCII).trim();
        int sp = t.indexOf(' ');
        return sp < 0 ? t : t.substring(0, sp);
    }

    static Corpus.DataException failed(String name, String url, String reason) {
        return new Corpus.DataException("cannot download " + name + " from " + url + ": " + reason
                + "; check the network or use --data FILE");
    }

    /** One line, never empty: the HTTP client's connect exceptions often carry no message. */
    private static String reason(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof UnresolvedAddressException || t instanceof UnknownHostException) {
                return "unknown host";
            }
        }
        if (e instanceof ConnectException && e.getMessage() == null) {
            return "connection refused or host unreachable";
        }
        String msg = null;
        for (Throwable t = e; t != null && msg == null; t = t.getCause()) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) {
                msg = t.getClass().getSimpleName() + ": " + t.getMessage();
            }
        }
        return (msg != null ? msg : e.getClass().getSimpleName()).replaceAll("\\s+", " ");
    }

    private static String mb(long bytes) {
        return String.format("%,.1f MB", bytes / 1e6);
    }

    static String sha256(Path f) throws IOException {
        MessageDigest md = digest("SHA-256");
        try (InputStream in = Files.newInputStream(f)) {
            byte[] buf = new byte[BUFFER];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static MessageDigest digest(String alg) {
        try {
            return MessageDigest.getInstance(alg);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---------------------------------------------------------------- preparation

    /** enwik8: unzip entry {@code enwik8}, check its size and SHA-1, split it train / valid / test. */
    static Spec enwik8(Source zip, long train, long valid, long test, String sha1) {
        return new Spec("enwik8", "http://mattmahoney.net/dc", List.of(zip),
                d -> new Local(d.resolve("train.txt"), d.resolve("valid.txt")), (dir, out, progress) -> {
                    Path z = dir.resolve(zip.file());
                    progress.printf("enwik8: unzipping and splitting %s%n", z);
                    try (ZipInputStream zin = new ZipInputStream(new BufferedInputStream(Files.newInputStream(z), BUFFER))) {
                        ZipEntry e;
                        while ((e = zin.getNextEntry()) != null && !e.getName().equals("enwik8")) {
                            // skip other entries
                        }
                        if (e == null) {
                            throw badZip(dir, zip, "it holds no entry 'enwik8'");
                        }
                        MessageDigest md = digest("SHA-1");
                        long[] lengths = {train, valid, test};
                        Path[] outs = {out.train(), out.valid(), dir.resolve("test.txt")};
                        long n = split(zin, md, lengths, outs);
                        String got = HexFormat.of().formatHex(md.digest());
                        if (n != train + valid + test || !got.equalsIgnoreCase(sha1)) {
                            deleteTmps(outs);
                            throw badZip(dir, zip, String.format("its enwik8 has %,d bytes with sha1 %s, expected %,d with sha1 %s",
                                    n, got, train + valid + test, sha1));
                        }
                        commit(outs);
                    } catch (ZipException ex) {
                        throw badZip(dir, zip, "it is not a valid zip (" + reason(ex) + ")");
                    }
                });
    }

    /** The zip's bytes are wrong although their size matched: drop it and the hash trusted for it. */
    private static Corpus.DataException badZip(Path dir, Source zip, String why) throws IOException {
        Files.deleteIfExists(dir.resolve(zip.file()));
        Files.deleteIfExists(dir.resolve(zip.file() + ".sha256"));
        return new Corpus.DataException("enwik8 download " + zip.file() + " is corrupt: " + why
                + " (deleted it; run again to download it again)");
    }

    /** tinyshakespeare: the first 90% of the bytes train, the rest valid. */
    static Spec shakespeare(Source input) {
        return new Spec("shakespeare", "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare",
                List.of(input), d -> new Local(d.resolve("train.txt"), d.resolve("valid.txt")), (dir, out, progress) -> {
                    Path in = dir.resolve(input.file());
                    long size = Files.size(in);
                    Path[] outs = {out.train(), out.valid()};
                    try (InputStream is = Files.newInputStream(in)) {
                        split(is, null, new long[] {size * 9 / 10, size - size * 9 / 10}, outs);
                    }
                    commit(outs);
                });
    }

    /**
     * Copies consecutive runs of {@code lengths[i]} bytes of {@code in} into {@code outs[i]}'s
     * temporary files, hashing every byte read (the rest of the stream too) into {@code md}
     * when given; returns the number of bytes read.
     */
    static long split(InputStream in, MessageDigest md, long[] lengths, Path[] outs) throws IOException {
        byte[] buf = new byte[BUFFER];
        long total = 0;
        try {
            for (int i = 0; i < outs.length; i++) {
                try (OutputStream os = Files.newOutputStream(tmp(outs[i]))) {
                    long left = lengths[i];
                    while (left > 0) {
                        int n = in.read(buf, 0, (int) Math.min(buf.length, left));
                        if (n <= 0) {
                            break;
                        }
                        os.write(buf, 0, n);
                        if (md != null) {
                            md.update(buf, 0, n);
                        }
                        left -= n;
                        total += n;
                    }
                }
            }
            for (int n; (n = in.read(buf)) > 0; ) {
                if (md != null) {
                    md.update(buf, 0, n);
                }
                total += n;
            }
        } catch (IOException | RuntimeException e) {
            deleteTmps(outs);
            throw e;
        }
        return total;
    }

    /** Renames the temporary files into place, the first (train, whose presence means done) last. */
    private static void commit(Path[] outs) throws IOException {
        for (int i = outs.length - 1; i >= 0; i--) {
            Files.move(tmp(outs[i]), outs[i], StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void deleteTmps(Path[] outs) throws IOException {
        for (Path p : outs) {
            Files.deleteIfExists(tmp(p));
        }
    }

    private static Path tmp(Path p) {
        return p.resolveSibling(p.getFileName() + ".tmp");
    }

    // ---------------------------------------------------------------- progress

    /** A progress bar on a terminal, otherwise a line at every 10% (every 100 MB when the size is unknown). */
    private static final class Progress implements AutoCloseable {
        private final PrintStream out;
        private final String label;
        private final long total;
        private final ProgressBar bar;
        private long nextLine;

        private Progress(PrintStream out, String label, long start, long total) {
            this.out = out;
            this.label = label;
            this.total = total;
            if (isTerminal(out)) {
                bar = new ProgressBarBuilder().setTaskName(label).setInitialMax(total >= 0 ? total : -1)
                        .setStyle(ProgressBarStyle.ASCII).setUnit("MB", 1_000_000).showSpeed()
                        .setConsumer(new ConsoleProgressBarConsumer(out)).setUpdateIntervalMillis(500)
                        .startsFrom(start, Duration.ZERO).build();
            } else {
                bar = null;
                nextLine = step(start);
            }
        }

        static Progress start(PrintStream out, String label, long start, long total) {
            return new Progress(out, label, start, total);
        }

        private long step(long at) {
            long every = total > 0 ? Math.max(1, total / 10) : 100_000_000L;
            return (at / every + 1) * every;
        }

        void to(long at) {
            if (bar != null) {
                bar.stepTo(at);
            } else if (at >= nextLine) {
                out.println(total > 0 ? String.format("%s: %d%% (%s of %s)", label, at * 100 / total, mb(at), mb(total))
                        : String.format("%s: %s", label, mb(at)));
                nextLine = step(at);
            }
        }

        @Override
        public void close() {
            if (bar != null) {
                bar.close();
            }
        }

        private static boolean isTerminal(PrintStream s) {
            if (s != System.out && s != System.err) {
                return false;
            }
            Console c = System.console();
            if (c == null) {
                return false;
            }
            try {
                // JDK 22+ returns a Console even when redirected; isTerminal() tells.
                return (Boolean) Console.class.getMethod("isTerminal").invoke(c);
            } catch (ReflectiveOperationException e) {
                return true;
            }
        }
    }
}
