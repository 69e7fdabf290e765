package com.aiplatform.backup.core;

import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** 100 MB and more round trip byte for byte through every codec and cipher, on real files. */
class LargeRoundTripIT {
    private static final long SIZE = 100_000_000L + 12_345;

    @TempDir
    Path tmp;

    static Stream<org.junit.jupiter.params.provider.Arguments> combinations() {
        return RoundTripTest.combinations();
    }

    @ParameterizedTest(name = "{0} encrypted={1}")
    @MethodSource("combinations")
    void hundredMegabytesComeBackByteForByte(Compression compression, boolean encrypted) throws Exception {
        GeneratedProvider provider = new GeneratedProvider();
        GeneratedProvider.Config config = new GeneratedProvider.Config("large", List.of(
                new GeneratedProvider.Artifact("dump.sql", SIZE, 11, false),
                new GeneratedProvider.Artifact("vectors.bin", 8_000_001, 12, true)));
        BackupEngine.Builder builder = BackupEngine.builder().provider(provider).compression(compression)
                .storage(new FileSystemStorageTarget("local", tmp.resolve("storage"), true));
        if (encrypted) {
            builder.encryption(EncryptionKeys.of(EncryptionKeys.newKeyset(), "test keyset"));
        }
        try (BackupEngine engine = builder.build()) {
            Manifest m = engine.backup(config);
            assertThat(m.rawBytes()).isEqualTo(SIZE + 8_000_001);
            engine.restore(config, m.backupId().value(), RestoreOptions.intoDirectory(tmp.resolve("unused")));
            assertThat(provider.restored.get("dump.sql")).isEqualTo(m.metadata().get("sha256:dump.sql"))
                    .isEqualTo(TestData.sha256(11, SIZE, false));
            assertThat(provider.restored.get("vectors.bin")).isEqualTo(m.metadata().get("sha256:vectors.bin"));
        }
    }
}
