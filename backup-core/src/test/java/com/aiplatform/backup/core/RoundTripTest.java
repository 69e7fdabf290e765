package com.aiplatform.backup.core;

import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.testkit.InMemoryStorageExtension;
import com.aiplatform.backup.testkit.InMemoryStorageTarget;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Byte-exact round trips for every codec and cipher, at sizes around every buffer boundary. */
class RoundTripTest {
    @RegisterExtension
    final InMemoryStorageExtension storage = new InMemoryStorageExtension();

    /** Sizes around the 64 KiB copy buffers, the 1 MiB hand-off chunks and Tink's 1 MiB segments. */
    static final long[] SIZES = {0, 1, 2, 65_535, 65_536, 65_537, ArtifactWriter.CHUNK - 1, ArtifactWriter.CHUNK,
        ArtifactWriter.CHUNK + 1, (1 << 20) - 40, (1 << 20) - 16, 3L * ArtifactWriter.CHUNK + 7};

    static Stream<Arguments> combinations() {
        List<Arguments> args = new ArrayList<>();
        for (Compression c : Compression.values()) {
            for (boolean encrypted : new boolean[] {false, true}) {
                args.add(Arguments.of(c, encrypted));
            }
        }
        return args.stream();
    }

    @ParameterizedTest(name = "{0} encrypted={1}")
    @MethodSource("combinations")
    void everySizeComesBackByteForByte(Compression compression, boolean encrypted) throws Exception {
        InMemoryStorageTarget target = storage.target();
        GeneratedProvider provider = new GeneratedProvider();
        List<GeneratedProvider.Artifact> artifacts = new ArrayList<>();
        for (int i = 0; i < SIZES.length; i++) {
            artifacts.add(new GeneratedProvider.Artifact("text-" + SIZES[i], SIZES[i], i, false));
            artifacts.add(new GeneratedProvider.Artifact("random/" + SIZES[i], SIZES[i], 100 + i, true));
        }
        GeneratedProvider.Config config = new GeneratedProvider.Config("gen", artifacts);
        BackupEngine.Builder builder = BackupEngine.builder().storage(target).compression(compression)
                .provider(provider);
        if (encrypted) {
            builder.encryption(EncryptionKeys.of(EncryptionKeys.newKeyset(), "test keyset"));
        }
        try (BackupEngine engine = builder.build()) {
            Manifest manifest = engine.backup(config);
            assertThat(manifest.artifacts()).hasSize(artifacts.size());
            for (var entry : manifest.artifacts()) {
                assertThat(entry.compression()).isEqualTo(compression.id());
                assertThat(entry.cipher()).isEqualTo(encrypted ? "tink-streaming-aead" : "none");
                assertThat(entry.keyId() != null).isEqualTo(encrypted);
            }
            assertThat(engine.verify("gen", "latest").ok()).isTrue();

            engine.restore(config, "latest", RestoreOptions.intoDirectory(java.nio.file.Path.of("unused")));
            for (GeneratedProvider.Artifact a : artifacts) {
                assertThat(provider.restored.get(a.name()))
                        .as("restored %s", a.name())
                        .isEqualTo(TestData.sha256(a.seed(), a.size(), a.random()));
            }
        }
    }
}
