package io.ionllama.train;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A data-parallel worker's message after its micro-batch: the micro-batch's statistics (as
 * {@link Trainer} sums them) and the model's training state after its forward pass (the patch
 * threshold), so that every worker can sum the statistics in rank order and take the last
 * worker's state, as one process summing micro-batches separately would end the step.
 */
final class WorkerStats {

    private WorkerStats() {}

    static byte[] encode(double[] stats, Map<String, String> state) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            for (double v : stats) {
                out.writeDouble(v);
            }
            out.writeInt(state.size());
            for (Map.Entry<String, String> e : state.entrySet()) {
                out.writeUTF(e.getKey());
                out.writeUTF(e.getValue());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** Adds the statistics in {@code message} into {@code sum} (call in rank order). */
    static void addTo(double[] sum, byte[] message) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(message))) {
            for (int i = 0; i < sum.length; i++) {
                sum[i] += in.readDouble();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Map<String, String> state(byte[] message) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(message))) {
            in.skipNBytes(8L * Trainer.STATS);
            int n = in.readInt();
            Map<String, String> state = new LinkedHashMap<>();
            for (int i = 0; i < n; i++) {
                state.put(in.readUTF(), in.readUTF());
            }
            return state;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
