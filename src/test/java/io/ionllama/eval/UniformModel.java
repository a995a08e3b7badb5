package io.ionllama.eval;

import io.ionllama.backend.Backend;
import io.ionllama.model.ByteModel;
import io.ionllama.model.ParamLayout;
import java.util.Arrays;
import java.util.Map;

/** A constructed model with known behaviour: every logit 0, so every byte has probability 1/256 (8 bits). */
final class UniformModel implements ByteModel {
    private final Backend backend;
    private final ParamLayout layout = new ParamLayout();
    private final float[] params = new float[1], grads = new float[1];
    private float[] logits = new float[0];

    UniformModel(Backend backend) {
        this.backend = backend;
        layout.add("unused", ParamLayout.Kind.VECTOR, 1);
    }

    private record Out(float loss, float entropyLoss, long patches, long bytes, int correct) implements Result {}

    @Override
    public String kind() {
        return "uniform";
    }

    @Override
    public String describe() {
        return "uniform";
    }

    @Override
    public Map<String, String> configMap() {
        return Map.of("kind", "uniform");
    }

    @Override
    public ParamLayout layout() {
        return layout;
    }

    @Override
    public float[] params() {
        return params;
    }

    @Override
    public float[] grads() {
        return grads;
    }

    @Override
    public Backend backend() {
        return backend;
    }

    @Override
    public void init(long seed) {}

    @Override
    public Result forward(int[] bytes, int[] targets, int B, int T) {
        logits = new float[B * T * 256];
        long n = 0;
        int correct = 0;
        for (int i = 0; i < B * T; i++) {
            if (targets[i] >= 0) {
                n++;
                correct += targets[i] == 0 ? 1 : 0; // the argmax of equal logits is byte 0
            }
        }
        return new Out((float) Math.log(256), 0f, 0, n, correct);
    }

    @Override
    public void backward(float scale) {}

    @Override
    public double objective() {
        return Math.log(256);
    }

    @Override
    public float[] logits() {
        return logits;
    }

    @Override
    public Decoder decoder(int window) {
        return new Decoder() {
            int length;
            final float[] zero = new float[256];

            @Override
            public void reset() {
                length = 0;
            }

            @Override
            public float[] prime(int[] bytes, int from, int to) {
                length = to - from;
                return to > from ? zero : null;
            }

            @Override
            public float[] feed(int b) {
                length++;
                Arrays.fill(zero, 0f);
                return zero;
            }

            @Override
            public int length() {
                return length;
            }
        };
    }

    @Override
    public String[] stages() {
        return new String[0];
    }

    @Override
    public long[] stageNanos() {
        return new long[0];
    }

    @Override
    public void resetTimers() {}
}
