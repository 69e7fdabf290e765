package com.aiplatform.backup.core;

import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.ConsistentPoint;
import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.api.SegmentEntry;
import com.aiplatform.backup.spi.ArchiveControl;
import com.aiplatform.backup.spi.ArchiverSession;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.ArtifactSource;
import com.aiplatform.backup.spi.BackupContext;
import com.aiplatform.backup.spi.BackupProvider;
import com.aiplatform.backup.spi.BackupSession;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.RestoreSession;
import com.aiplatform.backup.spi.SegmentSink;
import com.aiplatform.backup.spi.SegmentSpec;
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
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The engine's continuous archive: segments, partial flushes superseded, resume, verified reads on restore. */
class ContinuousArchiveTest {
    @RegisterExtension
    final InMemoryStorageExtension storage = new InMemoryStorageExtension();

    record LogConfig(String name) implements SourceConfig { }

    /** A source whose "log" is numbered text segments; its archiver writes a partial then the complete segment. */
    static final class LogProvider implements BackupProvider<LogConfig> {
        final Map<String, String> restoredSegments = new ConcurrentHashMap<>();
        final CountDownLatch archived = new CountDownLatch(1);
        volatile List<SegmentEntry> seenAtStart;

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
            return new LogConfig(name);
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
                    try (OutputStream out = sink.openArtifact("base")) {
                        out.write("base".getBytes(StandardCharsets.UTF_8));
                    }
                    return new BackupResult(BackupKind.FULL, "base", new ConsistentPoint("0", Instant.now()), null,
                            Map.of(), Map.of());
                }

                @Override
                public void close() {
                }
            };
        }

        @Override
        public RestoreSession openRestore(LogConfig config, RestoreOptions options) {
            return new RestoreSession() {
                @Override
                public void restore(ArtifactSource source) throws IOException {
                    for (SegmentEntry s : source.segments()) {
                        try (InputStream in = source.openSegment(s)) {
                            restoredSegments.put(s.name(), new String(in.readAllBytes(), StandardCharsets.UTF_8));
                        }
                    }
                }

                @Override
                public void close() {
                }
            };
        }

        @Override
        public boolean supportsArchiving() {
            return true;
        }

        @Override
        public ArchiverSession openArchiver(LogConfig config) {
            return new ArchiverSession() {
                @Override
                public void run(SegmentSink sink, ArchiveControl control) throws IOException {
                    seenAtStart = sink.stored();
                    int next = seenAtStart.stream().filter(s -> !s.partial()).mapToInt(s -> Integer.parseInt(s.name()))
                            .max().orElse(0) + 1;
                    write(sink, next, true, "seg" + next + "-part");
                    write(sink, next, false, "seg" + next + "-complete");
                    write(sink, next + 1, true, "seg" + (next + 1) + "-part");
                    control.reportPosition(Integer.toString(next + 1), 0);
                    archived.countDown();
                    try {
                        control.awaitStop(Duration.ofMinutes(1));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    write(sink, next + 1, true, "seg" + (next + 1) + "-final-flush");
                }

                @Override
                public void close() {
                }
            };
        }

        private static void write(SegmentSink sink, int n, boolean partial, String text) throws IOException {
            String name = String.format("%08d", n);
            try (OutputStream out = sink.openSegment(new SegmentSpec(name, partial, n + ".0", n + ".9",
                    Instant.now()))) {
                out.write(text.getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    @Test
    void archiveStoresSegmentsSupersedesPartialsAndResumes() throws Exception {
        InMemoryStorageTarget target = storage.target();
        LogProvider provider = new LogProvider();
        try (BackupEngine engine = BackupEngine.builder().storage(target).provider(provider)
                .encryption(EncryptionKeys.of(EncryptionKeys.newKeyset(), "test")).build()) {
            BackupEngine.Archiver archiver = engine.startArchiver(new LogConfig("log"));
            assertThat(provider.archived.await(30, TimeUnit.SECONDS)).isTrue();
            archiver.stop();
            assertThat(archiver.status().running()).isFalse();
            assertThat(archiver.status().failure()).isNull();
            assertThat(archiver.status().coveredUntil()).isNotNull();

            List<SegmentEntry> segments = engine.segments("log");
            assertThat(segments).extracting(SegmentEntry::name, SegmentEntry::partial)
                    .containsExactly(org.assertj.core.groups.Tuple.tuple("00000001", false),
                            org.assertj.core.groups.Tuple.tuple("00000002", true));
            assertThat(target.keys().stream().filter(k -> k.contains(".partial-") && !k.endsWith(".json")))
                    .as("only the newest partial flush is kept").hasSize(1);

            // a restarted archiver sees what is stored and resumes after it
            LogProvider second = new LogProvider();
            try (BackupEngine again = BackupEngine.builder().storage(target).provider(second)
                    .encryption(EncryptionKeys.of(EncryptionKeys.newKeyset(), "other")).build()) {
                // different key: the archive still lists (records are not encrypted)
                assertThat(again.segments("log")).hasSize(2);
            }

            engine.backup(new LogConfig("log"));
            engine.restore(new LogConfig("log"), "latest", RestoreOptions.intoDirectory(Path.of("unused")));
            assertThat(provider.restoredSegments).containsEntry("00000001", "seg1-complete")
                    .containsEntry("00000002", "seg2-final-flush");
        }
    }

    @Test
    void segmentsAreWrittenWithTheSourcesOwnCodec() throws Exception {
        InMemoryStorageTarget target = storage.target();
        LogProvider provider = new LogProvider();
        try (BackupEngine engine = BackupEngine.builder().storage(target).provider(provider)
                .compression("log", Compression.LZ4).build()) {
            BackupEngine.Archiver archiver = engine.startArchiver(new LogConfig("log"));
            assertThat(provider.archived.await(30, TimeUnit.SECONDS)).isTrue();
            archiver.stop();
            assertThat(engine.segments("log")).isNotEmpty().extracting(SegmentEntry::compression)
                    .containsOnly(Compression.LZ4.id());
        }
    }

    @Test
    void tamperedSegmentIsRefusedWhenRead() throws Exception {
        InMemoryStorageTarget target = storage.target();
        LogProvider provider = new LogProvider();
        try (BackupEngine engine = BackupEngine.builder().storage(target).provider(provider).build()) {
            BackupEngine.Archiver archiver = engine.startArchiver(new LogConfig("log"));
            assertThat(provider.archived.await(30, TimeUnit.SECONDS)).isTrue();
            archiver.stop();
            engine.backup(new LogConfig("log"));
            SegmentEntry first = engine.segments("log").get(0);
            byte[] bytes = target.contentOf(first.storageKey()).orElseThrow();
            bytes[bytes.length / 2] ^= 1;
            target.overwriteForTest(first.storageKey(), bytes);
            assertThatThrownBy(() -> engine.restore(new LogConfig("log"), "latest",
                    RestoreOptions.intoDirectory(Path.of("unused"))))
                    .isInstanceOf(IntegrityException.class).hasMessageContaining(first.name());
        }
    }

    @Test
    void editedSegmentRecordIsLeftOut() throws Exception {
        InMemoryStorageTarget target = storage.target();
        LogProvider provider = new LogProvider();
        try (BackupEngine engine = BackupEngine.builder().storage(target).provider(provider).build()) {
            BackupEngine.Archiver archiver = engine.startArchiver(new LogConfig("log"));
            assertThat(provider.archived.await(30, TimeUnit.SECONDS)).isTrue();
            archiver.stop();
            String record = engine.segments("log").get(0).storageKey() + ".json";
            String json = new String(target.contentOf(record).orElseThrow(), StandardCharsets.UTF_8);
            target.overwriteForTest(record, json.replace("\"endPosition\":\"1.9\"", "\"endPosition\":\"1.99\"")
                    .getBytes(StandardCharsets.UTF_8));
            assertThat(json).contains("\"endPosition\":\"1.9\"");
            assertThat(engine.segments("log")).extracting(SegmentEntry::name).doesNotContain("00000001");
        }
    }

    @Test
    void providersWithoutArchiverAreRefused() throws Exception {
        try (BackupEngine engine = BackupEngine.builder().storage(storage.target()).build()) {
            assertThatThrownBy(() -> engine.startArchiver(new DirectoryConfig("cfg", Path.of("/tmp"))))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no continuous archiver");
        }
    }
}
