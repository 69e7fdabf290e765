package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.core.DirectoryConfig;
import com.aiplatform.backup.core.EncryptionKeys;
import com.aiplatform.backup.spi.StorageTarget;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConfigLoaderTest {
    @TempDir
    Path tmp;

    Path storage;
    Path data;
    Path keyset;

    @BeforeEach
    void setUp() throws IOException {
        storage = tmp.resolve("storage");
        data = Files.createDirectories(tmp.resolve("etc-kafka"));
        keyset = tmp.resolve("keyset.json");
        EncryptionKeys.generateKeysetFile(keyset);
    }

    @Test
    void loadsAGoodYamlConfig() throws IOException {
        Path file = write("backup.yaml", """
                storage:
                  - { name: local, type: filesystem, path: %s }
                  - { name: second, type: filesystem, path: %s }
                compression: lz4
                encryption:
                  keyset-file: %s
                sources:
                  - { name: kafka-config, type: directory, path: %s }
                """.formatted(storage, tmp.resolve("storage2"), keyset, data));
        try (LoadedConfig config = new ConfigLoader().load(file)) {
            assertThat(config.storage()).containsOnlyKeys("local", "second");
            assertThat(config.storageTarget(null).name()).isEqualTo("local");
            assertThat(config.storageTarget("second").name()).isEqualTo("second");
            assertThat(config.compression()).isEqualTo(Compression.LZ4);
            assertThat(config.encryption()).isPresent();
            assertThat(config.sources()).containsOnlyKeys("kafka-config");
            assertThat(config.source("kafka-config")).isEqualTo(new DirectoryConfig("kafka-config", data));
            assertThat(config.sourceEngines()).containsEntry("kafka-config", "directory");
            assertThatThrownBy(() -> config.storageTarget("offline"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--storage 'offline'")
                    .hasMessageContaining("local, second");
            assertThatThrownBy(() -> config.source("postgres"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("source 'postgres'");
        }
        assertThat(storage).as("loading creates no storage folder").doesNotExist();
    }

    @Test
    void loadsAGoodJsonConfigWithoutEncryption() throws IOException {
        Path file = write("backup.json", """
                {
                  "storage": [ { "name": "local", "type": "filesystem", "path": "%s" } ],
                  "sources": [ { "name": "kafka-config", "type": "directory", "path": "%s" } ]
                }
                """.formatted(storage, data));
        try (LoadedConfig config = new ConfigLoader().load(file)) {
            assertThat(config.compression()).isEqualTo(Compression.ZSTD);
            assertThat(config.encryption()).isEmpty();
            assertThat(config.source("kafka-config")).isEqualTo(new DirectoryConfig("kafka-config", data));
        }
    }

    @Test
    void rejectsAnUnknownTopLevelKey() throws IOException {
        assertRejected("""
                storage:
                  - { name: local, type: filesystem, path: %s }
                schedule: { daily: "02:00" }
                """.formatted(storage), "unknown top-level field 'schedule'",
                "allowed: compression, encryption, lock-lease, retention, sources, storage");
    }

    @Test
    void rejectsAnUnknownSourceTypeListingTheKnownOnes() throws IOException {
        assertRejected(withStorage("""
                sources:
                  - { name: main-db, type: mysql, url: "jdbc:mysql://db" }
                """), "sources[main-db].type", "'mysql'", "known types:", "directory");
    }

    @Test
    void rejectsAMissingSourceField() throws IOException {
        assertRejected(withStorage("""
                sources:
                  - { name: kafka-config, type: directory }
                """), "sources[kafka-config].path");
    }

    @Test
    void rejectsAMissingSourceType() throws IOException {
        assertRejected(withStorage("""
                sources:
                  - { name: kafka-config, path: /etc/kafka }
                """), "sources[kafka-config].type");
    }

    @Test
    void rejectsAnUnknownSourceField() throws IOException {
        assertRejected(withStorage("""
                sources:
                  - { name: kafka-config, type: directory, path: /etc/kafka, exclude: "*.log" }
                """), "sources[kafka-config].exclude");
    }

    @Test
    void rejectsDuplicateSourceNames() throws IOException {
        assertRejected(withStorage("""
                sources:
                  - { name: kafka-config, type: directory, path: /etc/kafka }
                  - { name: kafka-config, type: directory, path: /etc/zookeeper }
                """), "duplicate source name 'kafka-config'", "sources[1].name");
    }

    @Test
    void rejectsInvalidNames() throws IOException {
        assertRejected(withStorage("""
                sources:
                  - { name: Kafka Config, type: directory, path: /etc/kafka }
                """), "sources[0].name", "'Kafka Config'", "[a-z0-9][a-z0-9._-]*");
        assertRejected("""
                storage:
                  - { name: ../up, type: filesystem, path: %s }
                """.formatted(storage), "storage[0].name", "'../up'");
        assertRejected("""
                storage:
                  - { type: filesystem, path: %s }
                """.formatted(storage), "storage[0].name");
    }

    @Test
    void rejectsAMissingKeysetFile() throws IOException {
        assertRejected(withStorage("""
                encryption:
                  keyset-file: %s
                """.formatted(tmp.resolve("no-such-keyset.json"))), "encryption.keyset-file", "does not exist");
    }

    @Test
    void rejectsAnUnreadableKeysetFile() throws IOException {
        Path garbage = write("garbage.json", "{\"primaryKeyId\": 1, \"key\": \"not a key\"}");
        assertRejected(withStorage("""
                encryption:
                  keyset-file: %s
                """.formatted(garbage)), "encryption.keyset-file");
        assertRejected(withStorage("""
                encryption:
                  keyset-file: %s
                """.formatted(tmp)), "encryption.keyset-file");
    }

    @Test
    void rejectsAnUnsetKeysetVariableAndBadEncryptionBlocks() throws IOException {
        assertRejected(withStorage("""
                encryption:
                  keyset-env: BACKUPCTL_TEST_SURELY_UNSET_VARIABLE
                """), "encryption.keyset-env", "BACKUPCTL_TEST_SURELY_UNSET_VARIABLE");
        assertRejected(withStorage("""
                encryption:
                  keyset-file: %s
                  keyset-env: BACKUP_KEYSET
                """.formatted(keyset)), "encryption.keyset-file", "encryption.keyset-env");
        assertRejected(withStorage("""
                encryption:
                  kms: aws
                """), "encryption.kms");
        assertRejected(withStorage("""
                encryption: {}
                """), "encryption.keyset-file");
    }

    @Test
    void rejectsAStoragePathThatIsAFile() throws IOException {
        Path file = Files.writeString(tmp.resolve("a-file"), "not a folder");
        assertRejected("""
                storage:
                  - { name: local, type: filesystem, path: %s }
                """.formatted(file), "storage[local].path");
    }

    @Test
    void aStorageFolderIsNeitherCheckedNorCreatedAtLoad() throws IOException {
        Path file = Files.writeString(tmp.resolve("a-file"), "not a folder");
        Path below = file.resolve("backups"); // can never be created, not even by root
        Path absent = tmp.resolve("unmounted/backups");
        Path yaml = write("two.yaml", """
                storage:
                  - { name: local, type: filesystem, path: %s }
                  - { name: offline, type: filesystem, path: %s }
                """.formatted(absent, below));
        try (LoadedConfig config = new ConfigLoader().load(yaml)) {
            assertThat(config.storageTarget("local").check(StorageTarget.Access.READ))
                    .extracting(p -> p.code()).containsExactly("missing");
            assertThat(config.storageTarget("offline").check(StorageTarget.Access.WRITE))
                    .extracting(p -> p.code()).containsExactly("missing");
        }
        assertThat(tmp.resolve("unmounted")).doesNotExist();
    }

    @Test
    void rejectsAMissingStorage() throws IOException {
        assertRejected("""
                sources:
                  - { name: kafka-config, type: directory, path: /etc/kafka }
                """, "missing required field storage");
        assertRejected("""
                storage: []
                """, "storage must list at least one target");
        assertRejected("""
                storage: /var/backups
                """, "storage must be a list");
    }

    @Test
    void rejectsStorageProblems() throws IOException {
        assertRejected("""
                storage:
                  - { name: remote, type: s3, bucket: backups }
                """, "storage[remote].type", "'s3'", "filesystem");
        assertRejected("""
                storage:
                  - { name: local, type: filesystem }
                """, "storage[local].path");
        assertRejected("""
                storage:
                  - { name: local, type: filesystem, path: %s }
                  - { name: local, type: filesystem, path: %s }
                """.formatted(storage, storage), "duplicate storage name 'local'", "storage[1].name");
    }

    @Test
    void rejectsABadCompression() throws IOException {
        assertRejected(withStorage("""
                compression: brotli
                """), "compression", "'brotli'", "zstd, lz4, gzip, none");
    }

    @Test
    void aSourceMaySetItsOwnCompression() throws IOException {
        Path file = write("per-source.yaml", withStorage("""
                compression: zstd
                sources:
                  - { name: plain, type: directory, path: %s, compression: none }
                  - { name: usual, type: directory, path: %s }
                """.formatted(data, data)));
        try (LoadedConfig config = new ConfigLoader().load(file)) {
            assertThat(config.compression()).isEqualTo(Compression.ZSTD);
            assertThat(config.sourceCompression()).containsExactly(Map.entry("plain", Compression.NONE));
            assertThat(config.source("plain")).as("not passed to the provider").isEqualTo(new DirectoryConfig("plain", data));
        }
        assertRejected(withStorage("""
                sources:
                  - { name: plain, type: directory, path: %s, compression: brotli }
                """.formatted(data)), "sources[plain].compression", "'brotli'", "zstd, lz4, gzip, none");
    }

    @Test
    void rejectsFilesThatAreNotConfigurations() throws IOException {
        assertRejected("", "is empty");
        assertRejected("storage: [ { name: local\n  type: x", "line");
        assertRejected("- just\n- a list\n", "must hold a map");
        assertThatThrownBy(() -> new ConfigLoader().load(tmp.resolve("missing.yaml")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not exist");
    }

    @Test
    void closesOpenedStorageWhenALaterFieldIsBad() throws IOException {
        // the first target is opened before the source fails; the failure must still be the source's
        assertRejected(withStorage("""
                sources:
                  - { name: kafka-config, type: nope, path: /etc/kafka }
                """), "sources[kafka-config].type");
    }

    private String withStorage(String rest) {
        return "storage:\n  - { name: local, type: filesystem, path: " + storage + " }\n" + rest;
    }

    private void assertRejected(String yaml, String... fragments) throws IOException {
        Path file = write("bad-" + System.nanoTime() + ".yaml", yaml);
        var thrown = assertThatThrownBy(() -> new ConfigLoader().load(file).close())
                .isInstanceOf(IllegalArgumentException.class);
        for (String fragment : fragments) {
            thrown.hasMessageContaining(fragment);
        }
    }

    private Path write(String name, String content) throws IOException {
        return Files.writeString(tmp.resolve(name), content);
    }

    @Test
    void kafkaAndPostgresSourcesAreParsedByTheirProviders() throws IOException {
        Path file = Files.writeString(tmp.resolve("engines.yaml"), """
                storage:
                  - { name: local, type: filesystem, path: %s }
                sources:
                  - name: events
                    type: kafka
                    bootstrap-servers: 127.0.0.1:9092
                    topics: [data-ingestion, "audit-.*"]
                    consumer-groups: all
                  - name: main-pg
                    type: postgres
                    url: postgresql://127.0.0.1:5432/ai_platform
                    user: postgres
                    password-env: PGPASSWORD
                    mode: physical
                    wal-flush-interval: 60s
                """.formatted(storage));
        try (LoadedConfig config = new ConfigLoader().load(file)) {
            assertThat(config.sourceEngines()).containsEntry("events", "kafka").containsEntry("main-pg", "postgres");
            assertThat(config.source("main-pg").toString()).doesNotContain("PGPASSWORD=");
        }
        Path bad = Files.writeString(tmp.resolve("bad-kafka.yaml"), """
                storage:
                  - { name: local, type: filesystem, path: %s }
                sources:
                  - { name: events, type: kafka, topics: [a] }
                """.formatted(storage));
        assertThatThrownBy(() -> new ConfigLoader().load(bad)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("sources[events].bootstrap-servers");
    }
}
