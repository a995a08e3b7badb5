package io.ionllama.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The flags' comma-separated lists: empty and none are no items, spaces are allowed, a bad item names the flag. */
class CommaListTest {

    @Test
    void blankAndNoneAreEmptyLists() {
        assertThat(CommaList.ints("--x", "", "1,2")).isEmpty();
        assertThat(CommaList.ints("--x", "  ", "1,2")).isEmpty();
        assertThat(CommaList.ints("--x", "none", "1,2")).isEmpty();
        assertThat(CommaList.doubles("--x", "", "0.5")).isEmpty();
    }

    @Test
    void itemsAreParsedInOrder() {
        assertThat(CommaList.ints("--ngrams", "3, 4,5", "3,4,5")).containsExactly(3, 4, 5);
        assertThat(CommaList.doubles("--noise", "0.1,1", "0.1,0.5")).containsExactly(0.1, 1.0);
    }

    @Test
    void aBadItemIsOneLineNamingTheFlag() {
        assertThatThrownBy(() -> CommaList.ints("--reference", "256,x", "256,4096"))
                .isInstanceOf(Errors.UserError.class)
                .hasMessage("--reference must be a comma-separated list like 256,4096 (got '256,x')");
        assertThatThrownBy(() -> CommaList.ints("--reference", "256,", "256,4096")).isInstanceOf(Errors.UserError.class);
        assertThatThrownBy(() -> CommaList.doubles("--noise", "a", "0.1")).isInstanceOf(Errors.UserError.class);
    }
}
