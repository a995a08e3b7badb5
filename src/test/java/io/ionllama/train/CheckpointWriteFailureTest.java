package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A checkpoint that cannot be written is one line: the file, why, and whether the previous one is intact. */
class CheckpointWriteFailureTest {

    @TempDir
    Path dir;

    @Test
    void aFullDiskNamesTheFileAndSaysThePreviousOneIsIntact() throws IOException {
        Path latest = Files.writeString(dir.resolve("latest.safetensors"), "previous");
        String line = Checkpoint.writeFailure(latest, new FileSystemException(dir.resolve(".latest.safetensors.tmp-1").toString(),
                null, "No space left on device"));
        assertThat(line).isEqualTo("cannot write checkpoint " + latest + " (the disk is full); the previous latest.safetensors is intact");
    }

    @Test
    void aFirstSaveSaysThereWasNoneBefore() {
        Path best = dir.resolve("best.safetensors");
        assertThat(Checkpoint.writeFailure(best, new IOException("No space left on device")))
                .isEqualTo("cannot write checkpoint " + best + " (the disk is full); no earlier checkpoint was there");
    }

    @Test
    void saveReportsTheFileItCouldNotWrite() throws Exception {
        Path blocked = dir.resolve("latest.safetensors");
        Files.createDirectories(blocked);
        Files.writeString(blocked.resolve("x"), "x");
        try (io.ionllama.backend.cpu.CpuBackend cpu = new io.ionllama.backend.cpu.CpuBackend(1)) {
            io.ionllama.model.ModelConfig c = new io.ionllama.model.ModelConfig("nano", 16, 16, 1, 2, 1, 1, 8, 1, new int[] {3}, 31,
                    32, 32, 2, 8, 3f).validate();
            io.ionllama.model.IonLlama m = new io.ionllama.model.IonLlama(c, cpu,
                    io.ionllama.model.Patcher.parse("fixed:3", 8, 3f), false);
            m.init(1);
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> Checkpoint.save(blocked, m, null, 0, Double.NaN, null))
                    .isInstanceOf(Checkpoint.CheckpointException.class)
                    .hasMessage("cannot write checkpoint " + blocked + " (a folder of that name is in the way); no earlier checkpoint was there");
        }
    }
}
