package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.ArtifactEntry;
import com.aiplatform.backup.api.BackupId;
import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.ConsistentPoint;
import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.spi.ArtifactSource;
import com.aiplatform.backup.spi.RestoreOptions;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Safe extraction and data-directory assembly, on synthetic base-backup archives. */
class PhysicalRestoreTest {
    @TempDir
    Path tmp;

    /** Builds a tar in memory. */
    private static final class Tar {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes);

        Tar() {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        }

        Tar dir(String name) throws IOException {
            TarArchiveEntry e = new TarArchiveEntry(name + "/", true);
            e.setMode(040700);
            tar.putArchiveEntry(e);
            tar.closeArchiveEntry();
            return this;
        }

        Tar file(String name, String content) throws IOException {
            byte[] b = content.getBytes(StandardCharsets.UTF_8);
            TarArchiveEntry e = new TarArchiveEntry(name, true);
            e.setSize(b.length);
            e.setMode(0100600);
            tar.putArchiveEntry(e);
            tar.write(b);
            tar.closeArchiveEntry();
            return this;
        }

        Tar link(String name, String target, byte type) throws IOException {
            TarArchiveEntry e = new TarArchiveEntry(name, type, true);
            e.setLinkName(target);
            tar.putArchiveEntry(e);
            tar.closeArchiveEntry();
            return this;
        }

        byte[] bytes() throws IOException {
            tar.finish();
            return bytes.toByteArray();
        }
    }

    /** A backup held in memory. */
    private static ArtifactSource source(Map<String, byte[]> artifacts) {
        List<ArtifactEntry> entries = new ArrayList<>();
        artifacts.forEach((name, b) -> entries.add(new ArtifactEntry(name, b.length, b.length, "0".repeat(64), "none",
                "none", null)));
        Manifest m = new Manifest(Manifest.CURRENT_FORMAT, BackupId.generate(Instant.now()), "pg", "postgres",
                BackupKind.FULL, "physical", null, Instant.now(), Instant.now(),
                new ConsistentPoint("0/3000100", Instant.now()), entries, null, null);
        return new ArtifactSource() {
            @Override
            public Manifest manifest() {
                return m;
            }

            @Override
            public InputStream open(String name) {
                return new ByteArrayInputStream(artifacts.get(name));
            }
        };
    }

    private static Map<String, byte[]> backupWithTablespace(String originalLocation) throws IOException {
        Map<String, byte[]> a = new LinkedHashMap<>();
        a.put("16384.tar", new Tar().dir("PG_15_202209061").dir("PG_15_202209061/5")
                .file("PG_15_202209061/5/16385", "tablespace rows").bytes());
        a.put("base.tar", new Tar().file("PG_VERSION", "15\n").file("backup_label", "START WAL LOCATION: 0/2000028\n")
                .dir("global").file("global/pg_control", "control").dir("pg_wal").dir("pg_tblspc")
                .file("tablespace_map", "16384 " + originalLocation.replace("\\", "\\\\").replace("\n", "\\\n") + "\n")
                .bytes());
        a.put("backup_manifest", "{\"PostgreSQL-Backup-Manifest-Version\": 1}".getBytes(StandardCharsets.UTF_8));
        return a;
    }

    @Test
    void dataDirectoryIsAssembledWithTablespacesMovedToTheirNewPlace() throws Exception {
        String original = "/srv/pg/ts with\\odd\nname";
        Path target = tmp.resolve("restore/data");
        PhysicalRestore.run(PostgresConfig.builder("pg").build(), source(backupWithTablespace(original)),
                RestoreOptions.intoDirectory(target));

        Path ts = tmp.resolve("restore/data-tablespaces/16384");
        assertThat(Files.getPosixFilePermissions(target)).isEqualTo(PosixFilePermissions.fromString("rwx------"));
        assertThat(target.resolve("PG_VERSION")).hasContent("15");
        assertThat(target.resolve("backup_manifest")).content().startsWith("{\"PostgreSQL-Backup-Manifest");
        assertThat(Files.readSymbolicLink(target.resolve("pg_tblspc/16384"))).isEqualTo(ts);
        assertThat(DataDirectoryTar.parseTablespaceMap(Files.readAllBytes(target.resolve("tablespace_map")), "x"))
                .containsExactly(Map.entry("16384", ts.toString()));
        assertThat(ts.resolve("PG_15_202209061/5/16385")).hasContent("tablespace rows");
        try (Stream<Path> s = Files.list(tmp.resolve("restore"))) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("data", "data-tablespaces");
        }
    }

    @Test
    void tablespaceMapEscapesRoundTrip() throws Exception {
        Map<String, String> map = new LinkedHashMap<>();
        map.put("16384", "/a\\b\nc\rd e");
        map.put("16999", "/plain");
        String text = DataDirectoryTar.formatTablespaceMap(map);
        assertThat(text).isEqualTo("16384 /a\\\\b\\\nc\\\rd e\n16999 /plain\n");
        assertThat(DataDirectoryTar.parseTablespaceMap(text.getBytes(StandardCharsets.UTF_8), "x")).isEqualTo(map);
        assertThatThrownBy(() -> DataDirectoryTar.parseTablespaceMap("abc /x\n".getBytes(StandardCharsets.UTF_8),
                "base.tar")).isInstanceOf(IntegrityException.class);
    }

    @Test
    void entriesThatEscapeAreRefusedAndNothingIsLeftBehind() throws Exception {
        List<byte[]> evil = List.of(
                new Tar().file("../escaped", "x").bytes(),
                new Tar().file("/etc/escaped", "x").bytes(),
                new Tar().file("base/./1", "x").bytes(),
                new Tar().link("pg_wal", "/var/lib/elsewhere", TarConstants.LF_SYMLINK).bytes(),
                new Tar().link("base/1/link", "../../..", TarConstants.LF_SYMLINK).bytes(),
                new Tar().file("a", "x").link("b", "a", TarConstants.LF_LINK).bytes(),
                new Tar().file("a", "x").file("a", "y").bytes(),
                new Tar().file("a", "x").dir("a").bytes());
        Path target = tmp.resolve("r/data");
        for (byte[] tar : evil) {
            Map<String, byte[]> a = new LinkedHashMap<>();
            a.put("base.tar", tar);
            assertThatThrownBy(() -> PhysicalRestore.run(PostgresConfig.builder("pg").build(), source(a),
                    RestoreOptions.intoDirectory(target))).isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("base.tar");
            assertThat(target).doesNotExist();
            assertThat(target.getParent()).as("the parent created for the restore").doesNotExist();
        }
        assertThat(tmp.resolve("escaped")).doesNotExist();
    }

    @Test
    void aSymlinkInATablespaceArchiveIsRefused() throws Exception {
        Map<String, byte[]> a = backupWithTablespace("/srv/ts");
        a.put("16384.tar", new Tar().link("PG_15_202209061", "/etc", TarConstants.LF_SYMLINK).bytes());
        Path target = Files.createDirectories(tmp.resolve("r")).resolve("data");
        assertThatThrownBy(() -> PhysicalRestore.run(PostgresConfig.builder("pg").build(), source(a),
                RestoreOptions.intoDirectory(target))).isInstanceOf(IntegrityException.class)
                .hasMessageContaining("16384.tar");
        try (Stream<Path> s = Files.list(tmp.resolve("r"))) {
            assertThat(s).as("no staging folder, no tablespace parent left").isEmpty();
        }
    }

    @Test
    void targetsAreCheckedBeforeAnythingIsWritten() throws Exception {
        PostgresConfig config = PostgresConfig.builder("pg").build();
        ArtifactSource backup = source(backupWithTablespace("/srv/ts"));
        Path target = Files.createDirectories(tmp.resolve("busy"));
        Files.writeString(target.resolve("postmaster.pid"), "4242");
        assertThatThrownBy(() -> PhysicalRestore.run(config, backup,
                RestoreOptions.intoDirectory(target).withOverwrite(true)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("postmaster.pid");

        Path occupiedTs = Files.createDirectories(tmp.resolve("ts-occupied"));
        Files.writeString(occupiedTs.resolve("x"), "keep");
        Path fresh = tmp.resolve("fresh");
        assertThatThrownBy(() -> PhysicalRestore.run(config, backup, new RestoreOptions(Optional.of(fresh), false,
                Map.of("tablespace-16384", occupiedTs.toString()))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tablespace 16384");
        assertThat(fresh).doesNotExist();
        assertThat(occupiedTs.resolve("x")).hasContent("keep");

        assertThatThrownBy(() -> PhysicalRestore.run(config, backup, new RestoreOptions(Optional.of(fresh), false,
                Map.of("tablespace-99999", "/somewhere"))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("16384");
        assertThatThrownBy(() -> PhysicalRestore.run(config, backup, new RestoreOptions(Optional.of(fresh), false,
                Map.of("tablespace-16384", "relative/path"))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("absolute");
        assertThatThrownBy(() -> PhysicalRestore.run(config, backup, new RestoreOptions(Optional.of(fresh), false,
                Map.of("tablespace-16384", fresh.resolve("inside").toString()))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside the target");
        assertThat(fresh).doesNotExist();
    }

    @Test
    void recoverySettingsAreQuotedAndSignalled() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("pgdata"));
        Files.writeString(dir.resolve("postgresql.auto.conf"), "work_mem = '8MB'\n");
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("restore_command", "cp '/wal dir/%f' \"%p\"");
        settings.put("recovery_target_time", "2026-11-24 02:00:00+00");
        settings.put("recovery_target_action", "promote");
        PhysicalRestore.writeRecoverySettings(dir, settings);
        assertThat(dir.resolve("recovery.signal")).exists();
        assertThat(dir.resolve("postgresql.auto.conf")).content()
                .startsWith("work_mem = '8MB'\n")
                .contains("restore_command = 'cp ''/wal dir/%f'' \"%p\"'\n",
                        "recovery_target_time = '2026-11-24 02:00:00+00'\n", "recovery_target_action = 'promote'\n");
        assertThatThrownBy(() -> PhysicalRestore.writeRecoverySettings(dir, Map.of("bad name", "x")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> PhysicalRestore.writeRecoverySettings(dir, Map.of("x", "a\nb")))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void recoverySetupRunsOnTheStagedDirectoryAndItsFailureLeavesNoTarget() throws Exception {
        Path target = tmp.resolve("pitr/data");
        Path[] seen = new Path[1];
        assertThatThrownBy(() -> PhysicalRestore.run(PostgresConfig.builder("pg").build(),
                source(backupWithTablespace("/srv/ts")), RestoreOptions.intoDirectory(target), (dir, m, src) -> {
                    seen[0] = dir;
                    assertThat(dir.resolve("backup_label")).exists();
                    assertThat(dir.resolve("backup_manifest")).exists();
                    throw new IOException("WAL segment 000000010000000000000003 is missing");
                })).hasMessageContaining("000000010000000000000003");
        assertThat(seen[0]).isNotEqualTo(target).doesNotExist();
        assertThat(target).doesNotExist();
        assertThat(tmp.resolve("pitr/data-tablespaces/16384")).doesNotExist();
    }
}
