package io.ionllama.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Downloads against a local server. The limit catches a hang (a download that never gives up); it
 * is generous because a first HttpClient on a starved JVM (a loaded machine, a low-priority test
 * run) took over 10 s just to refuse a closed port.
 */
@Timeout(60)
class DatasetsTest {

    @TempDir
    Path cache;

    private Server server;
    private final ByteArrayOutputStream log = new ByteArrayOutputStream();
    private final PrintStream progress = new PrintStream(log, true, StandardCharsets.UTF_8);
    private final List<String> props = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        server = new Server();
    }

    @AfterEach
    void stop() {
        server.close();
        props.forEach(System::clearProperty);
    }

    private void pointAt(String dataset, String base) {
        String key = "ionllama.dataset.baseUrl." + dataset;
        props.add(key);
        System.setProperty(key, base);
    }

    static byte[] text(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (r.nextInt(10) == 0 ? '\n' : 'a' + r.nextInt(26));
        }
        return b;
    }

    static String hex(String alg, byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance(alg).digest(b));
    }

    private Path dir(String name) {
        return cache.resolve("datasets").resolve(name);
    }

    @Test
    void downloadsOnceThenReadsTheCache() throws Exception {
        byte[] train = text(1, 300_000), valid = text(2, 20_000);
        server.files.put("TinyStories-train.txt", train);
        server.files.put("TinyStories-valid.txt", valid);
        pointAt("tinystories", server.base());

        Datasets.Local a = Datasets.ensure("tinystories", cache, progress);
        assertThat(Files.readAllBytes(a.train())).isEqualTo(train);
        assertThat(Files.readAllBytes(a.valid())).isEqualTo(valid);
        assertThat(server.requests).hasSize(2);
        assertThat(Files.readString(dir("tinystories").resolve("TinyStories-train.txt.sha256")))
                .startsWith(hex("SHA-256", train) + "  TinyStories-train.txt");
        assertThat(log.toString(StandardCharsets.UTF_8)).contains("trusted on first download", "TinyStories-train.txt: 100% (0.3 MB of 0.3 MB)");
        try (var s = Files.list(dir("tinystories"))) {
            assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".part") || n.endsWith(".tmp"));
        }

        Datasets.Local b = Datasets.ensure("tinystories", cache, progress);
        assertThat(b).isEqualTo(a);
        assertThat(server.requests).hasSize(2);
    }

    @Test
    void aKnownChecksumThatDoesNotMatchFailsAndDeletesTheDownload() {
        server.files.put("input.txt", text(3, 1_115_394));
        pointAt("shakespeare", server.base());

        assertThatThrownBy(() -> Datasets.ensure("shakespeare", cache, progress))
                .isInstanceOf(Corpus.DataException.class)
                .hasMessageContaining("checksum mismatch for dataset shakespeare file input.txt")
                .hasMessageContaining(Datasets.SHAKESPEARE_SHA256)
                .hasMessageNotContaining("\n");
        assertThat(dir("shakespeare").resolve("input.txt")).doesNotExist();
        assertThat(dir("shakespeare").resolve("input.txt.part")).doesNotExist();
    }

    @Test
    void aRecordedChecksumIsCheckedOnTheNextDownload() throws Exception {
        byte[] train = text(4, 50_000);
        server.files.put("TinyStories-train.txt", train);
        server.files.put("TinyStories-valid.txt", text(5, 5_000));
        pointAt("tinystories", server.base());
        Path d = dir("tinystories");
        Files.createDirectories(d);
        Files.writeString(d.resolve("TinyStories-train.txt.sha256"), hex("SHA-256", text(6, 50_000)) + "  TinyStories-train.txt\n");

        assertThatThrownBy(() -> Datasets.ensure("tinystories", cache, progress))
                .isInstanceOf(Corpus.DataException.class)
                .hasMessageContaining("checksum mismatch for dataset tinystories file TinyStories-train.txt")
                .hasMessageContaining("TinyStories-train.txt.sha256 if the file changed upstream")
                .hasMessageNotContaining("\n");
        assertThat(d.resolve("TinyStories-train.txt")).doesNotExist();
        assertThat(d.resolve("TinyStories-train.txt.part")).doesNotExist();

        Files.writeString(d.resolve("TinyStories-train.txt.sha256"), hex("SHA-256", train) + "  TinyStories-train.txt\n");
        assertThat(Files.readAllBytes(Datasets.ensure("tinystories", cache, progress).train())).isEqualTo(train);
    }

    @Test
    void resumesAPartialDownloadWithARangeRequest() throws Exception {
        byte[] train = text(7, 400_000);
        server.files.put("TinyStories-train.txt", train);
        server.files.put("TinyStories-valid.txt", text(8, 10_000));
        server.ranges = true;
        pointAt("tinystories", server.base());
        Path d = dir("tinystories");
        Files.createDirectories(d);
        Files.write(d.resolve("TinyStories-train.txt.part"), java.util.Arrays.copyOf(train, 123_457));

        Datasets.Local l = Datasets.ensure("tinystories", cache, progress);
        assertThat(Files.readAllBytes(l.train())).isEqualTo(train);
        assertThat(server.requests).contains("/ds/TinyStories-train.txt bytes=123457-", "/ds/TinyStories-valid.txt -");
        assertThat(server.sent.get()).isEqualTo(train.length - 123_457 + 10_000);
        assertThat(log.toString(StandardCharsets.UTF_8)).contains("resuming TinyStories-train.txt at 0.1 MB");
        assertThat(Files.readString(d.resolve("TinyStories-train.txt.sha256"))).startsWith(hex("SHA-256", train));
    }

    @Test
    void aServerThatIgnoresRangeGivesAFullDownload() throws Exception {
        byte[] train = text(9, 80_000);
        server.files.put("TinyStories-train.txt", train);
        server.files.put("TinyStories-valid.txt", text(10, 1_000));
        pointAt("tinystories", server.base());
        Path d = dir("tinystories");
        Files.createDirectories(d);
        Files.write(d.resolve("TinyStories-train.txt.part"), text(11, 5_000));

        Datasets.Local l = Datasets.ensure("tinystories", cache, progress);
        assertThat(server.requests).contains("/ds/TinyStories-train.txt bytes=5000-");
        assertThat(Files.readAllBytes(l.train())).isEqualTo(train);
    }

    @Test
    void unknownNamesAreListed() {
        assertThatThrownBy(() -> Datasets.ensure("wikitext", cache, progress))
                .isInstanceOf(Corpus.DataException.class)
                .hasMessage("unknown dataset 'wikitext'; known datasets: tinystories, enwik8, shakespeare");
        assertThat(Datasets.names()).containsExactly("tinystories", "enwik8", "shakespeare");
        assertThat(cache.resolve("datasets")).doesNotExist();
    }

    @Test
    void anUnreachableServerFailsWithOneLine() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        pointAt("tinystories", "http://127.0.0.1:" + port + "/x/");
        assertThatThrownBy(() -> Datasets.ensure("tinystories", cache, progress))
                .isInstanceOf(Corpus.DataException.class)
                .hasMessageStartingWith("cannot download tinystories from http://127.0.0.1:" + port + "/x/TinyStories-train.txt: ")
                .hasMessageEndingWith("; check the network or use --data FILE")
                .hasMessageNotContaining("\n");
    }

    @Test
    void anHttpErrorFailsWithOneLine() {
        pointAt("tinystories", server.base());
        assertThatThrownBy(() -> Datasets.ensure("tinystories", cache, progress))
                .isInstanceOf(Corpus.DataException.class)
                .hasMessage("cannot download tinystories from " + server.base()
                        + "/TinyStories-train.txt: HTTP 404; check the network or use --data FILE");
    }

    @Test
    void enwik8IsUnzippedCheckedAndSplit() throws Exception {
        byte[] content = text(12, 1_000);
        byte[] zip = zip("enwik8", content);
        server.files.put("enwik8.zip", zip);
        pointAt("enwik8", server.base());
        Datasets.Spec spec = Datasets.enwik8(new Datasets.Source("enwik8.zip", zip.length, null), 900, 50, 50, hex("SHA-1", content));

        Datasets.Local l = Datasets.ensure(spec, cache, progress);
        assertThat(Files.readAllBytes(l.train())).isEqualTo(java.util.Arrays.copyOfRange(content, 0, 900));
        assertThat(Files.readAllBytes(l.valid())).isEqualTo(java.util.Arrays.copyOfRange(content, 900, 950));
        assertThat(Files.readAllBytes(dir("enwik8").resolve("test.txt"))).isEqualTo(java.util.Arrays.copyOfRange(content, 950, 1000));

        Datasets.Spec wrong = Datasets.enwik8(new Datasets.Source("enwik8.zip", zip.length, null), 900, 50, 50, hex("SHA-1", zip));
        Path other = cache.resolve("other");
        assertThatThrownBy(() -> Datasets.ensure(wrong, other, progress))
                .isInstanceOf(Corpus.DataException.class)
                .hasMessageContaining("enwik8 download enwik8.zip is corrupt")
                .hasMessageNotContaining("\n");
        try (var s = Files.list(other.resolve("datasets").resolve("enwik8"))) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactly(".lock");
        }
    }

    @Test
    void shakespeareHoldsOutTheLastTenthAndTheRealSpecIsPinned() throws Exception {
        byte[] input = text(13, 2_005);
        server.files.put("input.txt", input);
        pointAt("shakespeare", server.base());
        Datasets.Spec spec = Datasets.shakespeare(new Datasets.Source("input.txt", input.length, hex("SHA-256", input)));

        Datasets.Local l = Datasets.ensure(spec, cache, progress);
        assertThat(Files.readAllBytes(l.train())).isEqualTo(java.util.Arrays.copyOfRange(input, 0, 1_804));
        assertThat(Files.readAllBytes(l.valid())).isEqualTo(java.util.Arrays.copyOfRange(input, 1_804, 2_005));

        // With the real input, the split is nanoGPT's: int(0.9 * 1,115,394) train bytes.
        assertThat(1_115_394L * 9 / 10).isEqualTo((long) (1_115_394 * 0.9));
    }

    @Test
    void canonicalUrlsAreUsedWithoutAnOverride() {
        assertThat(Datasets.baseUrl(Datasets.shakespeare(new Datasets.Source("input.txt", 1, null))))
                .isEqualTo("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare");
        assertThat(Datasets.baseUrl(Datasets.enwik8(new Datasets.Source("enwik8.zip", 1, null), 1, 1, 1, "")))
                .isEqualTo("http://mattmahoney.net/dc");
    }

    static byte[] zip(String entry, byte[] content) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(bos)) {
            z.putNextEntry(new ZipEntry("README"));
            z.write("not this one".getBytes(StandardCharsets.US_ASCII));
            z.putNextEntry(new ZipEntry(entry));
            z.write(content);
        }
        return bos.toByteArray();
    }

    /** Serves {@link #files} under /ds/ on loopback; records "PATH RANGE" per request. */
    static final class Server implements AutoCloseable {
        private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-");
        final Map<String, byte[]> files = new ConcurrentHashMap<>();
        final List<String> requests = Collections.synchronizedList(new ArrayList<>());
        final AtomicLong sent = new AtomicLong();
        volatile boolean ranges;
        private final HttpServer http;

        Server() throws IOException {
            http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            http.createContext("/ds/", this::handle);
            http.start();
        }

        String base() {
            return "http://127.0.0.1:" + http.getAddress().getPort() + "/ds";
        }

        private void handle(HttpExchange ex) throws IOException {
            String path = ex.getRequestURI().getPath();
            String range = ex.getRequestHeaders().getFirst("Range");
            requests.add(path + " " + (range != null ? range : "-"));
            byte[] b = files.get(path.substring(path.lastIndexOf('/') + 1));
            if (b == null) {
                ex.sendResponseHeaders(404, -1);
                ex.close();
                return;
            }
            int from = 0;
            Matcher m = RANGE.matcher(range != null ? range : "");
            if (ranges && m.matches()) {
                from = Integer.parseInt(m.group(1));
                ex.getResponseHeaders().add("Content-Range", "bytes " + from + "-" + (b.length - 1) + "/" + b.length);
                ex.sendResponseHeaders(206, b.length - from);
            } else {
                ex.sendResponseHeaders(200, b.length);
            }
            try (OutputStream os = ex.getResponseBody()) {
                os.write(b, from, b.length - from);
            }
            sent.addAndGet(b.length - from);
        }

        @Override
        public void close() {
            http.stop(0);
        }
    }
}
