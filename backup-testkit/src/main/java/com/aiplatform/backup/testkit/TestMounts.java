package com.aiplatform.backup.testkit;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Real read-only folders and real small disks for tests, which usually run as root: root
 * ignores permission bits, so {@code chmod a-w} makes nothing read-only for it. A folder is
 * made read-only by a read-only bind mount of itself ({@code mount --bind} then
 * {@code mount -o remount,bind,ro}), or else by {@code chattr -R +i} (ext4, xfs, btrfs), or else
 * by permission bits (effective only when the tests do not run as root); each way is checked by trying to
 * create a file, and when none works the calling test is skipped with a message saying what
 * was tried and why it failed. A small disk is a {@code tmpfs} of a given size.
 */
public final class TestMounts {
    private TestMounts() {
    }

    /** Undoes what made the folder read-only (or the disk mounted); safe to call twice. */
    public interface Undo extends AutoCloseable {
        /** How the folder was made read-only or the disk mounted, for test output. */
        String how();

        @Override
        void close() throws IOException;
    }

    /**
     * Makes {@code folder} (an existing folder and everything below it) read-only for this
     * process and its children, verified by trying to create a file in it and in each of its
     * sub-folders. Skips the calling test, saying why, when no way works here.
     */
    public static Undo readOnly(Path folder) throws IOException {
        Path dir = folder.toAbsolutePath().normalize();
        List<String> tried = new ArrayList<>();
        String bind = run("mount", "--bind", dir.toString(), dir.toString());
        if (bind == null) {
            String remount = run("mount", "-o", "remount,bind,ro", dir.toString());
            Undo undo = new Undo() {
                private boolean done;

                @Override
                public String how() {
                    return "read-only bind mount";
                }

                @Override
                public synchronized void close() throws IOException {
                    if (!done) {
                        done = true;
                        String failed = run("umount", dir.toString());
                        if (failed != null) {
                            throw new IOException("umount " + dir + " failed: " + failed);
                        }
                    }
                }
            };
            if (remount == null && readOnlyEverywhere(dir)) {
                return undo;
            }
            undo.close();
            tried.add("read-only bind mount: " + (remount == null ? "files could still be created" : remount));
        } else {
            tried.add("bind mount: " + bind);
        }
        String chattr = run("chattr", "-R", "+i", dir.toString());
        if (chattr == null && readOnlyEverywhere(dir)) {
            return simpleUndo("chattr +i", () -> run("chattr", "-R", "-i", dir.toString()));
        }
        run("chattr", "-R", "-i", dir.toString());
        tried.add("chattr -R +i: " + (chattr == null ? "files could still be created" : chattr));
        List<Path> folders = folders(dir);
        for (Path f : folders) {
            Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("r-x------"));
        }
        Undo chmod = simpleUndo("permission bits", () -> {
            for (Path f : folders) {
                Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rwx------"));
            }
            return null;
        });
        if (readOnlyEverywhere(dir)) {
            return chmod;
        }
        chmod.close();
        tried.add("chmod a-w: this user ignores permission bits (root or CAP_DAC_OVERRIDE)");
        Assumptions.abort("cannot make " + dir + " read-only for this process, so the read-only storage test "
                + "is skipped; tried: " + String.join("; ", tried));
        throw new AssertionError("unreachable");
    }

    /**
     * Mounts a {@code tmpfs} of {@code bytes} bytes on the existing, empty folder
     * {@code mountPoint}: a real disk that fills up (ENOSPC). Skips the calling test, saying
     * why, when mounting is not allowed here.
     */
    public static Undo smallDisk(Path mountPoint, long bytes) throws IOException {
        Path dir = mountPoint.toAbsolutePath().normalize();
        String failed = run("mount", "-t", "tmpfs", "-o", "size=" + bytes + ",mode=0700", "tmpfs", dir.toString());
        Assumptions.assumeTrue(failed == null, () -> "cannot mount a " + bytes + "-byte tmpfs on " + dir
                + " (" + failed + "), so the disk-full test is skipped");
        return simpleUndo("tmpfs of " + bytes + " bytes", () -> run("umount", dir.toString()));
    }

    private interface Command {
        String run() throws IOException;
    }

    private static Undo simpleUndo(String how, Command undo) {
        return new Undo() {
            private boolean done;

            @Override
            public String how() {
                return how;
            }

            @Override
            public synchronized void close() throws IOException {
                if (!done) {
                    done = true;
                    String failed = undo.run();
                    if (failed != null) {
                        throw new IOException("undoing the " + how + " failed: " + failed);
                    }
                }
            }
        };
    }

    /** True when no file can be created in {@code dir} nor in any folder below it. */
    private static boolean readOnlyEverywhere(Path dir) throws IOException {
        for (Path folder : folders(dir)) {
            Path probe = folder.resolve(".read-only-probe");
            try {
                Files.createFile(probe);
                Files.delete(probe);
                return false;
            } catch (IOException e) {
                // refused, as wanted
            }
        }
        return true;
    }

    private static List<Path> folders(Path dir) throws IOException {
        try (var walk = Files.walk(dir)) {
            return walk.filter(Files::isDirectory).toList();
        }
    }

    /** Runs a command; null when it succeeded, else what it said (or why it could not start). */
    private static String run(String... command) throws IOException {
        Process p;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            return command[0] + " cannot be run: " + e.getMessage();
        }
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return String.join(" ", command) + " did not finish within 60 s";
            }
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            return p.exitValue() == 0 ? null
                    : String.join(" ", command) + " exited with " + p.exitValue() + (output.isEmpty() ? "" : ": " + output);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted while running " + String.join(" ", command), e);
        }
    }
}
