package com.aiplatform.backup.core;

import com.aiplatform.backup.api.BackupEvent;
import com.aiplatform.backup.api.Debris;
import com.aiplatform.backup.api.SourceException;
import com.aiplatform.backup.api.StorageException;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.testkit.InMemoryStorageExtension;
import com.aiplatform.backup.testkit.InMemoryStorageTarget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A backup that fails anywhere leaves no manifest: never listed, never restorable, identifiable debris. */
class InterruptedBackupTest {
    @RegisterExtension
    final InMemoryStorageExtension storage = new InMemoryStorageExtension();

    private final GeneratedProvider provider = new GeneratedProvider();
    private final List<BackupEvent> events = new CopyOnWriteArrayList<>();

    private static final List<GeneratedProvider.Artifact> TWO_ARTIFACTS = List.of(
            new GeneratedProvider.Artifact("first", 3_000_000, 1, false),
            new GeneratedProvider.Artifact("second", 5_000_000, 2, false));

    private BackupEngine engine(InMemoryStorageTarget target) throws Exception {
        return BackupEngine.builder().storage(target).provider(provider).listener(events::add).build();
    }

    @ParameterizedTest(name = "source throws after {0} bytes")
    @ValueSource(longs = {0, 1, 1_000_000, 4_999_999})
    void sourceFailureLeavesNoManifest(long failAfter) throws Exception {
        InMemoryStorageTarget target = storage.target();
        try (BackupEngine engine = engine(target)) {
            GeneratedProvider.Config config = new GeneratedProvider.Config("gen", TWO_ARTIFACTS, failAfter);
            assertThatThrownBy(() -> engine.backup(config)).isInstanceOf(SourceException.class)
                    .hasMessageContaining("failed on purpose");
            assertNothingCommitted(engine, target, config);
        }
    }

    @ParameterizedTest(name = "storage fails after {0} bytes")
    @ValueSource(longs = {0, 100, 1_500_000})
    void storageFailureLeavesNoManifest(long failAfter) throws Exception {
        InMemoryStorageTarget target = storage.target();
        try (BackupEngine engine = engine(target)) {
            GeneratedProvider.Config config = new GeneratedProvider.Config("gen", TWO_ARTIFACTS);
            target.failWritesAfter(failAfter);
            assertThatThrownBy(() -> engine.backup(config)).isInstanceOf(StorageException.class);
            target.resetFaults();
            assertNothingCommitted(engine, target, config);
        }
    }

    @Test
    void failedCommitOfTheManifestLeavesNoManifest() throws Exception {
        InMemoryStorageTarget target = storage.target();
        try (BackupEngine engine = engine(target)) {
            GeneratedProvider.Config config = new GeneratedProvider.Config("gen", TWO_ARTIFACTS);
            target.failCommits(true);
            assertThatThrownBy(() -> engine.backup(config)).isInstanceOf(StorageException.class);
            target.resetFaults();
            assertThat(engine.list("gen")).isEmpty();
        }
    }

    @Test
    void aLaterBackupSucceedsAndTheFailedOneStaysInvisible() throws Exception {
        InMemoryStorageTarget target = storage.target();
        try (BackupEngine engine = engine(target)) {
            GeneratedProvider.Config failing = new GeneratedProvider.Config("gen", TWO_ARTIFACTS, 10);
            assertThatThrownBy(() -> engine.backup(failing)).isInstanceOf(SourceException.class);
            var good = engine.backup(new GeneratedProvider.Config("gen", TWO_ARTIFACTS));
            assertThat(engine.list("gen")).extracting(m -> m.backupId()).containsExactly(good.backupId());
            assertThat(engine.describe("gen", "latest").backupId()).isEqualTo(good.backupId());
            assertThat(engine.debris("gen")).hasSize(1);
            assertThat(engine.debris("gen").get(0).backupId()).isNotEqualTo(good.backupId());
        }
    }

    private void assertNothingCommitted(BackupEngine engine, InMemoryStorageTarget target,
                                        GeneratedProvider.Config config) throws Exception {
        assertThat(engine.list("gen")).isEmpty();
        assertThat(target.keys()).noneMatch(k -> k.endsWith("manifest.json"));
        assertThatThrownBy(() -> engine.restore(config, "latest", RestoreOptions.intoDirectory(Path.of("x"))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no committed backup");
        assertThat(provider.restoredBytes.get()).isZero();
        List<Debris> debris = engine.debris("gen");
        if (!target.keys().isEmpty()) {
            assertThat(debris).hasSize(1);
            assertThat(debris.get(0).keys()).allMatch(k -> k.startsWith("gen/backups/" + debris.get(0).backupId()));
            assertThat(target.keys()).allMatch(k -> debris.get(0).keys().contains(k));
        }
        assertThat(events).anyMatch(e -> e instanceof BackupEvent.Failed);
        assertThat(events).noneMatch(e -> e instanceof BackupEvent.Completed);
    }
}
