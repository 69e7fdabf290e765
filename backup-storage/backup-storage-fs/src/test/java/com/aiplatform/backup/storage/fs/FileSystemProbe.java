package com.aiplatform.backup.storage.fs;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Test helper: whether permission bits stop this user (they do not stop root). */
final class FileSystemProbe {
    private FileSystemProbe() {
    }

    /** Skips the calling test when a file can be created in the read-only {@code folder} anyway. */
    static void assumePermissionBitsApply(Path folder) {
        Path probe = folder.resolve("probe");
        boolean writable;
        try {
            Files.createFile(probe);
            Files.delete(probe);
            writable = true;
        } catch (IOException e) {
            writable = false;
        }
        Assumptions.assumeFalse(writable, "running as root (or with CAP_DAC_OVERRIDE): permission bits do not "
                + "stop this user, so a read-only folder cannot be simulated here");
    }
}
