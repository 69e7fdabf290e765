package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.VerifyReport;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.core.DirectoryConfig;
import com.aiplatform.backup.core.EncryptionKeys;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's embedding example compiles and works, and the README shows exactly this code; the
 * README's configuration example loads.
 */
class ReadmeExampleTest {
    @TempDir
    Path tmp;

    @Test
    void embeddingExampleRuns() throws Exception {
        Path backupRoot = tmp.resolve("backups");
        Path keysetFile = tmp.resolve("keyset.json");
        EncryptionKeys.generateKeysetFile(keysetFile);
        Path kafkaConfigDir = tmp.resolve("etc-kafka");
        Files.createDirectories(kafkaConfigDir);
        Files.writeString(kafkaConfigDir.resolve("server.properties"), "broker.id=1\n");
        Path restoreDir = tmp.resolve("restored");

        // README example begins
        // true: the first backup creates a missing folder; false: it must exist (an unmounted disk fails)
        try (FileSystemStorageTarget storage = new FileSystemStorageTarget("local", backupRoot, true);
             BackupEngine engine = BackupEngine.builder()
                     .storage(storage)
                     .encryption(EncryptionKeys.keysetFile(keysetFile))
                     .build()) {
            DirectoryConfig kafkaConfig = new DirectoryConfig("kafka-config", kafkaConfigDir);
            Manifest backup = engine.backup(kafkaConfig);
            VerifyReport report = engine.verify("kafka-config", backup.backupId().value());
            if (!report.ok()) {
                throw new IllegalStateException("backup damaged: " + report.failures());
            }
            engine.restore(kafkaConfig, "latest", RestoreOptions.intoDirectory(restoreDir));
        }
        // README example ends

        assertThat(Files.readString(restoreDir.resolve("server.properties"))).isEqualTo("broker.id=1\n");
    }

    @Test
    void readmeShowsThisTestsCode() throws Exception {
        String readme = Files.readString(Path.of("..", "README.md"));
        Matcher block = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        assertThat(block.find()).as("README has a java example").isTrue();
        String source = Files.readString(Path.of("src/test/java/com/aiplatform/backup/cli/ReadmeExampleTest.java"));
        String example = source.substring(source.indexOf("// README example begins") + 24,
                source.indexOf("// README example ends"));
        assertThat(normalise(block.group(1))).isEqualTo(normalise(example));
    }

    @Test
    void readmesConfigurationLoads() throws Exception {
        String readme = Files.readString(Path.of("..", "README.md"));
        Matcher block = Pattern.compile("```yaml\n# backup.yaml\n(.*?)```", Pattern.DOTALL).matcher(readme);
        assertThat(block.find()).as("README has the backup.yaml example").isTrue();
        Path keysetFile = tmp.resolve("keyset.json");
        EncryptionKeys.generateKeysetFile(keysetFile);
        // only the machine-specific paths change; every field and value is the README's own
        String yaml = block.group(1)
                .replace("/var/backups/platform", tmp.resolve("backups").toString())
                .replace("/etc/backup/keyset.json", keysetFile.toString())
                .replace("/etc/kafka", Files.createDirectories(tmp.resolve("etc-kafka")).toString());
        Path file = Files.writeString(tmp.resolve("backup.yaml"), yaml);
        try (LoadedConfig config = new ConfigLoader().load(file)) {
            assertThat(config.sources()).containsOnlyKeys("kafka-config", "main-pg", "events");
            assertThat(config.sourceEngines()).containsEntry("kafka-config", "directory")
                    .containsEntry("main-pg", "postgres").containsEntry("events", "kafka");
            assertThat(config.compression()).isEqualTo(Compression.ZSTD);
            assertThat(config.sourceCompression())
                    .containsExactly(Map.entry("events", Compression.NONE));
            assertThat(config.encryption()).isPresent();
            assertThat(config.rpoTargets()).containsEntry("main-pg", Duration.ofMinutes(15));
        }
    }

    private static String normalise(String code) {
        return code.replaceAll("\\s+", " ").trim();
    }
}
