package com.aiplatform.backup.core;

import com.aiplatform.backup.api.Debris;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A backup process killed (SIGKILL) mid-upload leaves no manifest, only identifiable debris. */
class KilledBackupIT {
    @TempDir
    Path tmp;

    @Test
    void killedMidUploadLeavesOnlyDebris() throws Exception {
        Path storageDir = tmp.resolve("storage");
        Process child = ChildJvm.start(List.of("-Xmx256m"), tmp.resolve("child.log"), "endless",
                storageDir.toString());
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (partialBytes(storageDir) < 20_000_000) {
                assertThat(child.isAlive()).as("child still running; log: %s", log()).isTrue();
                assertThat(System.nanoTime()).as("child uploads within 60 s; log: %s", log()).isLessThan(deadline);
                TimeUnit.MILLISECONDS.sleep(50);
            }
        } finally {
            child.destroyForcibly();
            child.waitFor(30, TimeUnit.SECONDS);
        }

        try (var storage = new FileSystemStorageTarget("local", storageDir, true);
             BackupEngine engine = BackupEngine.builder().storage(storage).provider(new GeneratedProvider())
                     .build()) {
            assertThat(engine.list("killed")).isEmpty();
            assertThatThrownBy(() -> engine.restore(new GeneratedProvider.Config("killed", List.of()), "latest",
                    RestoreOptions.intoDirectory(tmp.resolve("x"))))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no committed backup");
            List<Debris> debris = engine.debris("killed");
            assertThat(debris).singleElement().satisfies(d ->
                    assertThat(d.keys()).containsExactly("killed/backups/" + d.backupId() + "/first"));
            assertThat(storage.partialFilesOlderThan(Duration.ZERO)).isNotEmpty();
            assertThat(storage.list("")).noneMatch(o -> o.key().contains("endless"));
        }
    }

    private String log() {
        try {
            return Files.readString(tmp.resolve("child.log"));
        } catch (Exception e) {
            return "(no log)";
        }
    }

    private static long partialBytes(Path root) throws Exception {
        if (!Files.exists(root)) {
            return 0;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            return walk.filter(p -> p.getFileName().toString().endsWith(".partial")).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (Exception e) {
                    return 0;
                }
            }).sum();
        } catch (java.io.UncheckedIOException e) {
            return 0; // a temporary file vanished while walking (the storage check's probe): look again
        }
    }
}
