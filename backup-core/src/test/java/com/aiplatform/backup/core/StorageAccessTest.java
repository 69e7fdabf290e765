package com.aiplatform.backup.core;

import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.StorageException;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.StorageTarget;
import com.aiplatform.backup.testkit.InMemoryStorageTarget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The engine asks each target for what the operation needs of it: reads work on a read-only copy, writes fail first. */
class StorageAccessTest {
    @TempDir
    Path tmp;

    @Test
    void aReadOnlyTargetIsListedVerifiedRestoredAndDrilledButNotBackedUpTo() throws Exception {
        Path source = tmp.resolve("etc");
        TreeSnapshot.createSample(source);
        DirectoryConfig config = new DirectoryConfig("cfg", source);
        InMemoryStorageTarget storage = new InMemoryStorageTarget("snapshot");
        try (BackupEngine engine = BackupEngine.builder().storage(storage).build()) {
            Manifest manifest = engine.backup(config);
            Set<String> before = storage.keys();
            storage.readOnly(true);

            assertThat(engine.list("cfg")).extracting(Manifest::backupId).containsExactly(manifest.backupId());
            assertThat(engine.verify("cfg", "latest").ok()).as("the result cannot be recorded; still ok").isTrue();
            engine.restore(config, "latest", RestoreOptions.intoDirectory(tmp.resolve("restored")));
            assertThat(TreeSnapshot.of(tmp.resolve("restored"))).isEqualTo(TreeSnapshot.of(source));
            assertThat(engine.drill(config, "latest", RestoreOptions.intoDirectory(tmp.resolve("scratch"))).passed())
                    .isTrue();
            assertThat(engine.check(config)).extracting(p -> p.code()).containsExactly("not-writable");

            assertThatThrownBy(() -> engine.backup(config)).isInstanceOf(StorageException.class)
                    .hasMessageContaining("storage target 'snapshot'").hasMessageContaining("not-writable");
            assertThat(storage.keys()).as("nothing written, nothing left behind").isEqualTo(before);
        }
    }

    @Test
    void copyChecksTheDestinationForWritingBeforeReadingAnything() throws Exception {
        Path source = tmp.resolve("etc");
        TreeSnapshot.createSample(source);
        InMemoryStorageTarget local = new InMemoryStorageTarget("local");
        InMemoryStorageTarget offline = new InMemoryStorageTarget("offline");
        try (BackupEngine engine = BackupEngine.builder().storage(local).build()) {
            engine.backup(new DirectoryConfig("cfg", source));
            offline.readOnly(true);
            assertThatThrownBy(() -> engine.copy("cfg", "latest", offline)).isInstanceOf(StorageException.class)
                    .hasMessageContaining("storage target 'offline'").hasMessageContaining("not-writable");
            assertThat(offline.keys()).isEmpty();

            offline.readOnly(false);
            local.readOnly(true); // a read-only source is enough to copy from
            assertThat(engine.copy("cfg", "latest", offline).backupId())
                    .isEqualTo(engine.list("cfg").get(0).backupId());
            assertThat(offline.check(StorageTarget.Access.READ)).isEmpty();
        }
    }
}
