package com.aiplatform.backup.core;

import com.aiplatform.backup.api.ArtifactEntry;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The SHA-256 a manifest records is what coreutils' {@code sha256sum} prints for the stored file. */
class Sha256SumTest {
    @TempDir
    Path tmp;

    @Test
    void manifestHashesMatchSha256sumOfStoredFiles() throws Exception {
        Path storageDir = tmp.resolve("storage");
        try (var storage = new FileSystemStorageTarget("local", storageDir, true);
             BackupEngine engine = BackupEngine.builder().storage(storage).provider(new GeneratedProvider())
                     .encryption(EncryptionKeys.of(EncryptionKeys.newKeyset(), "test keyset")).build()) {
            Manifest m = engine.backup(new GeneratedProvider.Config("gen", List.of(
                    new GeneratedProvider.Artifact("text.dump", 5_000_000, 1, false),
                    new GeneratedProvider.Artifact("nested/random.bin", 1_234_567, 2, true),
                    new GeneratedProvider.Artifact("empty", 0, 3, false))));
            for (ArtifactEntry entry : m.artifacts()) {
                Path file = storageDir.resolve("gen/backups/" + m.backupId() + "/" + entry.name());
                assertThat(Files.size(file)).isEqualTo(entry.storedSize());
                Process p = new ProcessBuilder("sha256sum", file.toString()).redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
                assertThat(p.exitValue()).as(out).isZero();
                assertThat(out.split(" ")[0]).as("sha256sum of %s", entry.name()).isEqualTo(entry.storedSha256());
            }
        }
    }
}
