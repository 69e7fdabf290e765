package com.aiplatform.backup.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 12, acceptance 3, the way an operator runs it: a tree made by the shell (absolute,
 * outside-pointing, dangling and odd symlinks, names that are not UTF-8, two of them
 * differing only in an invalid byte, a FIFO, set-id and sticky modes, other owners on the
 * root and below) is backed up and restored by the {@code backupctl} launcher running the
 * built jar, then compared by the real {@code diff -r --no-dereference} and by
 * {@code find -printf} (type, mode, owner ids and names, mtime) of both trees.
 */
class DirectoryFidelityIT {
    private static final Path LAUNCHER = Path.of("src/main/dist/backupctl").toAbsolutePath();
    private static final Path JAR = Path.of("target/backupctl.jar").toAbsolutePath();

    @TempDir
    Path tmp;

    record Run(int code, byte[] out, String err) {
        String text() {
            return new String(out, StandardCharsets.UTF_8);
        }
    }

    @Test
    void aTreeOfEverythingTarKeepsComesBackIdentical() throws Exception {
        assertThat(JAR).as("the built jar (run this test with mvn verify, after package)").isRegularFile();
        boolean root = "0".equals(sh("id -u").text().strip());
        if (!root) {
            System.out.println("DirectoryFidelityIT: not running as root, so owners are not changed (the tree"
                    + " keeps this user's); modes, names, links and the FIFO are still checked");
        }
        Path src = Files.createDirectories(tmp.resolve("data/etc"));
        Run made = sh("""
                set -e
                cd "$SRC"
                mkdir -p sub/deeper shared "$(printf 'dir-\\351')"
                printf 'hello\\n' > sub/file.txt
                printf 'ff' > "$(printf 'name-\\377')"
                printf 'fe' > "$(printf 'name-\\376')"
                printf 'in a Latin-1 folder' > "$(printf 'dir-\\351')/inner"
                printf 'utf-8' > 'n\u00e4me.txt'
                printf 'long' > "$(printf 'x%.0s' $(seq 1 150))$(printf '\\303')"
                ln -s /etc/hostname abs-link
                ln -s ../../../outside sub/deeper/rel-out
                ln -s no/such/target dangling
                ln -s "$(printf 'name-\\377')" link-to-bad-name
                ln -s 'dir//x/' odd-link
                ln -s "$(printf 'odd-\\377//x/')" odd-bad-link
                mkfifo pipe
                if [ "$(id -u)" = 0 ]; then
                  chown 4321:8765 .
                  chown 1:1 sub
                  chown 65534:4321 sub/file.txt
                  chown 123:456 pipe "$(printf 'dir-\\351')"
                  chown -h 7:8 abs-link
                fi
                # after chown, which clears set-id bits
                chmod 4755 sub/file.txt
                chmod 1777 shared
                chmod 0600 "$(printf 'name-\\377')"
                chmod 2750 sub
                chmod 0640 pipe
                chmod 0751 .
                find . -exec touch -h -d @1600000000 {} +
                """, Map.of("SRC", src.toString()));
        assertThat(made.code()).as(made.err()).isZero();

        Path storage = Files.createDirectories(tmp.resolve("storage"));
        Path config = Files.writeString(tmp.resolve("backup.yaml"), """
                storage:
                  - { name: local, type: filesystem, path: %s }
                sources:
                  - { name: etc, type: directory, path: %s }
                """.formatted(storage, src));
        Run backup = backupctl("--config", config.toString(), "backup", "etc");
        assertThat(backup.code()).as(backup.err()).isZero();
        assertThat(backup.err()).as("nothing skipped, nothing to warn about").isEmpty();
        Run verify = backupctl("--config", config.toString(), "verify", "etc", "latest");
        assertThat(verify.code()).as(verify.err()).isZero();

        Path restored = tmp.resolve("restored/etc");
        Run restore = backupctl("--config", config.toString(), "restore", "etc", "latest",
                "--target-dir", restored.toString());
        assertThat(restore.code()).as(restore.err()).isZero();

        Run diff = run(List.of("diff", "-r", "--no-dereference", src.toString(), restored.toString()), Map.of());
        // diff cannot compare FIFOs and reports each one; that line is the only one allowed
        assertThat(diff.text()).as(diff.err())
                .isEqualTo("File " + src + "/pipe is a fifo while file " + restored + "/pipe is a fifo\n");
        byte[] before = listing(src);
        byte[] after = listing(restored);
        assertThat(new String(after, StandardCharsets.ISO_8859_1)).isEqualTo(new String(before, StandardCharsets.ISO_8859_1));
        String text = new String(before, StandardCharsets.ISO_8859_1);
        assertThat(text).contains("\tp\t0640\t", "\tl\t", "name-\u00ff\t", "name-\u00fe\t", "\t04755\t", "\t01777\t");
        if (root) {
            assertThat(text).as("the root folder's line").startsWith("\td\t0751\t4321:8765\t4321:8765\t");
            assertThat(text).contains("sub\td\t02750\t1:1\tdaemon:daemon\t", "abs-link\tl\t0777\t7:8\t");
        }
        // a target Java cannot build (empty segment, trailing slash): re-created exactly all the same
        assertThat(run(List.of("readlink", restored.resolve("odd-link").toString()), Map.of()).text())
                .isEqualTo("dir//x/\n");
        assertThat(run(List.of("readlink", restored.resolve("odd-bad-link").toString()), Map.of()).out())
                .isEqualTo("odd-\377//x/\n".getBytes(StandardCharsets.ISO_8859_1));

        // a restore into the source itself is refused with a usage error
        Run inside = backupctl("--config", config.toString(), "restore", "etc", "latest",
                "--target-dir", src.resolve("restored").toString());
        assertThat(inside.code()).isEqualTo(BackupCtl.USAGE);
        assertThat(inside.err()).contains("inside the source directory");
        assertThat(src.resolve("restored")).doesNotExist();
    }

    @Test
    void theStagingFolderOfAKilledRestoreIsRemovedByTheNextRestore() throws Exception {
        assertThat(JAR).as("the built jar (run this test with mvn verify, after package)").isRegularFile();
        Path src = Files.createDirectories(tmp.resolve("data/big"));
        Run made = sh("cd \"$SRC\" && truncate -s 1G big && printf small > small", Map.of("SRC", src.toString()));
        assertThat(made.code()).as(made.err()).isZero();
        Path config = Files.writeString(tmp.resolve("backup.yaml"), """
                storage:
                  - { name: local, type: filesystem, path: %s }
                sources:
                  - { name: big, type: directory, path: %s }
                """.formatted(Files.createDirectories(tmp.resolve("storage")), src));
        Run backup = backupctl("--config", config.toString(), "backup", "big");
        assertThat(backup.code()).as(backup.err()).isZero();

        Path parent = Files.createDirectories(tmp.resolve("restored"));
        Path target = parent.resolve("big");
        List<String> command = new ArrayList<>(List.of("bash", LAUNCHER.toString(), "--config", config.toString(),
                "restore", "big", "latest", "--target-dir", target.toString()));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().put("JAVA", Path.of(System.getProperty("java.home"), "bin", "java").toString());
        Process restore = pb.start();
        Path staging = null;
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (staging == null && restore.isAlive() && System.nanoTime() < deadline) {
            try (var list = Files.list(parent)) {
                staging = list.filter(p -> p.getFileName().toString().startsWith(".big.restore-")
                        && Files.isDirectory(p) && Files.exists(p.resolve("big"))).findFirst().orElse(null);
            }
            Thread.sleep(5);
        }
        assertThat(staging).as("the restore was caught while it wrote its staging folder").isNotNull();
        restore.destroyForcibly(); // SIGKILL: nothing of the restore runs any more
        assertThat(restore.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(staging).as("left by the kill").isDirectory();
        assertThat(parent.resolve(staging.getFileName() + ".owner")).isRegularFile();
        assertThat(target).as("the target was never half-filled").doesNotExist();

        Run again = backupctl("--config", config.toString(), "restore", "big", "latest",
                "--target-dir", target.toString());
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(staging).as("removed by the next restore into the same target").doesNotExist();
        try (var list = Files.list(parent)) {
            assertThat(list.map(p -> p.getFileName().toString())).containsExactly("big");
        }
        assertThat(Files.size(target.resolve("big"))).isEqualTo(1L << 30);
    }

    /** One line per entry, root first: name, type, mode, ids, names, mtime; sorted by bytes. */
    private byte[] listing(Path dir) throws Exception {
        Run find = run(List.of("sh", "-c", "cd \"$1\" && find . -printf '%P\\t%y\\t%#m\\t%U:%G\\t%u:%g\\t%T@\\n'"
                + " | LC_ALL=C sort", "sh", dir.toString()), Map.of());
        assertThat(find.code()).as(find.err()).isZero();
        return find.out();
    }

    private Run backupctl(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("bash", LAUNCHER.toString()));
        command.addAll(Arrays.asList(args));
        return run(command, Map.of("JAVA", Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    }

    private Run sh(String script) throws Exception {
        return sh(script, Map.of());
    }

    private Run sh(String script, Map<String, String> env) throws Exception {
        return run(List.of("bash", "-c", script), env);
    }

    private Run run(List<String> command, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).directory(tmp.toFile());
        pb.environment().putAll(env);
        Path err = Files.createTempFile(tmp, "stderr", ".txt");
        pb.redirectError(err.toFile());
        Process p = pb.start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        p.getInputStream().transferTo(out);
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IOException(command + " did not finish");
        }
        String errText = Files.readString(err, StandardCharsets.UTF_8);
        Files.delete(err);
        return new Run(p.exitValue(), out.toByteArray(), errText);
    }
}
