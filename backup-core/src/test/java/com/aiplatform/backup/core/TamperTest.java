package com.aiplatform.backup.core;

import com.aiplatform.backup.api.EncryptionKeyException;
import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.VerifyReport;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.testkit.InMemoryStorageExtension;
import com.aiplatform.backup.testkit.InMemoryStorageTarget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Damaged or edited backups are named by verify and refused by restore before any byte reaches the target. */
class TamperTest {
    @RegisterExtension
    final InMemoryStorageExtension storage = new InMemoryStorageExtension();

    private final GeneratedProvider provider = new GeneratedProvider();
    private final KeyProvider key = EncryptionKeys.of(EncryptionKeys.newKeyset(), "test keyset");
    private final GeneratedProvider.Config config = new GeneratedProvider.Config("gen", List.of(
            new GeneratedProvider.Artifact("a.dat", 2_000_000, 1, false),
            new GeneratedProvider.Artifact("b.dat", 300_000, 2, true)));

    private BackupEngine engine(InMemoryStorageTarget target, boolean encrypted) throws Exception {
        BackupEngine.Builder b = BackupEngine.builder().storage(target).provider(provider);
        return (encrypted ? b.encryption(key) : b).build();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"flip-first", "flip-middle", "flip-last", "truncate", "missing", "append"})
    void damagedArtifactIsNamedAndRefused(String damage) throws Exception {
        for (boolean encrypted : new boolean[] {false, true}) {
            InMemoryStorageTarget target = new InMemoryStorageTarget("t-" + encrypted);
            try (BackupEngine engine = engine(target, encrypted)) {
                Manifest m = engine.backup(config);
                String key = "gen/backups/" + m.backupId() + "/b.dat";
                byte[] bytes = target.contentOf(key).orElseThrow();
                switch (damage) {
                    case "flip-first" -> bytes[0] ^= 1;
                    case "flip-middle" -> bytes[bytes.length / 2] ^= 0x40;
                    case "flip-last" -> bytes[bytes.length - 1] ^= (byte) 0x80;
                    case "truncate" -> bytes = Arrays.copyOf(bytes, bytes.length - 1);
                    case "append" -> bytes = Arrays.copyOf(bytes, bytes.length + 1);
                    case "missing" -> target.delete(key);
                    default -> throw new IllegalArgumentException(damage);
                }
                if (!damage.equals("missing")) {
                    target.overwriteForTest(key, bytes);
                }
                VerifyReport report = engine.verify("gen", "latest");
                assertThat(report.ok()).isFalse();
                assertThat(report.failures()).singleElement().satisfies(f -> {
                    assertThat(f.name()).isEqualTo("b.dat");
                    assertThat(f.reason()).containsAnyOf("SHA-256 mismatch", "truncated", "missing", "longer");
                });
                // the failed verify made it known-bad: 'latest' finds nothing to restore ...
                assertThatThrownBy(() -> engine.restore(config, "latest", RestoreOptions.intoDirectory(Path.of("x"))))
                        .isInstanceOf(IntegrityException.class)
                        .hasMessageContaining("no recoverable backup")
                        .hasMessageContaining(m.backupId().value());
                // ... and its id is still verified first and refused
                assertThatThrownBy(() -> engine.restore(config, m.backupId().value(),
                        RestoreOptions.intoDirectory(Path.of("x"))))
                        .isInstanceOf(IntegrityException.class)
                        .hasMessageContaining("b.dat")
                        .hasMessageContaining("nothing was restored")
                        .satisfies(e -> assertThat(((IntegrityException) e).artifact()).isEqualTo("b.dat"));
                assertThat(provider.restoredBytes.get()).as("bytes handed to the target").isZero();
                target.assertNoOpenStreams();
            }
        }
    }

    @Test
    void editedManifestIsNamedAndRefused() throws Exception {
        InMemoryStorageTarget target = storage.target();
        try (BackupEngine engine = engine(target, false)) {
            Manifest m = engine.backup(config);
            String key = "gen/backups/" + m.backupId() + "/manifest.json";
            String json = new String(target.contentOf(key).orElseThrow(), StandardCharsets.UTF_8);
            target.overwriteForTest(key, json.replace("\"generator\" : \"TestData\"", "\"generator\" : \"Edited\"")
                    .getBytes(StandardCharsets.UTF_8));
            assertThat(json).contains("\"generator\" : \"TestData\"");

            VerifyReport report = engine.verify("gen", m.backupId().value());
            assertThat(report.ok()).isFalse();
            assertThat(report.failures()).singleElement().satisfies(f -> {
                assertThat(f.name()).isEqualTo("manifest.json");
                assertThat(f.reason()).contains("was edited");
            });
            assertThatThrownBy(() -> engine.restore(config, "latest", RestoreOptions.intoDirectory(Path.of("x"))))
                    .isInstanceOf(IntegrityException.class).hasMessageContaining("manifest.json");
            assertThat(provider.restoredBytes.get()).isZero();
            assertThat(engine.list("gen")).as("an edited manifest is left out of the list").isEmpty();
        }
    }

    @Test
    void editedEncryptedManifestWithRecomputedDigestFailsItsSeal() throws Exception {
        InMemoryStorageTarget target = storage.target();
        try (BackupEngine engine = engine(target, true)) {
            Manifest m = engine.backup(config);
            String key = "gen/backups/" + m.backupId() + "/manifest.json";
            var node = (com.fasterxml.jackson.databind.node.ObjectNode) ManifestCodec.JSON.readTree(
                    target.contentOf(key).orElseThrow());
            node.remove("manifestSha256");
            String seal = node.remove("manifestSeal").asText();
            ((com.fasterxml.jackson.databind.node.ObjectNode) node.get("metadata")).put("generator", "Edited");
            String digest = java.util.HexFormat.of().formatHex(
                    Sha256.newDigest().digest(ManifestCodec.JSON.writeValueAsBytes(node)));
            node.put("manifestSha256", digest);
            node.put("manifestSeal", seal);
            target.overwriteForTest(key, ManifestCodec.JSON.writeValueAsBytes(node));

            assertThat(engine.verify("gen", "latest").failures()).singleElement()
                    .satisfies(f -> assertThat(f.reason()).contains("seal"));
            assertThatThrownBy(() -> engine.restore(config, "latest", RestoreOptions.intoDirectory(Path.of("x"))))
                    .isInstanceOf(IntegrityException.class);
            assertThat(provider.restoredBytes.get()).isZero();
        }
    }

    @Test
    void wrongKeyIsNamedWithoutCryptoInternals() throws Exception {
        InMemoryStorageTarget target = storage.target();
        Manifest m;
        try (BackupEngine engine = engine(target, true)) {
            m = engine.backup(config);
        }
        String keyId = m.artifacts().get(0).keyId();
        assertThat(keyId).startsWith("tink-");
        KeyProvider other = EncryptionKeys.of(EncryptionKeys.newKeyset(), "other keyset");
        try (BackupEngine engine = BackupEngine.builder().storage(target).provider(provider).encryption(other)
                .build()) {
            assertThatThrownBy(() -> engine.restore(config, "latest", RestoreOptions.intoDirectory(Path.of("x"))))
                    .isInstanceOf(EncryptionKeyException.class)
                    .hasMessageContaining(keyId)
                    .hasNoCause()
                    .satisfies(e -> assertThat(((EncryptionKeyException) e).keyId()).isEqualTo(keyId));
            assertThat(provider.restoredBytes.get()).isZero();
            assertThat(engine.list("gen")).as("listing works with another key").hasSize(1);
            assertThat(engine.verify("gen", "latest").ok()).as("hash verification needs no key").isTrue();
        }
        try (BackupEngine engine = BackupEngine.builder().storage(target).provider(provider).build()) {
            assertThatThrownBy(() -> engine.restore(config, "latest", RestoreOptions.intoDirectory(Path.of("x"))))
                    .isInstanceOf(EncryptionKeyException.class)
                    .hasMessageContaining(keyId).hasMessageContaining("no encryption key is configured");
            assertThat(engine.verify("gen", "latest").ok())
                    .as("stored bytes verify without the key (offline copies)").isTrue();
        }
    }

    @Test
    void swappedArtifactsFailAuthenticationEvenWithMatchingHashes() throws Exception {
        // Someone with write access copies a valid, encrypted artifact of one backup over the same
        // name in another backup: it is well-formed ciphertext, but not the bytes this manifest records.
        InMemoryStorageTarget target = storage.target();
        try (BackupEngine engine = engine(target, true)) {
            Manifest first = engine.backup(config);
            Manifest second = engine.backup(config);
            String from = "gen/backups/" + first.backupId() + "/a.dat";
            String to = "gen/backups/" + second.backupId() + "/a.dat";
            target.overwriteForTest(to, target.contentOf(from).orElseThrow());
            assertThat(engine.verify("gen", second.backupId().value()).failures())
                    .extracting(VerifyReport.ArtifactCheck::name).containsExactly("a.dat");
        }
    }

    @Test
    void unreadableKeyFileFailsWhenTheEngineIsBuilt() {
        Path missing = Path.of("/nonexistent/keyset.json");
        assertThatThrownBy(() -> BackupEngine.builder().storage(new InMemoryStorageTarget())
                .encryption(EncryptionKeys.keysetFile(missing)).build())
                .isInstanceOf(EncryptionKeyException.class).hasMessageContaining(missing.toString());
    }
}
