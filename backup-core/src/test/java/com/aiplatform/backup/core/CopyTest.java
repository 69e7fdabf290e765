package com.aiplatform.backup.core;

import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.testkit.InMemoryStorageTarget;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Copies between storage targets: verified while copied, manifest last, resumable, damage refused. */
class CopyTest {
    private final GeneratedProvider provider = new GeneratedProvider();
    private final GeneratedProvider.Config config = new GeneratedProvider.Config("gen", List.of(
            new GeneratedProvider.Artifact("a", 3_000_000, 1, false),
            new GeneratedProvider.Artifact("b", 100_000, 2, true)));

    @Test
    void aCopyRestoresFromTheOtherTargetAndIsWrittenManifestLast() throws Exception {
        InMemoryStorageTarget local = new InMemoryStorageTarget("local");
        InMemoryStorageTarget offline = new InMemoryStorageTarget("offline");
        KeyProvider key = EncryptionKeys.of(EncryptionKeys.newKeyset(), "k");
        Manifest m;
        try (BackupEngine engine = BackupEngine.builder().storage(local).provider(provider).encryption(key).build()) {
            m = engine.backup(config);
            offline.failCommits(true);
            assertThatThrownBy(() -> engine.copy("gen", "latest", offline)).isNotNull();
            offline.failCommits(false);
            assertThat(offline.keys()).noneMatch(k -> k.endsWith("manifest.json"));
            Manifest copied = engine.copy("gen", "latest", offline);
            assertThat(copied).isEqualTo(m);
            assertThat(engine.copy("gen", m.backupId().value(), offline)).as("copying again is a no-op").isEqualTo(m);
        }
        try (BackupEngine fromOffline = BackupEngine.builder().storage(offline).provider(provider).encryption(key)
                .build()) {
            assertThat(fromOffline.verify("gen", "latest").ok()).isTrue();
            fromOffline.restore(config, "latest", RestoreOptions.intoDirectory(Path.of("unused")));
            assertThat(provider.restored.get("a")).isEqualTo(m.metadata().get("sha256:a"));
        }
        local.assertNoOpenStreams();
        offline.assertNoOpenStreams();
    }

    @Test
    void aDamagedSourceArtifactIsNotCopied() throws Exception {
        InMemoryStorageTarget local = new InMemoryStorageTarget("local");
        InMemoryStorageTarget remote = new InMemoryStorageTarget("remote");
        try (BackupEngine engine = BackupEngine.builder().storage(local).provider(provider).build()) {
            Manifest m = engine.backup(config);
            String key = "gen/backups/" + m.backupId() + "/b";
            byte[] bytes = local.contentOf(key).orElseThrow();
            bytes[10] ^= 1;
            local.overwriteForTest(key, bytes);
            assertThatThrownBy(() -> engine.copy("gen", "latest", remote))
                    .isInstanceOf(IntegrityException.class).hasMessageContaining("b").hasMessageContaining("remote");
            assertThat(remote.keys()).noneMatch(k -> k.endsWith("/b") || k.endsWith("manifest.json"));
        }
    }
}
