package com.aiplatform.backup.cli;

import com.aiplatform.backup.testkit.TestMounts;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 12, item 4, through {@code backupctl}: each command checks only the storage targets it
 * touches, for what it needs. The read-only target is a real one (a read-only bind mount, or
 * what {@link TestMounts} falls back to; these tests run as root, which ignores permission
 * bits), and the full disk is a real small tmpfs.
 */
class StorageAccessIT {
    @TempDir
    Path tmp;

    Path data;

    record Result(int code, String out, String err) {
        JsonNode json() throws IOException {
            return Json.MAPPER.readTree(out);
        }
    }

    @BeforeEach
    void setUp() throws IOException {
        data = Files.createDirectories(tmp.resolve("etc/kafka"));
        DirectoryDemoSource.create(data, 1);
    }

    @Test
    void aReadOnlyTargetCanBeListedVerifiedRestoredAndDrilledButNotWritten() throws Exception {
        Path storage = Files.createDirectories(tmp.resolve("backups"));
        Path config = config("storage:\n  - { name: local, type: filesystem, path: " + storage + " }\n");
        Result backup = run("--config", config.toString(), "backup", "kafka-config", "--json");
        assertThat(backup.code()).as(backup.err()).isZero();
        String id = backup.json().get("backupId").asText();
        Map<String, Long> before = files(storage);

        try (TestMounts.Undo readOnly = TestMounts.readOnly(storage)) {
            System.out.println("read-only storage made by: " + readOnly.how());

            Result list = run("--config", config.toString(), "list", "--json");
            assertThat(list.code()).as(list.err()).isZero();
            assertThat(list.json()).singleElement().satisfies(m -> assertThat(m.get("backupId").asText()).isEqualTo(id));

            Result verify = run("--config", config.toString(), "verify", "kafka-config", "latest");
            assertThat(verify.code()).as(verify.err()).isZero();
            assertThat(verify.out()).contains("verified kafka-config " + id);
            assertOneLine(verify.err());
            assertThat(verify.err()).as("not recording the result is only a warning")
                    .contains("warning: the verify result is not recorded on storage target 'local'");

            Path restored = tmp.resolve("restored");
            Result restore = run("--config", config.toString(), "restore", "kafka-config", "latest",
                    "--target-dir", restored.toString());
            assertThat(restore.code()).as(restore.err()).isZero();
            assertThat(TreeSnapshot.of(data).differences(TreeSnapshot.of(restored))).isEmpty();

            Result drill = run("--config", config.toString(), "drill", "kafka-config", "latest");
            assertThat(drill.code()).as(drill.err()).isZero();
            assertThat(drill.out()).contains("passed");
            assertThat(drill.err()).contains("warning: the drill result is not recorded on storage target 'local'");

            Result rpo = run("--config", config.toString(), "rpo", "kafka-config");
            assertThat(rpo.code()).as(rpo.err()).isIn(BackupCtl.OK, 4);

            Result dryRun = run("--config", config.toString(), "prune", "--dry-run");
            assertThat(dryRun.code()).as(dryRun.err()).isZero();

            Result refused = run("--config", config.toString(), "backup", "kafka-config");
            assertThat(refused.code()).as(refused.err()).isEqualTo(BackupCtl.FAILED);
            assertOneLine(refused.err());
            assertThat(refused.err()).contains("storage target 'local'").contains("not-writable")
                    .contains(storage.toString());

            Result prune = run("--config", config.toString(), "prune");
            assertThat(prune.code()).as(prune.err()).isEqualTo(BackupCtl.FAILED);
            assertThat(prune.err()).contains("storage target 'local'").contains("not-writable");
        }
        assertThat(files(storage)).as("nothing on the read-only target changed").isEqualTo(before);
    }

    @Test
    void aMissingStorageFolderIsAnErrorUntilInitCreatesIt() throws Exception {
        Path storage = tmp.resolve("absent/backups");
        Path config = config("storage:\n  - { name: local, type: filesystem, path: " + storage + " }\n");

        for (String[] command : new String[][] {{"list"}, {"backup", "kafka-config"}, {"verify", "kafka-config", "latest"},
                {"prune"}}) {
            Result r = run(concat(new String[] {"--config", config.toString()}, command));
            assertThat(r.code()).as(String.join(" ", command) + ": " + r.err()).isEqualTo(BackupCtl.FAILED);
            assertOneLine(r.err());
            assertThat(r.err()).contains("storage target 'local'").contains("missing").contains(storage.toString())
                    .contains("does not exist").contains("backupctl init --storage local");
        }
        assertThat(tmp.resolve("absent")).as("no command created anything").doesNotExist();

        Result init = run("--config", config.toString(), "init");
        assertThat(init.code()).as(init.err()).isZero();
        assertThat(init.out()).contains("initialized storage target 'local'");
        assertThat(storage).isDirectory();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(storage))).isEqualTo("rwx------");

        Result again = run("--config", config.toString(), "init");
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.out()).contains("exists already");

        Result backup = run("--config", config.toString(), "backup", "kafka-config");
        assertThat(backup.code()).as(backup.err()).isZero();
        Result list = run("--config", config.toString(), "list", "--json");
        assertThat(list.json()).hasSize(1);
    }

    @Test
    void createTrueLetsTheFirstBackupCreateTheFolderButNotAList() throws Exception {
        Path storage = tmp.resolve("new/backups");
        Path config = config("storage:\n  - { name: local, type: filesystem, path: " + storage + ", create: true }\n");

        Result list = run("--config", config.toString(), "list");
        assertThat(list.code()).as(list.err()).isEqualTo(BackupCtl.FAILED);
        assertThat(list.err()).contains("storage target 'local'").contains("does not exist");
        assertThat(tmp.resolve("new")).doesNotExist();

        Result backup = run("--config", config.toString(), "backup", "kafka-config");
        assertThat(backup.code()).as(backup.err()).isZero();
        assertThat(storage).isDirectory();
        assertThat(run("--config", config.toString(), "list", "--json").json()).hasSize(1);
    }

    @Test
    void aBrokenSecondaryTargetDoesNotBlockThePrimary() throws Exception {
        Path storage = Files.createDirectories(tmp.resolve("backups"));
        Path offline = tmp.resolve("usb/platform-backups");
        Path config = config("storage:\n  - { name: local, type: filesystem, path: " + storage + " }\n"
                + "  - { name: offline, type: filesystem, path: " + offline + ", holds: [last] }\n");

        Result backup = run("--config", config.toString(), "backup", "kafka-config");
        assertThat(backup.code()).as(backup.err()).isZero();
        Result list = run("--config", config.toString(), "list", "--json");
        assertThat(list.code()).as(list.err()).isZero();
        assertThat(list.json()).hasSize(1);
        Result verify = run("--config", config.toString(), "verify", "kafka-config", "latest");
        assertThat(verify.code()).as(verify.err()).isZero();

        Result offlineList = run("--config", config.toString(), "--storage", "offline", "list");
        assertThat(offlineList.code()).isEqualTo(BackupCtl.FAILED);
        assertThat(offlineList.err()).contains("storage target 'offline'").contains(offline.toString());
        Result place = run("--config", config.toString(), "place");
        assertThat(place.code()).isEqualTo(BackupCtl.FAILED);
        assertThat(place.err()).contains("storage target 'offline'").contains("does not exist");
        assertThat(tmp.resolve("usb")).doesNotExist();
    }

    @Test
    void copyToAnUnmountedOfflineDiskFailsAndWritesNothingAnywhere() throws Exception {
        Path storage = Files.createDirectories(tmp.resolve("backups"));
        Path mountPoint = Files.createDirectories(tmp.resolve("mnt/usb")); // the disk is not mounted here
        Path offline = mountPoint.resolve("platform-backups");
        Path config = config("storage:\n  - { name: local, type: filesystem, path: " + storage + " }\n"
                + "  - { name: offline, type: filesystem, path: " + offline + " }\n");
        assertThat(run("--config", config.toString(), "backup", "kafka-config").code()).isZero();
        Map<String, Long> before = files(storage);

        Result copy = run("--config", config.toString(), "copy", "kafka-config", "latest", "--to", "offline");
        assertThat(copy.code()).as(copy.err()).isEqualTo(BackupCtl.FAILED);
        assertOneLine(copy.err());
        assertThat(copy.err()).contains("storage target 'offline'").contains(offline.toString())
                .contains("does not exist").contains("backupctl init --storage offline");
        assertThat(files(mountPoint)).as("nothing written on the local disk under the mount point").isEmpty();
        assertThat(files(storage)).as("nothing written on the source target").isEqualTo(before);

        // once the disk is there (here: the folder made by init), the same copy works
        assertThat(run("--config", config.toString(), "--storage", "offline", "init").code()).isZero();
        Result retry = run("--config", config.toString(), "copy", "kafka-config", "latest", "--to", "offline");
        assertThat(retry.code()).as(retry.err()).isZero();
        assertThat(run("--config", config.toString(), "--storage", "offline", "verify", "kafka-config", "latest")
                .code()).isZero();
    }

    @Test
    void aFullDiskFailsTheBackupAsAnEnvironmentFailureNamingTheTarget() throws Exception {
        Path storage = Files.createDirectories(tmp.resolve("small-disk"));
        byte[] noise = new byte[4 * 1024 * 1024];
        new Random(12).nextBytes(noise); // incompressible: 4 MiB onto a 1 MiB disk
        Files.write(data.resolve("big.bin"), noise);
        Path config = config("storage:\n  - { name: local, type: filesystem, path: " + storage + " }\n");
        try (TestMounts.Undo disk = TestMounts.smallDisk(storage, 1024 * 1024)) {
            Result backup = run("--config", config.toString(), "backup", "kafka-config");
            assertThat(backup.code()).as(backup.err()).isEqualTo(BackupCtl.FAILED);
            assertOneLine(backup.err());
            assertThat(backup.err()).contains("storage target 'local'").contains("No space left on device");

            Result list = run("--config", config.toString(), "list", "--json");
            assertThat(list.code()).as(list.err()).isZero();
            assertThat(list.json()).as("no half-written backup is listed").isEmpty();
        }
    }

    // ---- helpers -------------------------------------------------------------------------------

    private Path config(String storageBlock) throws IOException {
        return Files.writeString(tmp.resolve("backup-" + System.nanoTime() + ".yaml"), storageBlock
                + "compression: zstd\nsources:\n  - { name: kafka-config, type: directory, path: " + data + " }\n");
    }

    /** Every regular file below {@code root} with its size, by relative path. */
    private static Map<String, Long> files(Path root) throws IOException {
        Map<String, Long> files = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                if (!p.equals(root)) {
                    files.put(root.relativize(p).toString(), Files.isRegularFile(p) ? Files.size(p) : -1L);
                }
            }
        }
        return files;
    }

    private static String[] concat(String[] a, String[] b) {
        String[] all = new String[a.length + b.length];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
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
