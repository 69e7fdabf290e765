package com.aiplatform.backup.cli;

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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** The README's embedding example compiles and works, and the README shows exactly this code. */
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
        try (FileSystemStorageTarget storage = new FileSystemStorageTarget("local", backupRoot);
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

    private static String normalise(String code) {
        return code.replaceAll("\\s+", " ").trim();
    }
}
