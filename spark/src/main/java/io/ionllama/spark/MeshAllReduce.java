package io.ionllama.spark;

import io.ionllama.train.GradientExchange;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The gradient sum of a data-parallel run over direct TCP connections, one between each pair of
 * workers (docs/distributed.md). The flat gradient is cut into N chunks, chunk q owned by worker q.
 * Reduce-scatter: every worker sends chunk q to its owner, and the owner adds the N contributions
 * in rank order (rank 0's, plus rank 1's, ...), which is what makes the result equal one process
 * summing its micro-batches in order, bit for bit. All-gather: every owner sends its summed chunk to
 * the others. Each worker sends and receives 2 (N-1)/N of the gradient per step, as a ring does, in
 * one round trip instead of 2 (N-1) (a ring would also add in rotated order, not rank order).
 *
 * <p>Sends and receives to the N-1 peers run at once on their own threads (a worker that only sent
 * would deadlock once the socket buffers filled). A peer that dies closes its connections, so the
 * others fail on the next read instead of waiting: the barrier stage fails and the run resumes.
 * Channels, not sockets, so that Spark's interrupt of a cancelled task ends a blocked read.
 */
public final class MeshAllReduce implements GradientExchange, AutoCloseable {

    /** Floats per write or read: a 1 MiB buffer per peer and direction. */
    private static final int PIECE = 1 << 18;

    private final int rank;
    private final int n;
    /** The connection to each peer by rank (null at this worker's own rank). */
    private final SocketChannel[] peers;
    private final ByteBuffer[] sendBuf, recvBuf;
    private final ExecutorService io;
    /** The other workers' contributions to this worker's chunk, by rank (reused between steps). */
    private float[][] received = new float[0][];
    private float[] chunkSum = new float[0];
    private long nanos;

    private MeshAllReduce(int rank, SocketChannel[] peers) {
        this.rank = rank;
        this.n = peers.length;
        this.peers = peers;
        this.sendBuf = new ByteBuffer[n];
        this.recvBuf = new ByteBuffer[n];
        for (int p = 0; p < n; p++) {
            if (p != rank) {
                sendBuf[p] = ByteBuffer.allocateDirect(PIECE * 4).order(ByteOrder.LITTLE_ENDIAN);
                recvBuf[p] = ByteBuffer.allocateDirect(PIECE * 4).order(ByteOrder.LITTLE_ENDIAN);
            }
        }
        this.io = Executors.newFixedThreadPool(Math.max(1, 2 * (n - 1)), r -> {
            Thread t = new Thread(r, "ionllama-allreduce-" + rank);
            t.setDaemon(true);
            return t;
        });
    }

    /** A listening socket on {@code host} at a free port (its address goes to the others first). */
    public static ServerSocketChannel listen(String host) throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open();
        server.bind(new InetSocketAddress(host, 0), 64);
        return server;
    }

    /** "host:port" of a listening socket, as {@link #connect} reads it. */
    public static String address(String host, ServerSocketChannel server) throws IOException {
        return host + ":" + ((InetSocketAddress) server.getLocalAddress()).getPort();
    }

    /**
     * Connects worker {@code rank} to every other: it dials each lower rank at its address
     * ("host:port", by rank) and accepts one connection from each higher rank on {@code server},
     * which it then closes. Each dialer first sends its rank.
     */
    public static MeshAllReduce connect(int rank, String[] addresses, ServerSocketChannel server) throws IOException {
        int n = addresses.length;
        SocketChannel[] peers = new SocketChannel[n];
        try (server) {
            for (int p = 0; p < rank; p++) {
                int colon = addresses[p].lastIndexOf(':');
                SocketChannel ch = SocketChannel.open(new InetSocketAddress(addresses[p].substring(0, colon),
                        Integer.parseInt(addresses[p].substring(colon + 1))));
                ch.socket().setTcpNoDelay(true);
                ByteBuffer hello = ByteBuffer.allocate(4).putInt(0, rank);
                writeFully(ch, hello);
                peers[p] = ch;
            }
            for (int k = rank + 1; k < n; k++) {
                SocketChannel ch = server.accept();
                ch.socket().setTcpNoDelay(true);
                ByteBuffer hello = ByteBuffer.allocate(4);
                readFully(ch, hello);
                int from = hello.getInt(0);
                if (from <= rank || from >= n || peers[from] != null) {
                    throw new IOException("worker " + rank + ": unexpected connection from rank " + from);
                }
                peers[from] = ch;
            }
        } catch (IOException | RuntimeException e) {
            for (SocketChannel ch : peers) {
                if (ch != null) {
                    ch.close();
                }
            }
            throw e;
        }
        return new MeshAllReduce(rank, peers);
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int workers() {
        return n;
    }

    @Override
    public double seconds() {
        return nanos / 1e9;
    }

    private long chunkStart(int q, int length) {
        return (long) length * q / n;
    }

    @Override
    public void sum(long step, float[] grads) throws IOException {
        long t0 = System.nanoTime();
        int len = grads.length;
        int mine = (int) chunkStart(rank, len), mineEnd = (int) chunkStart(rank + 1, len), size = mineEnd - mine;
        if (received.length != n || chunkSum.length < size) {
            received = new float[n][size];
            chunkSum = new float[size];
        }
        // Reduce-scatter: chunk p to its owner p; the others' parts of this worker's chunk in.
        List<Callable<Void>> tasks = new ArrayList<>();
        for (int p = 0; p < n; p++) {
            if (p == rank) {
                continue;
            }
            int peer = p, from = (int) chunkStart(p, len), to = (int) chunkStart(p + 1, len);
            tasks.add(() -> sendFloats(peer, grads, from, to - from));
            tasks.add(() -> receiveFloats(peer, received[peer], 0, size));
        }
        runAll(tasks);
        // The owner's sum, in rank order: ((g0 + g1) + g2) + ... element by element.
        float[] acc = chunkSum;
        for (int q = 0; q < n; q++) {
            float[] part = q == rank ? grads : received[q];
            int off = q == rank ? mine : 0;
            if (q == 0) {
                System.arraycopy(part, off, acc, 0, size);
            } else {
                for (int i = 0; i < size; i++) {
                    acc[i] += part[off + i];
                }
            }
        }
        System.arraycopy(acc, 0, grads, mine, size);
        // All-gather: this worker's summed chunk out, every other owner's chunk in.
        tasks.clear();
        for (int p = 0; p < n; p++) {
            if (p == rank) {
                continue;
            }
            int peer = p, from = (int) chunkStart(p, len), to = (int) chunkStart(p + 1, len);
            tasks.add(() -> sendFloats(peer, grads, mine, size));
            tasks.add(() -> receiveFloats(peer, grads, from, to - from));
        }
        runAll(tasks);
        nanos += System.nanoTime() - t0;
    }

    @Override
    public byte[][] allGather(byte[] message) throws IOException {
        long t0 = System.nanoTime();
        byte[][] all = new byte[n][];
        all[rank] = message;
        List<Callable<Void>> tasks = new ArrayList<>();
        for (int p = 0; p < n; p++) {
            if (p == rank) {
                continue;
            }
            int peer = p;
            tasks.add(() -> {
                ByteBuffer b = ByteBuffer.allocate(4 + message.length).putInt(message.length).put(message).flip();
                writeFully(peers[peer], b);
                return null;
            });
            tasks.add(() -> {
                ByteBuffer head = ByteBuffer.allocate(4);
                readFully(peers[peer], head);
                ByteBuffer body = ByteBuffer.allocate(head.getInt(0));
                readFully(peers[peer], body);
                all[peer] = body.array();
                return null;
            });
        }
        runAll(tasks);
        nanos += System.nanoTime() - t0;
        return all;
    }

    private Void sendFloats(int peer, float[] src, int off, int count) throws IOException {
        ByteBuffer b = sendBuf[peer];
        for (int done = 0; done < count; ) {
            int k = Math.min(PIECE, count - done);
            b.clear();
            b.asFloatBuffer().put(src, off + done, k);
            b.limit(4 * k);
            writeFully(peers[peer], b);
            done += k;
        }
        return null;
    }

    private Void receiveFloats(int peer, float[] dst, int off, int count) throws IOException {
        ByteBuffer b = recvBuf[peer];
        for (int done = 0; done < count; ) {
            int k = Math.min(PIECE, count - done);
            b.clear().limit(4 * k);
            readFully(peers[peer], b);
            b.flip();
            b.asFloatBuffer().get(dst, off + done, k);
            done += k;
        }
        return null;
    }

    /** Runs the transfers at once; the first failure closes every connection (the peers then fail too). */
    private void runAll(List<Callable<Void>> tasks) throws IOException {
        List<Future<Void>> running = new ArrayList<>(tasks.size());
        for (Callable<Void> t : tasks) {
            running.add(io.submit(t));
        }
        try {
            for (Future<Void> f : running) {
                f.get();
            }
        } catch (ExecutionException e) {
            close();
            throw e.getCause() instanceof IOException io ? io : new IOException("worker " + rank + ": all-reduce failed", e.getCause());
        } catch (InterruptedException e) {
            close();
            Thread.currentThread().interrupt();
            throw new IOException("worker " + rank + ": interrupted in the all-reduce (the job was cancelled)", e);
        }
    }

    private static void writeFully(SocketChannel ch, ByteBuffer b) throws IOException {
        b.rewind();
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private static void readFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new EOFException("a peer closed its connection (another worker failed)");
            }
        }
    }

    @Override
    public void close() {
        io.shutdownNow();
        for (SocketChannel ch : peers) {
            if (ch != null) {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // closing anyway
                }
            }
        }
    }
}
