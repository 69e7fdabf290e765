package com.aiplatform.backup.core;

import com.aiplatform.backup.api.DrillReport;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Restore drills of the directory provider: recorded, timed, compared; a damaged backup fails the drill. */
class DrillTest {
    @TempDir
    Path tmp;

    @Test
    void drillPassesIsRecordedAndFeedsTheRtoEstimate() throws Exception {
        Path source = tmp.resolve("etc");
        TreeSnapshot.createSample(source);
        try (var storage = new FileSystemStorageTarget("local", tmp.resolve("storage"), true);
             BackupEngine engine = BackupEngine.builder().storage(storage).build()) {
            DirectoryConfig config = new DirectoryConfig("cfg", source);
            engine.backup(config);
            assertThat(engine.rtoEstimate("cfg")).isEmpty();
            DrillReport report = engine.drill(config, "latest", RestoreOptions.intoDirectory(tmp.resolve("scratch")));
            assertThat(report.passed()).isTrue();
            assertThat(report.compared()).isTrue();
            assertThat(report.rawBytes()).isPositive();
            assertThat(engine.drills("cfg")).singleElement().satisfies(d -> {
                assertThat(d.backupId()).isEqualTo(report.backupId());
                assertThat(d.duration()).isEqualTo(report.duration());
            });
            assertThat(engine.rtoEstimate("cfg")).isPresent();
        }
    }

    @Test
    void aDrillOfADamagedBackupFailsAndSaysWhy() throws Exception {
        Path source = tmp.resolve("etc");
        TreeSnapshot.createSample(source);
        Path storageDir = tmp.resolve("storage");
        try (var storage = new FileSystemStorageTarget("local", storageDir, true);
             BackupEngine engine = BackupEngine.builder().storage(storage).build()) {
            DirectoryConfig config = new DirectoryConfig("cfg", source);
            var manifest = engine.backup(config);
            Path tar = storageDir.resolve("cfg/backups/" + manifest.backupId() + "/tree.tar");
            byte[] bytes = Files.readAllBytes(tar);
            bytes[bytes.length / 3] ^= 1;
            tar.toFile().setWritable(true);
            Files.write(tar, bytes);
            DrillReport report = engine.drill(config, "latest", RestoreOptions.intoDirectory(tmp.resolve("scratch")));
            assertThat(report.passed()).isFalse();
            assertThat(report.differences()).singleElement().asString().contains("restore failed").contains("tree.tar");
            assertThat(engine.drills("cfg")).singleElement().satisfies(d -> assertThat(d.passed()).isFalse());
        }
    }
}
