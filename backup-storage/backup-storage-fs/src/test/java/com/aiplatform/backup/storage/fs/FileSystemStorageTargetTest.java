package com.aiplatform.backup.storage.fs;

import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.api.StorageException;
import com.aiplatform.backup.spi.ObjectUpload;
import com.aiplatform.backup.spi.StorageTarget;
import com.aiplatform.backup.testkit.StorageTargetContractTest;
import com.aiplatform.backup.testkit.TestMounts;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FileSystemStorageTargetTest extends StorageTargetContractTest {
    private static final String PARTIAL_NAME = "\\..+\\.[0-9a-f]{16}\\.partial";

    @TempDir
    Path tmp;

    private FileSystemStorageTarget fs;
    private int created;

    @Override
    protected StorageTarget newTarget() throws IOException {
        fs = new FileSystemStorageTarget("local", tmp.resolve("store-" + ++created));
        assertThat(fs.initialize()).isTrue();
        return fs;
    }

    @AfterEach
    void noTemporaryFileIsLeftBehind() throws IOException {
        assertThat(partialFiles(fs.root())).as("temporary files left by closed uploads").isEmpty();
    }

    // ---- modes ---------------------------------------------------------------------------------

    @Test
    void initializeCreatesItsRootAndMissingParentsWithMode0700() throws Exception {
        Path root = tmp.resolve("a/b/root");
        try (FileSystemStorageTarget target = new FileSystemStorageTarget("local", root)) {
            assertThat(tmp.resolve("a")).as("opening creates nothing").doesNotExist();
            assertThat(target.initialize()).isTrue();
            assertThat(target.initialize()).as("a second time").isFalse();
        }

        assertThat(root).isDirectory();
        assertThat(mode(root)).isEqualTo("rwx------");
        assertThat(mode(tmp.resolve("a/b"))).isEqualTo("rwx------");
        assertThat(mode(tmp.resolve("a"))).isEqualTo("rwx------");
    }

    @Test
    void storesObjectsAsFiles0600InFolders0700() throws Exception {
        put("src/backups/20260101T000000Z-aaaaaa/manifest.json", new byte[]{1});
        assertThat(fs.createIfAbsent("src/locks/backup", new byte[]{2})).isTrue();

        Path root = fs.root();
        assertThat(mode(root.resolve("src/backups/20260101T000000Z-aaaaaa/manifest.json"))).isEqualTo("rw-------");
        assertThat(mode(root.resolve("src/locks/backup"))).isEqualTo("rw-------");
        for (String folder : List.of("src", "src/backups", "src/backups/20260101T000000Z-aaaaaa", "src/locks")) {
            assertThat(mode(root.resolve(folder))).as(folder).isEqualTo("rwx------");
        }
        assertThat(Files.readAllBytes(root.resolve("src/locks/backup"))).containsExactly(2);
    }

    // ---- temporary files -----------------------------------------------------------------------

    @Test
    void writesAnUploadToAHiddenTemporaryFileThatIsNeverShown() throws Exception {
        String key = "src/backups/20260101T000000Z-aaaaaa/data";
        Path folder = fs.root().resolve("src/backups/20260101T000000Z-aaaaaa");
        try (ObjectUpload upload = fs.create(key)) {
            upload.write(randomBytes(200_000, 1));
            upload.flush();

            List<Path> files = filesIn(folder);
            assertThat(files).singleElement().satisfies(p -> {
                assertThat(p.getFileName().toString()).matches(PARTIAL_NAME);
                assertThat(Files.size(p)).isEqualTo(200_000);
                assertThat(mode(p)).isEqualTo("rw-------");
            });
            String partialKey = "src/backups/20260101T000000Z-aaaaaa/" + files.get(0).getFileName();
            assertThat(fs.list("")).isEmpty();
            assertThatThrownBy(() -> fs.stat(partialKey)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("reserved");
            assertThatThrownBy(() -> fs.open(partialKey)).isInstanceOf(IllegalArgumentException.class);

            upload.commit();
            assertThat(filesIn(folder)).containsExactly(folder.resolve("data"));
        }
    }

    @Test
    void abortingRemovesTheTemporaryFileAndTheFoldersItCreated() throws Exception {
        try (ObjectUpload upload = fs.create("a/b/c/object")) {
            upload.write(new byte[1000]);
            assertThat(partialFiles(fs.root())).hasSize(1);
        }
        assertThat(partialFiles(fs.root())).isEmpty();
        assertThat(filesIn(fs.root())).isEmpty();
    }

    @Test
    void largeUploadsFlushedToDiskWhileWrittenCommitOrAbortCleanly() throws Exception {
        // several early flushes run on the writeback thread while writing goes on, and one may
        // still be running when the upload commits or aborts
        byte[] block = new byte[1 << 20];
        long size = 3 * FileSystemStorageTarget.WRITEBACK_BYTES + 12345;
        java.security.MessageDigest written = java.security.MessageDigest.getInstance("SHA-256");
        for (String outcome : List.of("commit", "abort")) {
            try (ObjectUpload upload = fs.create("large/" + outcome)) {
                for (long w = 0; w < size; w += block.length) {
                    int n = (int) Math.min(block.length, size - w);
                    block[0] = (byte) (w >>> 20);
                    upload.write(block, 0, n);
                    if (outcome.equals("commit")) {
                        written.update(block, 0, n);
                    }
                }
                if (outcome.equals("commit")) {
                    upload.commit();
                }
            }
        }
        Path committed = fs.root().resolve("large/commit");
        assertThat(Files.size(committed)).isEqualTo(size);
        java.security.MessageDigest read = java.security.MessageDigest.getInstance("SHA-256");
        try (var in = fs.open("large/commit")) {
            in.transferTo(new java.security.DigestOutputStream(java.io.OutputStream.nullOutputStream(), read));
        }
        assertThat(read.digest()).isEqualTo(written.digest());
        assertThat(fs.stat("large/abort")).isEmpty();
        assertThat(filesIn(fs.root().resolve("large"))).containsExactly(committed);
    }

    @Test
    void findsAndDeletesTemporaryFilesOfUploadsThatNeverFinished() throws Exception {
        Instant twoHoursAgo = Instant.now().minus(Duration.ofHours(2));
        ObjectUpload abandoned = fs.create("src/backups/b1/data");
        abandoned.write(new byte[100]);
        abandoned.flush();
        Path abandonedPartial = partialFiles(fs.root().resolve("src/backups/b1")).get(0);
        Files.setLastModifiedTime(abandonedPartial, FileTime.from(twoHoursAgo));

        // debris of a killed process, in a folder of its own
        Path killed = Files.createDirectories(fs.root().resolve("src/backups/b0"))
                .resolve(".data.0123456789abcdef.partial");
        Files.write(killed, new byte[10]);
        Files.setLastModifiedTime(killed, FileTime.from(twoHoursAgo));

        ObjectUpload live = fs.create("src/backups/b2/data");
        live.write(new byte[100]);
        live.flush();

        assertThat(fs.partialFilesOlderThan(Duration.ofHours(1))).containsExactlyInAnyOrder(abandonedPartial, killed);
        assertThat(fs.deletePartialFilesOlderThan(Duration.ofHours(1))).isEqualTo(2);

        assertThat(abandonedPartial).doesNotExist();
        assertThat(fs.root().resolve("src/backups/b0")).as("folder left empty").doesNotExist();
        assertThat(fs.root().resolve("src/backups/b1")).doesNotExist();
        assertThat(partialFiles(fs.root())).hasSize(1);
        assertThat(fs.partialFilesOlderThan(Duration.ofHours(1))).isEmpty();

        assertThatCode(abandoned::close).doesNotThrowAnyException();
        live.commit();
        live.close();
        assertThat(keysOf(fs.list(""))).containsExactly("src/backups/b2/data");
    }

    // ---- folders -------------------------------------------------------------------------------

    @Test
    void deleteRemovesFoldersLeftEmptyButNeverTheRoot() throws Exception {
        put("a/b/c/d", new byte[]{1});
        put("a/x", new byte[]{2});

        assertThat(fs.delete("a/b/c/d")).isTrue();
        assertThat(fs.root().resolve("a/b")).doesNotExist();
        assertThat(fs.root().resolve("a/x")).exists();

        assertThat(fs.delete("a/x")).isTrue();
        assertThat(fs.root().resolve("a")).doesNotExist();
        assertThat(fs.root()).isDirectory();
        assertThat(fs.check()).isEmpty();
    }

    @Test
    void aFolderIsNotAnObjectAndAnObjectIsNotAFolder() throws Exception {
        put("a/b/c", new byte[]{1});
        put("x", new byte[]{2});

        assertThatThrownBy(() -> fs.create("a/b").close()).isInstanceOf(StorageException.class)
                .hasMessageContaining("a/b").hasMessageContaining("folder");
        assertThatThrownBy(() -> fs.createIfAbsent("a/b", new byte[1])).isInstanceOf(StorageException.class);
        assertThat(fs.stat("a/b")).isEmpty();
        assertThat(fs.delete("a/b")).isFalse();
        assertThatThrownBy(() -> fs.open("a/b").close()).isInstanceOf(StorageException.class)
                .hasMessageContaining("does not exist");

        assertThatThrownBy(() -> fs.create("x/y").close()).isInstanceOf(StorageException.class)
                .hasMessageContaining("x/y");
        assertThatThrownBy(() -> fs.createIfAbsent("x/y", new byte[1])).isInstanceOf(StorageException.class);
        assertThat(fs.stat("x/y")).isEmpty();
        assertThat(fs.delete("x/y")).isFalse();
        assertThatThrownBy(() -> fs.open("x/y").close()).isInstanceOf(StorageException.class)
                .hasMessageContaining("does not exist");

        assertThat(keysOf(fs.list(""))).containsExactly("a/b/c", "x");
        assertThat(read("a/b/c")).containsExactly(1);
        assertThat(read("x")).containsExactly(2);
    }

    @Test
    @Timeout(120)
    void writingIntoAFolderWhileItsLastObjectIsDeletedNeverFails() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int i = 0; i < 200; i++) {
                put("r/s/old", new byte[]{1});
                CyclicBarrier start = new CyclicBarrier(2);
                String fresh = "r/s/new-" + i;
                byte content = (byte) i;
                Future<Boolean> deleter = pool.submit(() -> {
                    start.await(30, TimeUnit.SECONDS);
                    return fs.delete("r/s/old");
                });
                Future<Void> writer = pool.submit(() -> {
                    start.await(30, TimeUnit.SECONDS);
                    put(fresh, new byte[]{content});
                    return null;
                });
                assertThat(deleter.get(30, TimeUnit.SECONDS)).isTrue();
                writer.get(30, TimeUnit.SECONDS);
                assertThat(keysOf(fs.list("r/"))).containsExactly(fresh);
                assertThat(fs.delete(fresh)).isTrue();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void refusesKeysThatLookLikeItsTemporaryFiles() {
        assertThatThrownBy(() -> fs.create(".data.partial")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(".data.partial");
        assertThatThrownBy(() -> fs.createIfAbsent("a/.lock.0123.partial", new byte[1]))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void listingFailsWhenTheRootIsGoneInsteadOfReportingNoBackups() throws Exception {
        Files.delete(fs.root());
        Files.write(fs.root(), new byte[1]);
        assertThatThrownBy(() -> fs.list("")).isInstanceOf(StorageException.class)
                .hasMessageContaining(fs.root().toString());
        Files.delete(fs.root());
    }

    @Test
    void refusesWorkAfterClose() throws Exception {
        fs.close();
        assertThatThrownBy(() -> fs.create("a")).isInstanceOf(IllegalStateException.class).hasMessageContaining("local");
        assertThatThrownBy(() -> fs.open("a")).isInstanceOf(IllegalStateException.class);
    }

    // ---- check ---------------------------------------------------------------------------------

    @Test
    void checkReportsAMissingRootWithoutCreatingIt() throws Exception {
        Files.delete(fs.root());
        for (StorageTarget.Access access : StorageTarget.Access.values()) {
            assertThat(fs.check(access)).as(access.name()).singleElement().satisfies(p -> {
                assertThat(p.code()).isEqualTo("missing");
                assertThat(p.message()).contains("'local'").contains(fs.root().toString())
                        .contains("backupctl init --storage local").contains("create: true");
            });
        }
        assertThat(fs.check()).extracting(Problem::code).containsExactly("missing");
        assertThat(fs.root()).doesNotExist();
    }

    @Test
    void everyOperationOnAMissingRootFailsNamingTheTargetAndTheFolderAndCreatesNothing() throws Exception {
        put("a/b", new byte[]{1});
        Files.delete(fs.root().resolve("a/b"));
        Files.delete(fs.root().resolve("a"));
        Files.delete(fs.root());
        String root = fs.root().toString();

        List<org.assertj.core.api.ThrowableAssert.ThrowingCallable> operations = List.of(
                () -> fs.list(""), () -> fs.list("a/"), () -> fs.stat("a/b"), () -> fs.open("a/b").close(),
                () -> fs.open("a/b", 1).close(), () -> fs.delete("a/b"), () -> fs.create("a/c").close(),
                () -> fs.createIfAbsent("a/lock", new byte[]{1}));
        for (var operation : operations) {
            assertThatThrownBy(operation).isInstanceOf(StorageException.class)
                    .hasMessageContaining("'local'").hasMessageContaining(root).hasMessageContaining("does not exist");
        }
        assertThat(fs.root()).doesNotExist();
        assertThat(tmp).isDirectory();
    }

    @Test
    void aTargetOpenedWithCreateIfMissingCreatesItsRootOnTheFirstWriteOnly() throws Exception {
        Path root = tmp.resolve("created/on/write");
        try (FileSystemStorageTarget target = new FileSystemStorageTarget("local", root, true)) {
            assertThat(target.check(StorageTarget.Access.READ)).extracting(Problem::code).containsExactly("missing");
            assertThatThrownBy(() -> target.list("")).isInstanceOf(StorageException.class);
            assertThat(root).as("reading creates nothing").doesNotExist();

            assertThat(target.createIfAbsent("src/locks/backup", new byte[]{1})).isTrue();
            assertThat(root).isDirectory();
            assertThat(mode(root)).isEqualTo("rwx------");
            assertThat(mode(tmp.resolve("created"))).isEqualTo("rwx------");
            assertThat(keysOf(target.list(""))).containsExactly("src/locks/backup");
        }
        Path other = tmp.resolve("created-by-check");
        try (FileSystemStorageTarget target = new FileSystemStorageTarget("local", other, true)) {
            assertThat(target.check(StorageTarget.Access.WRITE)).isEmpty();
            assertThat(other).isDirectory();
        }
    }

    @Test
    void aReadOnlyRootCanBeListedAndReadButNotWritten() throws Exception {
        put("src/backups/b/manifest.json", new byte[]{7, 8});
        try (TestMounts.Undo readOnly = TestMounts.readOnly(fs.root())) {
            System.out.println("read-only storage made by: " + readOnly.how());
            assertThat(fs.check(StorageTarget.Access.READ)).isEmpty();
            assertThat(fs.check(StorageTarget.Access.WRITE)).singleElement().satisfies(p -> {
                assertThat(p.code()).isEqualTo("not-writable");
                assertThat(p.message()).contains("'local'").contains(fs.root().toString());
            });
            assertThat(keysOf(fs.list(""))).containsExactly("src/backups/b/manifest.json");
            assertThat(read("src/backups/b/manifest.json")).containsExactly(7, 8);
            assertThat(fs.stat("src/backups/b/manifest.json")).isPresent();

            assertThatThrownBy(() -> fs.create("src/backups/b/data").close()).isInstanceOf(StorageException.class)
                    .hasMessageContaining("'local'");
            assertThatThrownBy(() -> fs.createIfAbsent("src/locks/backup", new byte[1]))
                    .isInstanceOf(StorageException.class).hasMessageContaining("'local'");
            assertThatThrownBy(() -> fs.delete("src/backups/b/manifest.json")).isInstanceOf(StorageException.class)
                    .hasMessageContaining("'local'");
            assertThat(read("src/backups/b/manifest.json")).containsExactly(7, 8);
        }
    }

    @Test
    void aFullDiskFailsTheUploadWithAStorageExceptionNamingTheTargetAndLeavesNothing() throws Exception {
        Path mountPoint = Files.createDirectory(tmp.resolve("small-disk"));
        try (TestMounts.Undo disk = TestMounts.smallDisk(mountPoint, 1024 * 1024)) {
            try (FileSystemStorageTarget small = new FileSystemStorageTarget("small", mountPoint)) {
                assertThat(small.check(StorageTarget.Access.WRITE)).isEmpty();
                byte[] chunk = new byte[64 * 1024];
                assertThatThrownBy(() -> {
                    try (ObjectUpload upload = small.create("src/backups/b/data")) {
                        for (int i = 0; i < 64; i++) { // 4 MiB onto a 1 MiB disk
                            upload.write(chunk);
                        }
                        upload.commit();
                    }
                }).isInstanceOf(StorageException.class)
                        .hasMessageContaining("'small'")
                        .hasMessageContaining("No space left on device");
                assertThat(small.list("")).isEmpty();
                assertThat(partialFiles(mountPoint)).isEmpty();
            }
        }
    }

    @Test
    void checkReportsARootThatIsAFile() throws Exception {
        Path file = Files.write(tmp.resolve("plain-file"), new byte[1]);
        List<Problem> problems = new FileSystemStorageTarget("local", file).check();
        assertThat(problems).singleElement().satisfies(p -> {
            assertThat(p.code()).isEqualTo("not-a-directory");
            assertThat(p.message()).contains("local").contains(file.toString());
        });
    }

    @Test
    void checkReportsARootThatCannotBeCreated() throws Exception {
        Path file = Files.write(tmp.resolve("plain-file"), new byte[1]);
        Path root = file.resolve("sub");
        List<Problem> problems = new FileSystemStorageTarget("local", root, true).check();
        assertThat(problems).singleElement().satisfies(p -> {
            assertThat(p.code()).isEqualTo("missing");
            assertThat(p.message()).contains(root.toString()).contains("cannot be created");
        });
        assertThatThrownBy(() -> new FileSystemStorageTarget("local", root).initialize())
                .isInstanceOf(StorageException.class).hasMessageContaining("'local'")
                .hasMessageContaining(root.toString());
    }

    @Test
    void checkReportsARootThatIsNotWritable() throws Exception {
        Path root = Files.createDirectory(tmp.resolve("read-only"));
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("r-x------"));
        try {
            FileSystemProbe.assumePermissionBitsApply(root);
            assertThat(new FileSystemStorageTarget("local", root).check(StorageTarget.Access.READ)).isEmpty();
            List<Problem> problems = new FileSystemStorageTarget("local", root).check();
            assertThat(problems).singleElement().satisfies(p -> {
                assertThat(p.code()).isEqualTo("not-writable");
                assertThat(p.message()).contains(root.toString());
            });
        } finally {
            Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwx------"));
        }
    }

    // ---- helpers -------------------------------------------------------------------------------

    static String mode(Path p) {
        try {
            return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
        } catch (IOException e) {
            throw new AssertionError("cannot read the mode of " + p, e);
        }
    }

    private static List<Path> filesIn(Path folder) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.sorted().toList();
        }
    }

    private static List<Path> partialFiles(Path root) throws IOException {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        List<Path> found = new ArrayList<>();
        try (Stream<Path> s = Files.walk(root)) {
            s.filter(Files::isRegularFile)
                    .filter(p -> p.getFileName().toString().endsWith(".partial"))
                    .forEach(found::add);
        }
        return found;
    }
}
