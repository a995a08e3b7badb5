package io.ionllama.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every command's numeric flags are bounded by what can run: a value outside is one line naming
 * the flag, the allowed range and the value, before any work (no internal error, no endless step,
 * no out-of-memory minutes later).
 */
class FlagBoundsTest {

    @TempDir
    Path dir;

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "train --max-time -5m                         | --max-time must be between 0 and 8760h (got -5m)",
        "train --layers 0                             | --layers must be between 1 and 512 (got 0)",
        "train --batch-size 2147483647                | --batch-size must be between 1 and 4096 (got 2147483647)",
        "train --grad-accum 2147483647                | --grad-accum must be between 1 and 1024 (got 2147483647)",
        "train --threads 100000                       | --threads must be between 1 and ",
        "train --lr 1e39                              | --lr must be above 0 and at most 10 (got 1.0E39)",
        "train --lr 0                                 | --lr must be above 0 and at most 10 (got 0)",
        "train --seq-len 2147483647                   | --seq-len must be between 8 and 1048576 (got 2147483647)",
        "train --batch-size 4096 --seq-len 8192       | --batch-size x --seq-len must be at most 16777216 bytes per batch (got 4096 x 8192",
        "train --max-steps 0                          | --max-steps must be between 1 and ",
        "train --eval-batches 0                       | --eval-batches must be between 1 and 10000 (got 0)",
        "train --keep -1                              | --keep must be between 0 and 10000 (got -1)",
        "train --sample-bytes 99999999                | --sample-bytes must be between 0 and 1048576 (got 99999999)",
        "train --weight-decay -1                      | --weight-decay must be between 0 and 10 (got -1)",
        "train --ngrams 3,x                           | --ngrams: '3,x' is not a list of orders (e.g. 3,4,5, or '' for none)",
        "train --dropout 1                            | --dropout must be between 0 and 0.9 (got 1)",
        "train --model rnn --dropout 0.1              | --dropout: --model rnn has no residual branches to drop",
        "train --clock sundial                        | --clock must be wall or cpu (got 'sundial')",
        "train --min-lr 1                             | --min-lr must be between 0 and 0.003 (got 1)",
        "train --heads 0                              | --heads must be between 1 and 1024 (got 0)",
        "train --d-model 100000                       | --d-model must be between 1 and 16384 (got 100000)",
        "train --target-patch 99                      | --target-patch must be between 1 and 16 (got 99)",
        "train --mix-tasks 1                          | --mix-tasks must be at least 0 and below 1 (got 1)",
        "train --mix-tasks -0.5                       | --mix-tasks must be at least 0 and below 1 (got -0.5)",
        "info --layers 0                              | --layers must be between 1 and 512 (got 0)",
        "info --batch-size 0                          | --batch-size must be between 1 and 4096 (got 0)",
        "info --seq-len 2147483647                    | --seq-len must be between 1 and 1048576 (got 2147483647)",
        "eval --checkpoint NONE --batch-size 99999    | --batch-size must be between 1 and 4096 (got 99999)",
        "eval --checkpoint NONE --threads 100000      | --threads must be between 1 and ",
        "generate --checkpoint NONE --context 2147483647 | --context must be between 2 and 1048576 (got 2147483647)",
        "generate --checkpoint NONE --penalty-window -1  | --penalty-window must be between 0 and 1048576 (got -1)",
        "chat --checkpoint NONE --max-new-bytes 0     | --max-new-bytes must be between 1 and ",
        "demo --train-steps 0                         | --train-steps must be between 1 and 1000000 (got 0)",
        "demo --threads 100000 --checkpoints-dir NONE | --threads must be between 1 and ",
        "bench matmul --rows 0                        | --rows must be between 1 and 16777216 (got 0)",
        "bench step --steps 0                         | --steps must be between 1 and 10000 (got 0)",
        "bench step --batch-size 2147483647           | --batch-size must be between 1 and 4096 (got 2147483647)",
        "bench generate --bytes 0                     | --bytes must be between 1 and 1048576 (got 0)",
        "bench generate --contexts 1,2147483647       | --contexts must be between 1 and 1048576 (got 2147483647)"})
    void outOfRangeIsOneLineNamingFlagRangeAndValue(String line, String message) {
        String[] args = line.strip().replace("NONE", dir.resolve("none").toString()).split(" +");
        CliTest.Result r = CliTest.run(args);
        assertThat(r.code()).as(r.out() + r.err()).isEqualTo(2);
        assertThat(r.err().strip().lines()).as(r.err()).hasSize(1);
        assertThat(r.err()).startsWith("ionllama: " + message.strip()).doesNotContain("Exception", "\tat ");
    }
}
