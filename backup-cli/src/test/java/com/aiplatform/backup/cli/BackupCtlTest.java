package com.aiplatform.backup.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** End to end through {@link BackupCtl#run}: real filesystem storage, real encryption, real directory trees. */
class BackupCtlTest {
    @TempDir
    Path tmp;

    Path data;
    Path storage;
    Path keyset;
    Path config;

    record Result(int code, String out, String err) {
        JsonNode json() throws IOException {
            return Json.MAPPER.readTree(out);
        }
    }

    @BeforeEach
    void setUp() throws IOException {
        data = tmp.resolve("etc").resolve("kafka");
        DirectoryDemoSource.create(Files.createDirectories(data), 1);
        storage = Files.createDirectories(tmp.resolve("backups"));
        keyset = tmp.resolve("keyset.json");
        Result keygen = run("keygen", "--out", keyset.toString());
        assertThat(keygen.code()).as(keygen.err()).isZero();
        config = writeConfig("backup.yaml", keyset);
    }

    @Test
    void backupListVerifyRestoreGivesBackTheSameTree() throws IOException {
        Result backup = run("--config", config.toString(), "backup", "kafka-config");
        assertThat(backup.code()).as(backup.err()).isZero();
        assertThat(backup.out()).contains("backed up kafka-config");
        assertThat(backup.err()).isEmpty();

        Result list = run("--config", config.toString(), "list", "--json");
        assertThat(list.code()).as(list.err()).isZero();
        JsonNode manifests = list.json();
        assertThat(manifests.isArray()).isTrue();
        assertThat(manifests).hasSize(1);
        JsonNode manifest = manifests.get(0);
        String id = manifest.get("backupId").asText();
        assertThat(id).matches("\\d{8}T\\d{6}Z-[0-9a-f]{6}");
        assertThat(manifest.get("source").asText()).isEqualTo("kafka-config");
        assertThat(manifest.get("engine").asText()).isEqualTo("directory");
        assertThat(manifest.get("startedAt").asText()).endsWith("Z");
        assertThat(manifest.get("artifacts").size()).isPositive();

        Result table = run("list", "kafka-config", "--config", config.toString());
        assertThat(table.code()).as(table.err()).isZero();
        assertThat(table.out()).contains("SOURCE", "ID", "kafka-config", id);

        Result verify = run("--config", config.toString(), "verify", "kafka-config", "latest");
        assertThat(verify.code()).as(verify.err()).isZero();
        assertThat(verify.out()).contains("verified kafka-config " + id);

        Result verifyJson = run("--config", config.toString(), "verify", "kafka-config", id, "--json");
        assertThat(verifyJson.code()).as(verifyJson.err()).isZero();
        assertThat(verifyJson.json().get("ok").asBoolean()).isTrue();

        Path restored = tmp.resolve("restored");
        Result restore = run("--config", config.toString(), "restore", "kafka-config", "latest",
                "--target-dir", restored.toString());
        assertThat(restore.code()).as(restore.err()).isZero();
        assertThat(restore.out()).contains("restored kafka-config " + id);
        assertThat(TreeSnapshot.of(data).differences(TreeSnapshot.of(restored))).isEmpty();
        assertThat(Files.readSymbolicLink(restored.resolve("config/current.properties")))
                .isEqualTo(Path.of("server.properties"));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(restored.resolve("bin/kafka-server-start.sh"))))
                .isEqualTo("rwxr-xr-x");

        // a second restore into the same, now full, directory is refused without --overwrite
        Result again = run("--config", config.toString(), "restore", "kafka-config", id,
                "--target-dir", restored.toString());
        assertThat(again.code()).isNotZero();
        assertOneLine(again.err());
    }

    @Test
    void aSourcesOwnCompressionIsWhatItsBackupsAreStoredWith() throws IOException {
        Path perSource = Files.writeString(tmp.resolve("per-source.yaml"), """
                storage:
                  - { name: local, type: filesystem, path: %s }
                compression: zstd
                sources:
                  - { name: kafka-config, type: directory, path: %s, compression: lz4 }
                  - { name: same-tree, type: directory, path: %s }
                """.formatted(storage, data, data));
        for (String source : List.of("kafka-config", "same-tree")) {
            Result backup = run("--config", perSource.toString(), "backup", source);
            assertThat(backup.code()).as(backup.err()).isZero();
        }
        Result list = run("--config", perSource.toString(), "list", "--json");
        assertThat(list.code()).as(list.err()).isZero();
        Map<String, Set<String>> codecs = new TreeMap<>();
        for (JsonNode manifest : list.json()) {
            for (JsonNode artifact : manifest.get("artifacts")) {
                codecs.computeIfAbsent(manifest.get("source").asText(), k -> new TreeSet<>())
                        .add(artifact.get("compression").asText());
            }
        }
        assertThat(codecs).isEqualTo(Map.of("kafka-config", Set.of("lz4"), "same-tree", Set.of("zstd")));
        Path restored = tmp.resolve("restored-lz4");
        Result restore = run("--config", perSource.toString(), "restore", "kafka-config", "latest",
                "--target-dir", restored.toString());
        assertThat(restore.code()).as(restore.err()).isZero();
        assertThat(TreeSnapshot.of(data).differences(TreeSnapshot.of(restored))).isEmpty();
    }

    @Test
    void verifyOfATamperedArtifactFailsNamingIt() throws IOException {
        assertThat(run("--config", config.toString(), "backup", "kafka-config").code()).isZero();
        String[] tampered = tamperFirstArtifact();

        Result verify = run("--config", config.toString(), "verify", "kafka-config", "latest");
        assertThat(verify.code()).isEqualTo(BackupCtl.INTEGRITY);
        assertThat(verify.err()).contains(tampered[1]);
        assertThat(verify.out()).contains("FAILED", tampered[1]);
        assertOneLine(verify.err());

        Result json = run("--config", config.toString(), "verify", "kafka-config", tampered[0], "--json");
        assertThat(json.code()).isEqualTo(BackupCtl.INTEGRITY);
        assertThat(json.json().get("ok").asBoolean()).isFalse();
    }

    @Test
    void restoreOfATamperedBackupIsRefusedAndWritesNothing() throws IOException {
        assertThat(run("--config", config.toString(), "backup", "kafka-config").code()).isZero();
        String[] tampered = tamperFirstArtifact();

        Path target = tmp.resolve("restore-target");
        Result restore = run("--config", config.toString(), "restore", "kafka-config", "latest",
                "--target-dir", target.toString());
        assertThat(restore.code()).isEqualTo(BackupCtl.INTEGRITY);
        assertThat(restore.err()).contains(tampered[1]);
        assertOneLine(restore.err());
        if (Files.exists(target)) {
            try (Stream<Path> entries = Files.list(target)) {
                assertThat(entries).isEmpty();
            }
        }
    }

    @Test
    void aWrongKeyIsReportedByKeyIdWithoutAStackTrace() throws IOException {
        assertThat(run("--config", config.toString(), "backup", "kafka-config").code()).isZero();
        JsonNode manifest = run("--config", config.toString(), "list", "kafka-config", "--json").json().get(0);
        String keyId = manifest.get("artifacts").get(0).get("keyId").asText();
        assertThat(keyId).isNotBlank();

        Path otherKeyset = tmp.resolve("other-keyset.json");
        assertThat(run("keygen", "--out", otherKeyset.toString()).code()).isZero();
        Path otherConfig = writeConfig("other.yaml", otherKeyset);

        Result restore = run("--config", otherConfig.toString(), "restore", "kafka-config", "latest",
                "--target-dir", tmp.resolve("wrong-key").toString());
        assertThat(restore.code()).isNotZero();
        assertThat(restore.err()).contains(keyId);
        assertOneLine(restore.err());
        assertThat(restore.err()).doesNotContain("Exception", "\tat ");
        assertThat(restore.err()).doesNotContain(Files.readString(otherKeyset).substring(0, 40));
    }

    @Test
    void demoJsonReportsEveryRestoreVerified() throws IOException {
        Result demo = run("demo", "--json", "--size-mb", "1");
        assertThat(demo.code()).as(demo.err() + demo.out()).isZero();
        JsonNode sources = demo.json().get("sources");
        assertThat(sources).isNotEmpty();
        for (JsonNode source : sources) {
            assertThat(source.get("source").asText()).isNotBlank();
            assertThat(source.get("engine").asText()).isNotBlank();
            assertThat(source.get("backupId").asText()).matches("\\d{8}T\\d{6}Z-[0-9a-f]{6}");
            assertThat(source.get("rawBytes").asLong()).isGreaterThan(1024 * 1024);
            assertThat(source.get("storedBytes").asLong()).isPositive();
            assertThat(source.get("verified").asBoolean()).isTrue();
            assertThat(source.get("restoreVerified").asBoolean()).as(source.toString()).isTrue();
            assertThat(source.get("differences")).isEmpty();
        }
        assertThat(demo.json().has("keptDirectory")).isFalse();
    }

    @Test
    void demoHumanReportAndKeep() throws IOException {
        Result demo = run("demo", "--size-mb", "0", "--keep");
        assertThat(demo.code()).as(demo.err() + demo.out()).isZero();
        assertThat(demo.out()).contains("kafka-config", "directory", "identical", "kept ");
        String kept = demo.out().lines().filter(l -> l.startsWith("kept ")).findFirst().orElseThrow();
        Path dir = Path.of(kept.substring(5, kept.length() - 1));
        try {
            assertThat(dir.resolve("storage")).isDirectory();
            assertThat(dir.resolve("keyset.json")).isRegularFile();
        } finally {
            DemoCommand.deleteTree(dir);
        }
    }

    @Test
    void keygenWritesAPrivateFileAndNeverOverwrites() throws IOException {
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(keyset))).isEqualTo("rw-------");
        String before = Files.readString(keyset);

        Result again = run("keygen", "--out", keyset.toString());
        assertThat(again.code()).isEqualTo(BackupCtl.USAGE);
        assertThat(again.err()).startsWith("backupctl: ").contains("exists already");
        assertOneLine(again.err());
        assertThat(Files.readString(keyset)).isEqualTo(before);

        Path json = tmp.resolve("k2.json");
        Result result = run("keygen", "--out", json.toString(), "--json");
        assertThat(result.code()).isZero();
        assertThat(result.json().get("keyId").asText()).isNotBlank();
        assertThat(result.out()).doesNotContain(Files.readString(json).substring(0, 30));
    }

    @Test
    void failuresAreOneLineWithUsageExitCodes() throws IOException {
        Result noConfig = run("list");
        if (System.getenv("BACKUPCTL_CONFIG") == null) {
            assertThat(noConfig.code()).isEqualTo(BackupCtl.USAGE);
            assertThat(noConfig.err()).contains("--config");
            assertOneLine(noConfig.err());
        }

        Result unknownSource = run("--config", config.toString(), "backup", "postgres-main");
        assertThat(unknownSource.code()).isEqualTo(BackupCtl.USAGE);
        assertThat(unknownSource.err()).isEqualTo("backupctl: source 'postgres-main' is not configured; "
                + "configured sources: kafka-config" + System.lineSeparator());

        Path bad = Files.writeString(tmp.resolve("bad.yaml"), "storage:\n  - { name: local, type: filesystem, path: "
                + storage + " }\nsources:\n  - { name: kafka-config, type: directory }\n");
        Result badConfig = run("--config", bad.toString(), "list");
        assertThat(badConfig.code()).isEqualTo(BackupCtl.USAGE);
        assertThat(badConfig.err()).contains("sources[kafka-config].path");
        assertOneLine(badConfig.err());

        Result badOption = run("--config", config.toString(), "backup", "kafka-config", "--incrementl");
        assertThat(badOption.code()).isEqualTo(BackupCtl.USAGE);
        assertOneLine(badOption.err());

        Result noCommand = run();
        assertThat(noCommand.code()).isEqualTo(BackupCtl.USAGE);
        assertOneLine(noCommand.err());

        Result missing = run("--config", config.toString(), "verify", "kafka-config", "latest");
        assertThat(missing.code()).isNotZero();
        assertOneLine(missing.err());

        Result verbose = run("--verbose", "--config", bad.toString(), "list");
        assertThat(verbose.code()).isEqualTo(BackupCtl.USAGE);
        assertThat(verbose.err()).contains("\tat ");

        Result help = run("--help");
        assertThat(help.code()).isZero();
        assertThat(help.out()).contains("backup", "list", "verify", "restore", "keygen", "demo");
    }

    @Test
    void aRefusalByPolicyIsAnEnvironmentFailureNotAnIntegrityOne() {
        java.io.StringWriter text = new java.io.StringWriter();
        int code = BackupCtl.report(new com.aiplatform.backup.api.PolicyException(
                "refused by policy: tar entry '../x': it climbs out of the restore target with '..'"),
                false, new java.io.PrintWriter(text));
        assertThat(code).isEqualTo(BackupCtl.FAILED);
        assertThat(text.toString()).startsWith("backupctl: refused by policy: tar entry '../x'")
                .doesNotContain("integrity");
    }

    @Test
    void aSocketInTheTreeIsNamedInAWarningAndInTheManifest() throws IOException {
        Path socketPath = data.resolve("broker.sock");
        try (var socket = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            socket.bind(java.net.UnixDomainSocketAddress.of(socketPath));
            Result backup = run("--config", config.toString(), "backup", "kafka-config");
            assertThat(backup.code()).as(backup.err()).isZero();
            assertThat(backup.err()).startsWith("backupctl: warning: kafka-config: 1 not backed up")
                    .contains("broker.sock (socket)");
            assertOneLine(backup.err());
        }
        JsonNode manifest = run("--config", config.toString(), "list", "kafka-config", "--json").json().get(0);
        assertThat(manifest.get("metadata").get("skipped").asText()).contains("broker.sock (socket)");
    }

    /** Flips one byte in the middle of the first artifact of the latest backup; returns {id, artifact name}. */
    private String[] tamperFirstArtifact() throws IOException {
        JsonNode manifest = run("--config", config.toString(), "list", "kafka-config", "--json").json().get(0);
        String id = manifest.get("backupId").asText();
        String artifact = manifest.get("artifacts").get(0).get("name").asText();
        Path file = storage.resolve("kafka-config").resolve("backups").resolve(id).resolve(artifact);
        assertThat(file).isRegularFile();
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            long at = raf.length() / 2;
            raf.seek(at);
            int b = raf.read();
            raf.seek(at);
            raf.write(b ^ 0x5a);
        }
        return new String[] {id, artifact};
    }

    private Path writeConfig(String name, Path keysetFile) throws IOException {
        return Files.writeString(tmp.resolve(name), """
                storage:
                  - { name: local, type: filesystem, path: %s }
                compression: zstd
                encryption:
                  keyset-file: %s
                sources:
                  - { name: kafka-config, type: directory, path: %s }
                """.formatted(storage, keysetFile, data));
    }

    private static void assertOneLine(String err) {
        assertThat(err).startsWith("backupctl: ");
        assertThat(err.lines().count()).as(err).isEqualTo(1);
    }

    private static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            code = BackupCtl.run(o, e, args);
        }
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
