package io.ionllama.cli;

import io.ionllama.train.Checkpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.stream.Stream;

/** Where a command's checkpoint is: a file, a run folder, or the newest run under a folder. */
final class CheckpointPaths {
    private CheckpointPaths() {}

    static final String BEST = "best.safetensors", LATEST = "latest.safetensors";

    /** {@code path} itself when it is a file; for a run folder its best, else its latest checkpoint. */
    static Path resolve(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            Path inRun = inRun(path);
            if (inRun == null) {
                throw new Checkpoint.CheckpointException("no checkpoint in " + path + " (expected " + BEST + " or " + LATEST + ")");
            }
            return inRun;
        }
        if (!Files.exists(path)) {
            throw new Checkpoint.CheckpointException("no checkpoint at " + path);
        }
        return path;
    }

    /** The newest run's checkpoint among the folders directly under {@code root}, or null. */
    static Path newest(Path root) throws IOException {
        if (!Files.isDirectory(root)) {
            return null;
        }
        Path best = null;
        FileTime bestTime = null;
        try (Stream<Path> runs = Files.list(root)) {
            for (Path run : runs.filter(Files::isDirectory).sorted().toList()) {
                Path p = inRun(run);
                if (p != null) {
                    FileTime t = Files.getLastModifiedTime(p);
                    if (bestTime == null || t.compareTo(bestTime) > 0) {
                        best = p;
                        bestTime = t;
                    }
                }
            }
        }
        return best;
    }

    private static Path inRun(Path dir) {
        for (String name : new String[] {BEST, LATEST}) {
            Path p = dir.resolve(name);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        return null;
    }
}
