package com.aiplatform.backup.core;

import com.aiplatform.backup.api.BackupId;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.PlacementReport;
import com.aiplatform.backup.api.PrunePlan;
import com.aiplatform.backup.testkit.InMemoryStorageTarget;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/** Tiers: an offline target holds the monthly backups only, a remote one daily and monthly; both follow the policy. */
class PlacementTest {
    private static final Instant NOW = Instant.parse("2026-11-24T12:00:00Z");

    @Test
    void eachTierHoldsWhatItsRulesKeepAndFollowsThePolicy() throws Exception {
        InMemoryStorageTarget local = new InMemoryStorageTarget("local");
        InMemoryStorageTarget offline = new InMemoryStorageTarget("offline");
        InMemoryStorageTarget remote = new InMemoryStorageTarget("remote");
        PruneTest.DatedProvider provider = new PruneTest.DatedProvider();
        RetentionPolicy policy = RetentionPolicy.builder().daily(7).weekly(0).monthly(3).build();
        try (BackupEngine engine = BackupEngine.builder().storage(local).provider(provider).discoverProviders(false)
                .build()) {
            for (int d = 100; d >= 1; d--) {
                engine.backup(new PruneTest.DatedConfig("db", NOW.minus(d, ChronoUnit.DAYS)));
            }
            PrunePlan plan = engine.planPrune("db", policy, Duration.ofDays(1));
            Set<BackupId> monthly = idsWithReason(plan, "monthly");
            Set<BackupId> dailyOrMonthly = plan.backups().stream().filter(PrunePlan.Entry::keep)
                    .map(PrunePlan.Entry::backupId).collect(Collectors.toSet());
            assertThat(monthly).hasSize(3);

            PlacementReport toOffline = engine.place("db", policy, offline, Set.of("monthly"));
            assertThat(Set.copyOf(toOffline.held())).isEqualTo(monthly);
            assertThat(Set.copyOf(toOffline.copied())).isEqualTo(monthly);
            PlacementReport toRemote = engine.place("db", policy, remote, Set.of("daily", "monthly"));
            assertThat(Set.copyOf(toRemote.held())).isEqualTo(dailyOrMonthly);

            try (BackupEngine offlineView = BackupEngine.builder().storage(offline).provider(provider)
                    .discoverProviders(false).build()) {
                assertThat(offlineView.list("db")).extracting(Manifest::backupId).containsExactlyInAnyOrderElementsOf(monthly);
                for (Manifest m : offlineView.list("db")) {
                    assertThat(offlineView.verify("db", m.backupId().value()).ok()).isTrue();
                }
            }

            // a month later: new backups, the primary is pruned, the tiers follow
            for (int d = 0; d > -31; d--) {
                engine.backup(new PruneTest.DatedConfig("db", NOW.minus(d, ChronoUnit.DAYS)));
            }
            PrunePlan later = engine.planPrune("db", policy, Duration.ofDays(1));
            PlacementReport again = engine.place("db", policy, offline, Set.of("monthly"));
            assertThat(Set.copyOf(again.held())).isEqualTo(idsWithReason(later, "monthly"));
            assertThat(again.removed()).isNotEmpty();
            assertThat(offline.keys()).noneMatch(k -> again.removed().stream().anyMatch(id -> k.contains(id.value())));
            assertThat(engine.place("db", policy, offline, Set.of("monthly")).copied())
                    .as("placing again changes nothing").isEmpty();
        }
    }

    private static Set<BackupId> idsWithReason(PrunePlan plan, String rule) {
        return plan.backups().stream().filter(e -> e.reasons().stream().anyMatch(r -> r.startsWith(rule + " ")))
                .map(PrunePlan.Entry::backupId).collect(Collectors.toSet());
    }
}
