package com.aiplatform.backup.core;

import com.aiplatform.backup.api.BackupId;
import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.api.ConsistentPoint;
import com.aiplatform.backup.api.DrillReport;
import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.api.RestoreReport;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.ArtifactSource;
import com.aiplatform.backup.spi.BackupContext;
import com.aiplatform.backup.spi.BackupProvider;
import com.aiplatform.backup.spi.BackupSession;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.RestoreSession;
import com.aiplatform.backup.spi.Settings;
import com.aiplatform.backup.spi.SourceConfig;
import com.aiplatform.backup.testkit.InMemoryStorageExtension;
import com.aiplatform.backup.testkit.InMemoryStorageTarget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * An incremental backup restores with its whole chain, every link verified before the provider
 * sees a byte; a missing or damaged link refuses the restore naming the link.
 */
class ChainRestoreTest {
    @RegisterExtension
    final InMemoryStorageExtension storage = new InMemoryStorageExtension();

    /** The source: a log of lines; an incremental holds the lines added since its parent. */
    record LogConfig(String name, List<String> lines) implements SourceConfig {
    }

    /** A provider with incremental backups whose restore records what it applied, link by link. */
    static final class LogProvider implements BackupProvider<LogConfig> {
        final List<String> applied = new ArrayList<>();
        final List<List<BackupId>> chains = new ArrayList<>();
        final List<Map<String, String>> options = new ArrayList<>();
        final AtomicInteger sessions = new AtomicInteger();

        @Override
        public String engine() {
            return "log";
        }

        @Override
        public Class<LogConfig> configType() {
            return LogConfig.class;
        }

        @Override
        public LogConfig parseConfig(String name, Settings settings) {
            throw new UnsupportedOperationException("test provider");
        }

        @Override
        public List<Problem> check(LogConfig config) {
            return List.of();
        }

        @Override
        public BackupSession openBackup(LogConfig config, BackupContext context) {
            return new BackupSession() {
                @Override
                public BackupResult run(ArtifactSink sink) throws IOException {
                    Optional<Manifest> previous = context.incremental() ? context.previous() : Optional.empty();
                    int from = previous.map(m -> Integer.parseInt(m.metadata().get("lines"))).orElse(0);
                    try (OutputStream out = sink.openArtifact("lines.txt")) {
                        for (String line : config.lines().subList(from, config.lines().size())) {
                            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                        }
                    }
                    return new BackupResult(previous.isPresent() ? BackupKind.INCREMENTAL : BackupKind.FULL, "log",
                            new ConsistentPoint("line " + config.lines().size(), Instant.now()),
                            previous.map(Manifest::backupId).orElse(null),
                            Map.of("lines", Integer.toString(config.lines().size())),
                            Map.of("lines", (long) config.lines().size()));
                }

                @Override
                public void close() {
                }
            };
        }

        @Override
        public RestoreSession openRestore(LogConfig config, RestoreOptions restoreOptions) {
            sessions.incrementAndGet();
            options.add(restoreOptions.options());
            return new RestoreSession() {
                @Override
                public void restore(ArtifactSource source) {
                    throw new AssertionError("the engine calls restoreChain");
                }

                @Override
                public void restoreChain(List<ArtifactSource> chain) throws IOException {
                    chains.add(chain.stream().map(s -> s.manifest().backupId()).toList());
                    for (ArtifactSource link : chain) {
                        try (InputStream in = link.open("lines.txt")) {
                            String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                            text.lines().forEach(applied::add);
                        }
                    }
                }

                @Override
                public void close() {
                }
            };
        }

        @Override
        public Optional<Map<String, Long>> summarizeRestored(LogConfig config, Manifest manifest,
                                                             RestoreOptions scratch) {
            return Optional.of(Map.of("lines", (long) applied.size()));
        }
    }

    private final LogProvider provider = new LogProvider();

    private static LogConfig log(int lines) {
        List<String> l = new ArrayList<>();
        for (int i = 0; i < lines; i++) {
            l.add("line " + i);
        }
        return new LogConfig("log", l);
    }

    private record Chain(Manifest full, Manifest incr1, Manifest incr2) {
    }

    private Chain backups(BackupEngine engine) throws IOException {
        Manifest full = engine.backup(log(3), true);
        Manifest incr1 = engine.backup(log(5), true);
        Manifest incr2 = engine.backup(log(9), true);
        assertThat(full.kind()).isEqualTo(BackupKind.FULL);
        assertThat(incr1.parent()).isEqualTo(full.backupId());
        assertThat(incr2.parent()).isEqualTo(incr1.backupId());
        return new Chain(full, incr1, incr2);
    }

    private static RestoreOptions options(Map<String, String> o) {
        return new RestoreOptions(Optional.empty(), false, o);
    }

    @Test
    void latestIncrementalRestoresTheWholeChainInOneSessionInOrder() throws Exception {
        try (BackupEngine engine = BackupEngine.builder().storage(storage.target()).provider(provider)
                .encryption(EncryptionKeys.of(EncryptionKeys.newKeyset(), "test keyset")).build()) {
            Chain c = backups(engine);
            RestoreReport report = engine.restore(log(9), "latest", options(Map.of("extra", "kept")));

            assertThat(provider.applied).isEqualTo(log(9).lines());
            assertThat(provider.sessions).hasValue(1);
            assertThat(provider.chains).containsExactly(
                    List.of(c.full().backupId(), c.incr1().backupId(), c.incr2().backupId()));
            assertThat(report.backupId()).isEqualTo(c.incr2().backupId());
            assertThat(report.chain()).containsExactly(c.full().backupId(), c.incr1().backupId(),
                    c.incr2().backupId());
            assertThat(provider.options).containsExactly(Map.of("extra", "kept"));

            provider.applied.clear();
            assertThat(engine.restore(log(9), c.incr1().backupId().value(), options(Map.of())).chain())
                    .as("an older incremental: its own chain only")
                    .containsExactly(c.full().backupId(), c.incr1().backupId());
            assertThat(provider.applied).isEqualTo(log(5).lines());

            provider.applied.clear();
            assertThat(engine.restore(log(9), c.full().backupId().value(), options(Map.of())).chain())
                    .containsExactly(c.full().backupId());
            assertThat(provider.applied).isEqualTo(log(3).lines());
        }
    }

    @Test
    void appendChainAppliesOnlyTheIncrementalAskedFor() throws Exception {
        try (BackupEngine engine = BackupEngine.builder().storage(storage.target()).provider(provider).build()) {
            Chain c = backups(engine);
            RestoreReport report = engine.restore(log(9), "latest",
                    options(Map.of(BackupEngine.APPEND_CHAIN, "true")));

            assertThat(report.chain()).containsExactly(c.incr2().backupId());
            assertThat(provider.applied).containsExactly("line 5", "line 6", "line 7", "line 8");
            assertThat(provider.options).as("the engine's option is not the provider's").containsExactly(Map.of());
            assertThatThrownBy(() -> engine.restore(log(9), "latest",
                    options(Map.of(BackupEngine.APPEND_CHAIN, "yes"))))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("append-chain");
        }
    }

    @Test
    void damagedMiddleLinkRefusesTheRestoreBeforeTheProviderSeesAByte() throws Exception {
        InMemoryStorageTarget target = storage.target();
        try (BackupEngine engine = BackupEngine.builder().storage(target).provider(provider).build()) {
            Chain c = backups(engine);
            String key = "log/backups/" + c.incr1().backupId() + "/lines.txt";
            byte[] bytes = target.contentOf(key).orElseThrow();
            bytes[bytes.length / 2] ^= 1;
            target.overwriteForTest(key, bytes);

            assertThatThrownBy(() -> engine.restore(log(9), "latest", options(Map.of())))
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("backup " + c.incr1().backupId())
                    .hasMessageContaining("in the chain of " + c.incr2().backupId())
                    .hasMessageContaining("nothing was restored")
                    .satisfies(e -> assertThat(((IntegrityException) e).artifact()).isEqualTo("lines.txt"));
            assertThat(provider.sessions).as("no restore session opened").hasValue(0);
            assertThat(provider.applied).isEmpty();

            // the failed verify made incr1 known-bad, so "latest" would now pick the full backup: drill incr2 by id
            DrillReport drill = engine.drill(log(9), c.incr2().backupId().value(), options(Map.of()));
            assertThat(drill.passed()).isFalse();
            assertThat(drill.differences()).singleElement().asString().contains(c.incr1().backupId().value());
            assertThat(provider.sessions).hasValue(0);
            target.assertNoOpenStreams();
        }
    }

    @Test
    void missingOrUnreadableLinkIsNamedBeforeAnythingIsRestored() throws Exception {
        InMemoryStorageTarget target = storage.target();
        try (BackupEngine engine = BackupEngine.builder().storage(target).provider(provider).build()) {
            Chain c = backups(engine);
            String manifest = "log/backups/" + c.full().backupId() + "/manifest.json";
            byte[] json = target.contentOf(manifest).orElseThrow();
            target.overwriteForTest(manifest, new String(json, StandardCharsets.UTF_8)
                    .replace("\"lines\" : \"3\"", "\"lines\" : \"4\"").getBytes(StandardCharsets.UTF_8));
            // by id: "latest" skips a chain on a damaged full backup (KnownBadTest)
            assertThatThrownBy(() -> engine.restore(log(9), c.incr2().backupId().value(), options(Map.of())))
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("its chain needs backup " + c.full().backupId())
                    .hasMessageContaining("cannot be read");

            target.delete(manifest);
            assertThatThrownBy(() -> engine.restore(log(9), c.incr1().backupId().value(), options(Map.of())))
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("it is an incremental on backup " + c.full().backupId())
                    .hasMessageContaining("missing from storage")
                    .hasMessageContaining("nothing was restored");
            assertThat(provider.sessions).hasValue(0);
            assertThat(provider.applied).isEmpty();
        }
    }

    @Test
    void drillOfAnIncrementalRestoresItsChain() throws Exception {
        try (BackupEngine engine = BackupEngine.builder().storage(storage.target()).provider(provider).build()) {
            backups(engine);
            DrillReport drill = engine.drill(log(9), "latest", options(Map.of()));
            assertThat(drill.differences()).isEmpty();
            assertThat(drill.passed()).isTrue();
            assertThat(provider.applied).isEqualTo(log(9).lines());
        }
    }

    @Test
    void providerWithoutChainSupportRefusesAnIncrementalByDefault() {
        RestoreSession plain = new RestoreSession() {
            @Override
            public void restore(ArtifactSource source) {
                throw new AssertionError("not for an incremental");
            }

            @Override
            public void close() {
            }
        };
        Manifest incr = new Manifest(Manifest.CURRENT_FORMAT, BackupId.generate(Instant.now()), "log", "plain",
                BackupKind.INCREMENTAL, "x", BackupId.generate(Instant.now().minusSeconds(60)), Instant.now(),
                Instant.now(), new ConsistentPoint("x", Instant.now()), List.of(), new java.util.TreeMap<>(),
                new java.util.TreeMap<>());
        ArtifactSource link = new ArtifactSource() {
            @Override
            public Manifest manifest() {
                return incr;
            }

            @Override
            public InputStream open(String name) {
                throw new AssertionError();
            }
        };
        assertThatThrownBy(() -> plain.restoreChain(List.of(link)))
                .isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("cannot restore incremental backups");
    }
}
