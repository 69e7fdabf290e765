package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.ConsistentPoint;
import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.BackupContext;
import com.aiplatform.backup.spi.BackupProvider;
import com.aiplatform.backup.spi.BackupSession;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.RestoreSession;
import com.aiplatform.backup.spi.Settings;
import com.aiplatform.backup.spi.SourceConfig;
import com.aiplatform.backup.spi.StorageObjectExistsException;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import com.aiplatform.backup.testkit.InMemoryStorageTarget;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code backupctl list --json} streams: a child JVM with a 32 MiB heap lists 10,000 committed
 * backups of one source (it ran out of memory holding every manifest and the whole JSON).
 */
class ListJsonMemoryIT {
    private static final int BACKUPS = 10_000;

    @TempDir
    Path tmp;

    /** A source that stores one tiny artifact per backup. */
    record Tiny(String name) implements SourceConfig { }

    static final class TinyProvider implements BackupProvider<Tiny> {
        @Override
        public String engine() {
            return "tiny";
        }

        @Override
        public Class<Tiny> configType() {
            return Tiny.class;
        }

        @Override
        public Tiny parseConfig(String name, Settings settings) {
            throw new UnsupportedOperationException();
        }

        @Override
        public List<Problem> check(Tiny config) {
            return List.of();
        }

        @Override
        public BackupSession openBackup(Tiny config, BackupContext context) {
            return new BackupSession() {
                @Override
                public BackupResult run(ArtifactSink sink) throws IOException {
                    try (OutputStream out = sink.openArtifact("data")) {
                        out.write(context.backupId().value().getBytes(StandardCharsets.UTF_8));
                    }
                    // metadata as a real provider records it, so each manifest is not trivially small
                    return new BackupResult(BackupKind.FULL, "tiny", new ConsistentPoint("t", Instant.now()), null,
                            Map.of("host", "db-1.example.internal", "version", "16.4", "note", "x".repeat(200)),
                            Map.of("files", 1L, "bytes", 23L));
                }

                @Override
                public void close() {
                }
            };
        }

        @Override
        public RestoreSession openRestore(Tiny config, RestoreOptions options) {
            throw new UnsupportedOperationException();
        }
    }

    @Test
    void listJsonOfTenThousandBackupsRunsIn32MiB() throws Exception {
        Path storage = tmp.resolve("backups");
        Files.createDirectories(storage);
        // real backups through the engine, into memory (a filesystem target syncs every object and
        // every lock: ~40 ms a backup), then laid out on disk as the filesystem target stores keys
        long t0 = System.nanoTime();
        InMemoryStorageTarget memory = new InMemoryStorageTarget("local");
        try (BackupEngine engine = BackupEngine.builder().storage(memory).provider(new TinyProvider())
                .discoverProviders(false).compression(Compression.NONE).build()) {
            int made = 0;
            while (made < BACKUPS) {
                try {
                    engine.backup(new Tiny("many"));
                    made++;
                } catch (StorageObjectExistsException e) {
                    // a thousand backups a second can draw the same random id suffix twice; take another
                }
            }
        }
        for (String key : memory.keys()) {
            Path file = storage.resolve(key);
            Files.createDirectories(file.getParent());
            Files.write(file, memory.contentOf(key).orElseThrow());
        }
        System.out.printf("made %d backups in %d s%n", BACKUPS,
                TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0));
        try (FileSystemStorageTarget target = new FileSystemStorageTarget("local", storage);
             BackupEngine engine = BackupEngine.builder().storage(target).discoverProviders(false).build()) {
            assertThat(engine.list("many")).as("readable through the filesystem target").hasSize(BACKUPS);
        }
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        Path config = Files.writeString(tmp.resolve("backup.yaml"), """
                storage:
                  - { name: local, type: filesystem, path: %s }
                sources:
                  - { name: other, type: directory, path: %s }
                """.formatted(storage, empty));

        Path out = tmp.resolve("list.json");
        Path err = tmp.resolve("list.err");
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx32m", "-XX:+ExitOnOutOfMemoryError",
                "-cp", System.getProperty("java.class.path"),
                BackupCtl.class.getName(), "--config", config.toString(), "list", "--json"));
        Process child = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertThat(child.waitFor(10, TimeUnit.MINUTES)).as("list finished").isTrue();
        // -XX:+ExitOnOutOfMemoryError makes an out-of-memory list exit with 3
        assertThat(child.exitValue()).as("exit code of list --json at -Xmx32m; stderr: " + Files.readString(err)).isZero();

        // every backup, complete, in order, each a whole manifest marked ok
        int count = 0;
        String previous = "";
        try (JsonParser parser = Json.MAPPER.createParser(out.toFile())) {
            assertThat(parser.nextToken()).isEqualTo(JsonToken.START_ARRAY);
            while (parser.nextToken() == JsonToken.START_OBJECT) {
                JsonNode m = Json.MAPPER.readTree(parser);
                assertThat(m.get("source").asText()).isEqualTo("many");
                assertThat(m.get("condition").asText()).isEqualTo("ok");
                assertThat(m.get("artifacts")).hasSize(1);
                String second = m.get("backupId").asText().substring(0, 16); // ids sort by their second
                assertThat(second).isGreaterThanOrEqualTo(previous);
                previous = second;
                count++;
            }
        }
        assertThat(count).isEqualTo(BACKUPS);
    }
}
