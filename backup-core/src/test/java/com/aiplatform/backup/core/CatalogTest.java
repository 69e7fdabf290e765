package com.aiplatform.backup.core;

import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.testkit.InMemoryStorageTarget;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Ordering of backups started within the same second (ids carry the second only). */
class CatalogTest {
    @Test
    void latestAndListFollowTheFullStartTimeWithinOneSecond() throws Exception {
        GeneratedProvider provider = new GeneratedProvider();
        try (BackupEngine engine = BackupEngine.builder().storage(new InMemoryStorageTarget()).provider(provider)
                .build()) {
            List<Manifest> made = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                made.add(engine.backup(new GeneratedProvider.Config("gen", List.of(
                        new GeneratedProvider.Artifact("a", 10, i, false)))));
                assertThat(engine.describe("gen", "latest").backupId()).isEqualTo(made.get(i).backupId());
            }
            assertThat(engine.list("gen")).extracting(Manifest::backupId)
                    .containsExactlyElementsOf(made.stream().map(Manifest::backupId).toList());
        }
    }
}
