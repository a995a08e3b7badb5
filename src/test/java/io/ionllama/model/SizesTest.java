package io.ionllama.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Parameter counts of every named size are within 25% of the seed table (computed, never allocated). */
class SizesTest {

    @ParameterizedTest
    @ValueSource(strings = {"nano", "tiny", "small", "base", "large", "xl"})
    void parameterCountWithinQuarterOfTable(String size) {
        ModelConfig c = ModelConfig.of(size).validate();
        long params = Architecture.layout(c).total();
        long nominal = ModelConfig.nominalParams(size);
        assertThat((double) params / nominal).as("%s has %,d params vs nominal %,d", size, params, nominal)
                .isBetween(0.75, 1.25);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny", "small", "base", "large", "xl"})
    void seedTableDimensions(String size) {
        ModelConfig c = ModelConfig.of(size);
        int[][] table = {{256, 4, 4}, {512, 8, 8}, {768, 12, 12}, {1024, 24, 16}, {2048, 32, 32}};
        int k = java.util.Arrays.asList("tiny", "small", "base", "large", "xl").indexOf(size);
        assertThat(new int[] {c.dModel(), c.layers(), c.heads()}).containsExactly(table[k]);
    }

    @org.junit.jupiter.api.Test
    void layoutIsContiguousAndUnique() {
        ParamLayout p = Architecture.layout(ModelConfig.of("tiny"));
        long next = 0;
        for (ParamLayout.Tensor t : p.tensors()) {
            assertThat(t.offset()).isEqualTo(next);
            next += t.size();
        }
        assertThat(next).isEqualTo(p.total());
    }

    @org.junit.jupiter.api.Test
    void invalidConfigsAreRejectedWithAReason() {
        assertThatThrownBy(() -> ModelConfig.of("tiny").withDims(256, 250, 4, 4).validate())
                .hasMessageContaining("multiple of heads");
        assertThatThrownBy(() -> ModelConfig.of("huge")).hasMessageContaining("unknown size");
    }
}
