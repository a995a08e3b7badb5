package io.ionllama.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SuiteTest {
    private final Suite.Settings settings = new Suite.Settings(64, 2);

    @Test
    void selectsByNameInTheOrderGivenOnce() {
        assertThat(Suite.select("speed,lm,speed", settings)).extracting(EvalTask::name).containsExactly("speed", "lm");
        assertThat(Suite.select(" lm ", settings)).extracting(EvalTask::name).containsExactly("lm");
        assertThat(Suite.select("all", settings)).extracting(EvalTask::name).containsExactlyElementsOf(Suite.names());
        assertThat(Suite.names()).contains("lm", "speed", "memory", "compression", "multilingual");
    }

    @Test
    void anUnknownNameIsOneLineListingTheKnownOnes() {
        assertThatThrownBy(() -> Suite.select("lm,bogus", settings)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--tasks: unknown task 'bogus' (known: " + String.join(", ", Suite.names()) + ", all)");
        assertThatThrownBy(() -> Suite.select("lm,", settings)).hasMessageContaining("empty task name");
    }

    /** Every task of the list is registered, in the order {@code all} runs them. */
    @Test
    void everyTaskIsRegistered() {
        assertThat(Suite.names()).containsExactly("lm", "chars", "arith", "speed", "memory", "compression", "multilingual");
    }
}
