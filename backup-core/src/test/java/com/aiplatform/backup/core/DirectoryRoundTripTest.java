package com.aiplatform.backup.core;

import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The built-in directory provider end to end on a real filesystem target. */
class DirectoryRoundTripTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @EnumSource(Compression.class)
    void treeComesBackIdentical(Compression compression) throws Exception {
        Path source = tmp.resolve("etc-kafka");
        TreeSnapshot.createSample(source);
        Map<String, String> before = TreeSnapshot.of(source);
        try (var storage = new FileSystemStorageTarget("local", tmp.resolve("storage"), true);
             BackupEngine engine = BackupEngine.builder().storage(storage).compression(compression)
                     .encryption(EncryptionKeys.of(EncryptionKeys.newKeyset(), "test keyset")).build()) {
            DirectoryConfig config = new DirectoryConfig("kafka-config", source);
            Manifest manifest = engine.backup(config);
            assertThat(manifest.contentSummary()).containsEntry("files", 8L).containsEntry("symlinks", 3L);

            Path restored = tmp.resolve("restored/kafka");
            engine.restore(config, "latest", RestoreOptions.intoDirectory(restored));
            assertThat(TreeSnapshot.of(restored)).isEqualTo(before);
            assertThat(before).containsKeys("empty-dir", "conf/empty.txt", "conf-link");
        }
    }

    @Test
    void aSourcesOwnCodecWinsOverTheEnginesAndRestoresReadBoth() throws Exception {
        Path source = tmp.resolve("src");
        TreeSnapshot.createSample(source);
        Map<String, String> before = TreeSnapshot.of(source);
        try (var storage = new FileSystemStorageTarget("local", tmp.resolve("storage"), true);
             BackupEngine engine = BackupEngine.builder().storage(storage).compression(Compression.ZSTD)
                     .compression("plain", Compression.NONE).compression("fast", Compression.LZ4).build()) {
            for (String name : new String[] {"plain", "fast", "default"}) {
                Manifest manifest = engine.backup(new DirectoryConfig(name, source));
                String expected = Map.of("plain", "none", "fast", "lz4", "default", "zstd").get(name);
                assertThat(manifest.artifacts()).as(name).isNotEmpty()
                        .allSatisfy(a -> assertThat(a.compression()).as(a.name()).isEqualTo(expected));
                if (name.equals("plain")) {
                    assertThat(manifest.storedBytes()).as("stored as it is").isEqualTo(manifest.rawBytes());
                }
                Path restored = tmp.resolve("restored-" + name);
                engine.restore(new DirectoryConfig(name, source), "latest", RestoreOptions.intoDirectory(restored));
                assertThat(TreeSnapshot.of(restored)).as(name).isEqualTo(before);
            }
        }
        assertThatThrownBy(() -> BackupEngine.builder().compression("Not A Name", Compression.NONE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Not A Name");
    }

    @Test
    void refusesNonEmptyTargetUnlessOverwriteAllowed() throws Exception {
        Path source = tmp.resolve("src");
        TreeSnapshot.createSample(source);
        Path target = tmp.resolve("target");
        Files.createDirectories(target);
        Files.writeString(target.resolve("keep-me.txt"), "precious");
        try (var storage = new FileSystemStorageTarget("local", tmp.resolve("storage"), true);
             BackupEngine engine = BackupEngine.builder().storage(storage).build()) {
            DirectoryConfig config = new DirectoryConfig("cfg", source);
            engine.backup(config);
            assertThatThrownBy(() -> engine.restore(config, "latest", RestoreOptions.intoDirectory(target)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not empty");
            assertThat(Files.readString(target.resolve("keep-me.txt"))).isEqualTo("precious");

            engine.restore(config, "latest", RestoreOptions.intoDirectory(target).withOverwrite(true));
            assertThat(Files.readString(target.resolve("conf/server.properties"))).startsWith("broker.id=1");
            assertThat(target.resolve("keep-me.txt")).exists();
        }
    }

    @Test
    void missingSourceDirectoryIsReportedBeforeAnythingIsWritten() throws Exception {
        try (var storage = new FileSystemStorageTarget("local", tmp.resolve("storage"), true);
             BackupEngine engine = BackupEngine.builder().storage(storage).build()) {
            DirectoryConfig config = new DirectoryConfig("cfg", tmp.resolve("does-not-exist"));
            assertThatThrownBy(() -> engine.backup(config))
                    .isInstanceOf(com.aiplatform.backup.api.SourceException.class)
                    .hasMessageContaining("does-not-exist").hasMessageContaining("does not exist");
            assertThat(storage.list("")).isEmpty();
        }
    }

    @Test
    void onePassRestoreGivesTheSameTreeAndStillRefusesDamage() throws Exception {
        Path source = tmp.resolve("src");
        TreeSnapshot.createSample(source);
        Path storageDir = tmp.resolve("storage");
        try (var storage = new FileSystemStorageTarget("local", storageDir, true);
             BackupEngine engine = BackupEngine.builder().storage(storage)
                     .encryption(EncryptionKeys.of(EncryptionKeys.newKeyset(), "test keyset")).build()) {
            DirectoryConfig config = new DirectoryConfig("cfg", source);
            Manifest manifest = engine.backup(config);
            Path restored = tmp.resolve("one-pass");
            engine.restore(config, "latest", new RestoreOptions(java.util.Optional.of(restored), false,
                    Map.of(BackupEngine.ONE_PASS, "true")));
            assertThat(TreeSnapshot.of(restored)).isEqualTo(TreeSnapshot.of(source));

            Path tar = storageDir.resolve("cfg/backups/" + manifest.backupId() + "/tree.tar");
            byte[] bytes = Files.readAllBytes(tar);
            bytes[bytes.length / 2] ^= 1;
            Files.write(tar, bytes);
            Path damaged = tmp.resolve("damaged");
            assertThatThrownBy(() -> engine.restore(config, "latest", new RestoreOptions(java.util.Optional.of(damaged),
                    false, Map.of(BackupEngine.ONE_PASS, "true"))))
                    .isInstanceOf(com.aiplatform.backup.api.IntegrityException.class).hasMessageContaining("tree.tar");
            assertThat(damaged).doesNotExist();
        }
    }
}
