package com.aiplatform.backup.core;

import com.aiplatform.backup.api.BackupCondition;
import com.aiplatform.backup.api.BackupEvent;
import com.aiplatform.backup.api.BackupId;
import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.api.ConsistentPoint;
import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.ListedBackup;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.api.PrunePlan;
import com.aiplatform.backup.api.RestoreReport;
import com.aiplatform.backup.api.RpoReport;
import com.aiplatform.backup.core.RetentionPlanner.Candidate;
import com.aiplatform.backup.core.RetentionPlanner.Decision;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.ArtifactSource;
import com.aiplatform.backup.spi.BackupContext;
import com.aiplatform.backup.spi.BackupProvider;
import com.aiplatform.backup.spi.BackupSession;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.RestoreSession;
import com.aiplatform.backup.spi.Settings;
import com.aiplatform.backup.spi.SourceConfig;
import com.aiplatform.backup.testkit.InMemoryStorageTarget;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Known-bad (latest check failed), broken-chain and damaged backups: listed with their
 * condition, never filling a retention rule, never a recoverable point, never picked by
 * {@code latest}; the newest good backup is never pruned because a bad one is newer.
 */
class KnownBadTest {
    private static final Instant NOW = Instant.parse("2026-11-24T12:00:00Z");

    // ---- the planner, pure ----

    private static BackupId id(Instant t, String suffix) {
        return new BackupId(BackupId.generate(t).value().substring(0, 17) + suffix);
    }

    private static Decision decisionOf(List<Decision> plan, BackupId id) {
        return plan.stream().filter(d -> d.id().equals(id)).findFirst().orElseThrow();
    }

    @Test
    void aKnownBadBackupNewerThanAGoodOneNeverTakesItsBucket() {
        Instant goodTime = NOW.minus(3, ChronoUnit.HOURS);
        Instant badTime = NOW.minus(1, ChronoUnit.HOURS);
        BackupId good = id(goodTime, "aaaaaa");
        BackupId bad = id(badTime, "bbbbbb");
        RetentionPolicy policy = RetentionPolicy.builder().daily(1).weekly(1).monthly(1).build();
        List<Decision> plan = RetentionPlanner.plan(policy, List.of(
                new Candidate(good, goodTime, null, false),
                new Candidate(bad, badTime, null, false, BackupCondition.KNOWN_BAD, "its latest verify failed")), NOW);

        Decision g = decisionOf(plan, good);
        assertThat(g.keep()).isTrue();
        assertThat(g.reasons()).contains("daily 2026-11-24", "weekly 2026-W48", "monthly 2026-11");
        Decision b = decisionOf(plan, bad);
        // kept for now as evidence, but it fills no rule
        assertThat(b.keep()).isTrue();
        assertThat(b.reasons()).singleElement().asString()
                .startsWith("known-bad, kept as evidence while daily 2026-11-24")
                .contains("fills no rule", "its latest verify failed");
    }

    @Test
    void knownBadEvidenceGoesOnceTheRulesWouldNotKeepItAnyMore() {
        Instant badTime = NOW.minus(3, ChronoUnit.DAYS);
        BackupId bad = id(badTime, "bbbbbb");
        BackupId d2 = id(NOW.minus(2, ChronoUnit.DAYS), "cccccc");
        BackupId d1 = id(NOW.minus(1, ChronoUnit.DAYS), "dddddd");
        RetentionPolicy policy = RetentionPolicy.builder().daily(2).weekly(0).monthly(0).build();
        List<Decision> plan = RetentionPlanner.plan(policy, List.of(
                new Candidate(bad, badTime, null, false, BackupCondition.KNOWN_BAD, "drill failed"),
                new Candidate(d2, NOW.minus(2, ChronoUnit.DAYS), null, false),
                new Candidate(d1, NOW.minus(1, ChronoUnit.DAYS), null, false)), NOW);
        assertThat(decisionOf(plan, bad).keep()).isFalse();
        assertThat(decisionOf(plan, d2).keep()).isTrue();
        assertThat(decisionOf(plan, d1).keep()).isTrue();
    }

    @Test
    void theNewestGoodBackupIsKeptWhenOnlyBadOnesAreInsideTheWindow() {
        Instant goodTime = NOW.minus(5, ChronoUnit.DAYS);
        BackupId good = id(goodTime, "aaaaaa");
        BackupId older = id(NOW.minus(6, ChronoUnit.DAYS), "cccccc");
        BackupId bad = id(NOW.minus(1, ChronoUnit.HOURS), "bbbbbb");
        RetentionPolicy policy = RetentionPolicy.builder().daily(0).weekly(0).monthly(0).within(Duration.ofDays(1))
                .build();
        List<Decision> plan = RetentionPlanner.plan(policy, List.of(
                new Candidate(older, NOW.minus(6, ChronoUnit.DAYS), null, false),
                new Candidate(good, goodTime, null, false),
                new Candidate(bad, NOW.minus(1, ChronoUnit.HOURS), null, false, BackupCondition.KNOWN_BAD, "x")),
                NOW);
        assertThat(decisionOf(plan, good).keep()).isTrue();
        assertThat(decisionOf(plan, good).reasons()).containsExactly("newest recoverable backup (the newer ones are not)");
        assertThat(decisionOf(plan, older).keep()).isFalse();
    }

    @Test
    void aDamagedBackupIsNeverDeletedAndFillsNothing() {
        BackupId damaged = id(NOW.minus(1, ChronoUnit.HOURS), "dddddd");
        BackupId good = id(NOW.minus(2, ChronoUnit.HOURS), "aaaaaa");
        BackupId oldDamaged = id(NOW.minus(400, ChronoUnit.DAYS), "eeeeee");
        RetentionPolicy policy = RetentionPolicy.builder().daily(0).weekly(0).monthly(0).last(1).build();
        List<Decision> plan = RetentionPlanner.plan(policy, List.of(
                new Candidate(oldDamaged, NOW.minus(400, ChronoUnit.DAYS), null, false, BackupCondition.DAMAGED,
                        "manifest.json was edited"),
                new Candidate(good, NOW.minus(2, ChronoUnit.HOURS), null, false),
                new Candidate(damaged, NOW.minus(1, ChronoUnit.HOURS), null, false, BackupCondition.DAMAGED,
                        "manifest.json was edited")), NOW);
        assertThat(decisionOf(plan, good).reasons()).containsExactly("last 1");
        for (BackupId d : List.of(damaged, oldDamaged)) {
            assertThat(decisionOf(plan, d).keep()).isTrue();
            assertThat(decisionOf(plan, d).reasons()).singleElement().asString()
                    .startsWith("damaged, never deleted by prune").contains("was edited");
        }
    }

    // ---- the engine, on storage ----

    /** A source whose backups claim a given time; incremental backups name the previous one as parent. */
    record Timed(String name, AtomicReference<Instant> time) implements SourceConfig { }

    static final class TimedProvider implements BackupProvider<Timed> {
        final List<String> restored = new CopyOnWriteArrayList<>();

        @Override
        public String engine() {
            return "timed";
        }

        @Override
        public Class<Timed> configType() {
            return Timed.class;
        }

        @Override
        public Timed parseConfig(String name, Settings settings) {
            throw new UnsupportedOperationException();
        }

        @Override
        public List<Problem> check(Timed config) {
            return List.of();
        }

        @Override
        public BackupSession openBackup(Timed config, BackupContext context) {
            return new BackupSession() {
                @Override
                public BackupResult run(ArtifactSink sink) throws IOException {
                    try (OutputStream out = sink.openArtifact("data")) {
                        TestData.write(config.time().get().toEpochMilli(), 20_000, false, out);
                    }
                    BackupId parent = context.incremental() ? context.previous().map(Manifest::backupId).orElse(null)
                            : null;
                    return new BackupResult(parent == null ? BackupKind.FULL : BackupKind.INCREMENTAL, "timed",
                            new ConsistentPoint("t", config.time().get()), parent, Map.of(), Map.of());
                }

                @Override
                public void close() {
                }
            };
        }

        @Override
        public RestoreSession openRestore(Timed config, RestoreOptions options) {
            return new RestoreSession() {
                @Override
                public void restore(ArtifactSource source) throws IOException {
                    try (InputStream in = source.open("data")) {
                        in.transferTo(OutputStream.nullOutputStream());
                    }
                    restored.add(source.manifest().backupId().value());
                }

                @Override
                public void close() {
                }
            };
        }
    }

    private final TimedProvider provider = new TimedProvider();
    private final List<BackupEvent> events = new CopyOnWriteArrayList<>();
    private final Timed source = new Timed("db", new AtomicReference<>());

    private BackupEngine engine(InMemoryStorageTarget storage) throws Exception {
        return BackupEngine.builder().storage(storage).provider(provider).discoverProviders(false)
                .listener(events::add).build();
    }

    private Manifest backupAt(BackupEngine engine, Instant time, boolean incremental) throws IOException {
        source.time().set(time);
        return engine.backup(source, incremental);
    }

    private static void damageArtifact(InMemoryStorageTarget storage, Manifest m) {
        String key = "db/backups/" + m.backupId() + "/data";
        byte[] bytes = storage.contentOf(key).orElseThrow();
        bytes[bytes.length / 2] ^= 0x10;
        storage.overwriteForTest(key, bytes);
    }

    private static ListedBackup listed(BackupEngine engine, Manifest m) throws IOException {
        return engine.listAll("db").stream().filter(b -> b.backupId().equals(m.backupId())).findFirst().orElseThrow();
    }

    @Test
    void aFailedVerifyMakesTheNewestBackupKnownBadForListPruneRpoAndRestoreLatest() throws Exception {
        InMemoryStorageTarget storage = new InMemoryStorageTarget();
        try (BackupEngine engine = engine(storage)) {
            Instant goodTime = Instant.now().minus(2, ChronoUnit.HOURS).truncatedTo(ChronoUnit.SECONDS);
            Manifest good = backupAt(engine, goodTime, false);
            Manifest bad = backupAt(engine, goodTime.plus(1, ChronoUnit.HOURS), false);
            assertThat(listed(engine, bad).condition()).isEqualTo(BackupCondition.OK);
            damageArtifact(storage, bad);
            assertThat(engine.verify("db", "latest").ok()).isFalse();

            ListedBackup b = listed(engine, bad);
            assertThat(b.condition()).isEqualTo(BackupCondition.KNOWN_BAD);
            assertThat(b.recoverable()).isFalse();
            assertThat(b.reason()).contains("verify", "failed", "data", "SHA-256");
            assertThat(b.lastCheck().time()).isBetween(Instant.now().minusSeconds(60), Instant.now());
            assertThat(b.manifest()).isEqualTo(bad);
            assertThat(listed(engine, good).condition()).isEqualTo(BackupCondition.OK);

            // a policy whose buckets would pick the newer one keeps the good one by rule
            RetentionPolicy policy = RetentionPolicy.builder().daily(1).weekly(1).monthly(1).build();
            PrunePlan plan = engine.prune("db", policy, Duration.ofDays(1));
            PrunePlan.Entry g = plan.backups().stream().filter(e -> e.backupId().equals(good.backupId()))
                    .findFirst().orElseThrow();
            assertThat(g.keep()).isTrue();
            assertThat(g.reasons()).anyMatch(r -> r.startsWith("daily "));
            PrunePlan.Entry e = plan.backups().stream().filter(x -> x.backupId().equals(bad.backupId()))
                    .findFirst().orElseThrow();
            assertThat(e.condition()).isEqualTo(BackupCondition.KNOWN_BAD);
            assertThat(e.reasons()).noneMatch(r -> r.startsWith("daily ") || r.startsWith("weekly ")
                    || r.startsWith("monthly "));
            assertThat(engine.list("db")).extracting(Manifest::backupId).contains(good.backupId());

            RpoReport rpo = engine.rpo("db", Optional.of(Duration.ofMinutes(90)), Duration.ofHours(1));
            assertThat(rpo.latestPoint()).isEqualTo(goodTime);
            assertThat(rpo.breached()).isTrue();

            events.clear();
            RestoreReport restored = engine.restore(source, "latest", RestoreOptions.intoDirectory(Path.of("x")));
            assertThat(restored.backupId()).isEqualTo(good.backupId());
            assertThat(provider.restored).containsExactly(good.backupId().value());
            assertThat(events).filteredOn(ev -> ev instanceof BackupEvent.Skipped).singleElement()
                    .satisfies(ev -> {
                        BackupEvent.Skipped s = (BackupEvent.Skipped) ev;
                        assertThat(s.backupId()).isEqualTo(bad.backupId());
                        assertThat(s.condition()).isEqualTo(BackupCondition.KNOWN_BAD);
                        assertThat(s.operation()).isEqualTo("restore");
                    });

            events.clear();
            assertThat(engine.drill(source, "latest", RestoreOptions.intoDirectory(Path.of("y"))).backupId())
                    .isEqualTo(good.backupId());
            assertThat(events).filteredOn(ev -> ev instanceof BackupEvent.Skipped)
                    .extracting(ev -> ((BackupEvent.Skipped) ev).operation()).containsExactly("drill");

            // by id it is still verified first and refused
            assertThatThrownBy(() -> engine.restore(source, bad.backupId().value(),
                    RestoreOptions.intoDirectory(Path.of("x"))))
                    .isInstanceOf(IntegrityException.class).hasMessageContaining("nothing was restored");
            assertThat(provider.restored).doesNotContain(bad.backupId().value());
        }
    }

    @Test
    void incrementalsOnAKnownBadFullAreNotRecoverableEither() throws Exception {
        InMemoryStorageTarget storage = new InMemoryStorageTarget();
        try (BackupEngine engine = engine(storage)) {
            Instant t0 = Instant.now().minus(4, ChronoUnit.HOURS).truncatedTo(ChronoUnit.SECONDS);
            Manifest oldFull = backupAt(engine, t0, false);
            Manifest full = backupAt(engine, t0.plus(1, ChronoUnit.HOURS), false);
            Manifest inc1 = backupAt(engine, t0.plus(2, ChronoUnit.HOURS), true);
            Manifest inc2 = backupAt(engine, t0.plus(3, ChronoUnit.HOURS), true);
            assertThat(inc1.parent()).isEqualTo(full.backupId());
            assertThat(inc2.parent()).isEqualTo(inc1.backupId());
            damageArtifact(storage, full);
            assertThat(engine.verify("db", full.backupId().value()).ok()).isFalse();

            assertThat(listed(engine, full).condition()).isEqualTo(BackupCondition.KNOWN_BAD);
            assertThat(listed(engine, inc1).condition()).isEqualTo(BackupCondition.BROKEN_CHAIN);
            assertThat(listed(engine, inc1).reason()).contains(full.backupId().value(), "known-bad");
            assertThat(listed(engine, inc2).condition()).isEqualTo(BackupCondition.BROKEN_CHAIN);
            assertThat(listed(engine, inc2).reason()).contains(inc1.backupId().value());
            assertThat(listed(engine, oldFull).condition()).isEqualTo(BackupCondition.OK);

            assertThat(engine.rpo("db", Optional.empty(), Duration.ofDays(1)).latestPoint()).isEqualTo(t0);

            RetentionPolicy lastTwo = RetentionPolicy.builder().daily(0).weekly(0).monthly(0).last(2).build();
            PrunePlan plan = engine.planPrune("db", lastTwo, Duration.ofDays(1));
            assertThat(plan.backups()).filteredOn(e -> e.reasons().contains("last 2"))
                    .extracting(PrunePlan.Entry::backupId).containsExactly(oldFull.backupId());
            assertThat(plan.backups()).filteredOn(e -> e.backupId().equals(inc2.backupId())).singleElement()
                    .satisfies(e -> assertThat(e.condition()).isEqualTo(BackupCondition.BROKEN_CHAIN));

            events.clear();
            assertThat(engine.restore(source, "latest", RestoreOptions.intoDirectory(Path.of("x"))).backupId())
                    .isEqualTo(oldFull.backupId());
            assertThat(events).filteredOn(ev -> ev instanceof BackupEvent.Skipped)
                    .extracting(ev -> ((BackupEvent.Skipped) ev).backupId())
                    .containsExactly(inc2.backupId(), inc1.backupId(), full.backupId());

            // a new incremental builds on the newest backup that can be counted on
            Manifest next = backupAt(engine, t0.plus(5, ChronoUnit.HOURS), true);
            assertThat(next.parent()).isEqualTo(oldFull.backupId());
            assertThat(listed(engine, next).condition()).isEqualTo(BackupCondition.OK);
        }
    }

    @Test
    void aDamagedManifestIsListedWithItsReasonNeverCountedAndNeverPruned() throws Exception {
        InMemoryStorageTarget storage = new InMemoryStorageTarget();
        try (BackupEngine engine = engine(storage)) {
            Instant t0 = Instant.now().minus(3, ChronoUnit.HOURS).truncatedTo(ChronoUnit.SECONDS);
            Manifest good = backupAt(engine, t0, false);
            Manifest edited = backupAt(engine, t0.plus(1, ChronoUnit.HOURS), false);
            Manifest garbage = backupAt(engine, t0.plus(2, ChronoUnit.HOURS), false);
            String key = "db/backups/" + edited.backupId() + "/manifest.json";
            storage.overwriteForTest(key, new String(storage.contentOf(key).orElseThrow(), StandardCharsets.UTF_8)
                    .replace("\"timed\"", "\"tamed\"").getBytes(StandardCharsets.UTF_8));
            storage.overwriteForTest("db/backups/" + garbage.backupId() + "/manifest.json",
                    "{ not json".getBytes(StandardCharsets.UTF_8));

            // (the three may share a second: a damaged manifest's full start time is unknown, so no order is asserted)
            assertThat(engine.listAll("db")).extracting(ListedBackup::backupId)
                    .containsExactlyInAnyOrder(good.backupId(), edited.backupId(), garbage.backupId());
            assertThat(engine.list("db")).extracting(Manifest::backupId).containsExactly(good.backupId());
            ListedBackup ed = listed(engine, edited);
            assertThat(ed.condition()).isEqualTo(BackupCondition.DAMAGED);
            assertThat(ed.manifest()).isNull();
            assertThat(ed.reason()).contains("manifest.json", "was edited");
            ListedBackup g = listed(engine, garbage);
            assertThat(g.condition()).isEqualTo(BackupCondition.DAMAGED);
            assertThat(g.reason()).contains("not a readable manifest");
            assertThat(listed(engine, good).condition()).isEqualTo(BackupCondition.OK);

            assertThat(engine.rpo("db", Optional.empty(), Duration.ofDays(1)).latestPoint()).isEqualTo(t0);
            RetentionPolicy lastOne = RetentionPolicy.builder().daily(0).weekly(0).monthly(0).last(1).build();
            PrunePlan plan = engine.prune("db", lastOne, Duration.ZERO);
            assertThat(plan.deletions()).isEmpty();
            assertThat(plan.backups()).filteredOn(e -> e.condition() == BackupCondition.DAMAGED).hasSize(2)
                    .allSatisfy(e -> assertThat(e.reasons()).singleElement().asString()
                            .startsWith("damaged, never deleted by prune"));
            assertThat(plan.debris()).isEmpty();
            assertThat(engine.listAll("db")).hasSize(3);
            assertThat(engine.restore(source, "latest", RestoreOptions.intoDirectory(Path.of("x"))).backupId())
                    .isEqualTo(good.backupId());
        }
    }

    @Test
    void aPassingCheckAfterAFailedOneClearsKnownBad() throws Exception {
        InMemoryStorageTarget storage = new InMemoryStorageTarget();
        try (BackupEngine engine = engine(storage)) {
            Manifest m = backupAt(engine, Instant.now().minusSeconds(60), false);
            String key = "db/backups/" + m.backupId() + "/data";
            byte[] original = storage.contentOf(key).orElseThrow();
            damageArtifact(storage, m);
            assertThat(engine.verify("db", "latest").ok()).isFalse();
            assertThat(listed(engine, m).condition()).isEqualTo(BackupCondition.KNOWN_BAD);
            assertThatThrownBy(() -> engine.restore(source, "latest", RestoreOptions.intoDirectory(Path.of("x"))))
                    .isInstanceOf(IntegrityException.class).hasMessageContaining("no recoverable backup");
            Thread.sleep(5); // check records are named by millisecond
            storage.overwriteForTest(key, original); // put back from another copy
            assertThat(engine.verify("db", "latest").ok()).isTrue();
            assertThat(listed(engine, m).condition()).isEqualTo(BackupCondition.OK);
            assertThat(listed(engine, m).verified()).isTrue();
        }
    }
}
