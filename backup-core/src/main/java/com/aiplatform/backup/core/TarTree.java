package com.aiplatform.backup.core;

import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.SourceException;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/** Tar of a directory tree (POSIX format) and its safe extraction. */
final class TarTree {
    private static final int BUFFER = 64 * 1024;
    private static final LinkOption[] NOFOLLOW = {LinkOption.NOFOLLOW_LINKS};

    private TarTree() {
    }

    /** Counts of what was archived. */
    record Summary(long files, long directories, long symlinks, long bytes) { }

    /** Writes {@code root}'s tree (not following symlinks) as a tar stream into {@code out}. */
    static Summary write(Path root, OutputStream out) throws IOException {
        long[] counts = new long[4];
        TarArchiveOutputStream tar = new TarArchiveOutputStream(out, BUFFER, "UTF-8");
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        tar.setAddPaxHeadersForNonAsciiNames(true);
        byte[] buffer = new byte[BUFFER];
        List<Path> paths;
        try (Stream<Path> walk = Files.walk(root)) {
            paths = walk.filter(p -> !p.equals(root)).sorted(Comparator.comparing(p -> root.relativize(p).toString()))
                    .toList();
        }
        for (Path path : paths) {
            String name = root.relativize(path).toString().replace('\\', '/');
            BasicFileAttributes attrs = Files.readAttributes(path, BasicFileAttributes.class, NOFOLLOW);
            if (attrs.isSymbolicLink()) {
                TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_SYMLINK);
                e.setLinkName(Files.readSymbolicLink(path).toString());
                e.setModTime(attrs.lastModifiedTime());
                tar.putArchiveEntry(e);
                tar.closeArchiveEntry();
                counts[2]++;
            } else if (attrs.isDirectory()) {
                TarArchiveEntry e = new TarArchiveEntry(name + "/");
                e.setMode(TarArchiveEntry.DEFAULT_DIR_MODE & ~0777 | mode(path));
                e.setModTime(attrs.lastModifiedTime());
                tar.putArchiveEntry(e);
                tar.closeArchiveEntry();
                counts[1]++;
            } else if (attrs.isRegularFile()) {
                long size = attrs.size();
                TarArchiveEntry e = new TarArchiveEntry(name);
                e.setSize(size);
                e.setMode(TarArchiveEntry.DEFAULT_FILE_MODE & ~0777 | mode(path));
                e.setModTime(attrs.lastModifiedTime());
                tar.putArchiveEntry(e);
                long copied = 0;
                try (InputStream in = Files.newInputStream(path, NOFOLLOW)) {
                    int n;
                    while (copied < size && (n = in.read(buffer, 0, (int) Math.min(buffer.length, size - copied))) > 0) {
                        tar.write(buffer, 0, n);
                        copied += n;
                    }
                } catch (NoSuchFileException | FileNotFoundException gone) {
                    throw new SourceException("file " + path + " disappeared during the backup", true);
                }
                if (copied != size) {
                    throw new SourceException("file " + path + " shrank from " + size + " to " + copied
                            + " bytes during the backup; run it again", true);
                }
                tar.closeArchiveEntry();
                counts[0]++;
                counts[3] += size;
            }
            // sockets, FIFOs and devices are not configuration: left out
        }
        tar.finish();
        return new Summary(counts[0], counts[1], counts[2], counts[3]);
    }

    /** The same counts as {@link #write} gives, of a tree on disk. */
    static Summary summarize(Path root) throws IOException {
        long[] counts = new long[4];
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                if (p.equals(root)) {
                    continue;
                }
                BasicFileAttributes attrs = Files.readAttributes(p, BasicFileAttributes.class, NOFOLLOW);
                if (attrs.isSymbolicLink()) {
                    counts[2]++;
                } else if (attrs.isDirectory()) {
                    counts[1]++;
                } else if (attrs.isRegularFile()) {
                    counts[0]++;
                    counts[3] += attrs.size();
                }
            }
        }
        return new Summary(counts[0], counts[1], counts[2], counts[3]);
    }

    private static int mode(Path path) throws IOException {
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(path, NOFOLLOW);
        int mode = 0;
        for (PosixFilePermission p : perms) {
            mode |= 1 << (8 - p.ordinal());
        }
        return mode;
    }

    private static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> perms = EnumSet.noneOf(PosixFilePermission.class);
        for (PosixFilePermission p : PosixFilePermission.values()) {
            if ((mode & (1 << (8 - p.ordinal()))) != 0) {
                perms.add(p);
            }
        }
        return perms;
    }

    /**
     * Extracts a tar stream into {@code target}. Everything is first written to a staging
     * folder beside the target and moved into place only at the end; an entry that would
     * escape the target (absolute name, {@code ..}, a symlink pointing outside, a path
     * through a symlink) fails the whole restore with nothing moved into place.
     */
    static void extract(InputStream in, Path target, boolean overwrite) throws IOException {
        Path absoluteTarget = target.toAbsolutePath().normalize();
        if (Files.exists(absoluteTarget, NOFOLLOW)) {
            if (!Files.isDirectory(absoluteTarget, NOFOLLOW)) {
                throw new IllegalArgumentException("restore target " + target + " exists and is not a directory");
            }
            if (!overwrite && !isEmpty(absoluteTarget)) {
                throw new IllegalArgumentException("restore target " + target
                        + " is not empty; choose an empty directory or allow overwriting");
            }
        }
        Path parent = absoluteTarget.getParent();
        Files.createDirectories(parent);
        byte[] random = new byte[4];
        new SecureRandom().nextBytes(random);
        Path staging = parent.resolve("." + absoluteTarget.getFileName() + ".restore-" + HexFormat.of().formatHex(random));
        Files.createDirectory(staging, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        try {
            extractInto(in, staging);
            moveIntoPlace(staging, absoluteTarget);
        } finally {
            if (Files.exists(staging, NOFOLLOW)) {
                deleteTree(staging);
            }
        }
    }

    private static void extractInto(InputStream in, Path staging) throws IOException {
        record DirMode(Path dir, int mode, FileTime time) { }
        List<DirMode> dirModes = new ArrayList<>();
        TarArchiveInputStream tar = new TarArchiveInputStream(in, BUFFER, "UTF-8");
        byte[] buffer = new byte[BUFFER];
        TarArchiveEntry entry;
        while ((entry = tar.getNextEntry()) != null) {
            String name = entry.getName();
            Path dest = safeResolve(staging, name);
            if (entry.isDirectory()) {
                Files.createDirectories(dest);
                dirModes.add(new DirMode(dest, entry.getMode() & 0777, FileTime.from(entry.getModTime().toInstant())));
            } else if (entry.isSymbolicLink()) {
                String link = entry.getLinkName();
                Path linkPath = Path.of(link);
                Path resolved = dest.getParent().resolve(linkPath).normalize();
                if (linkPath.isAbsolute() || !resolved.startsWith(staging)) {
                    throw new IntegrityException(DirectoryBackupProvider.ARTIFACT, "refusing symlink " + name
                            + " -> " + link + ": it points outside the restore target");
                }
                Files.createDirectories(dest.getParent());
                Files.createSymbolicLink(dest, linkPath);
            } else if (entry.isFile()) {
                Files.createDirectories(dest.getParent());
                try (OutputStream out = Files.newOutputStream(dest, java.nio.file.StandardOpenOption.CREATE_NEW,
                        java.nio.file.StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
                    int n;
                    while ((n = tar.read(buffer)) > 0) {
                        out.write(buffer, 0, n);
                    }
                }
                Files.setPosixFilePermissions(dest, permissions(entry.getMode() & 0777));
                Files.setLastModifiedTime(dest, FileTime.from(entry.getModTime().toInstant()));
            } else {
                throw new IntegrityException(DirectoryBackupProvider.ARTIFACT, "refusing tar entry " + name
                        + " of an unsupported type (hard links, devices and FIFOs are never written by this tool)");
            }
        }
        // Directory modes last (deepest first) so read-only folders do not block their own content.
        for (int i = dirModes.size() - 1; i >= 0; i--) {
            DirMode d = dirModes.get(i);
            Files.setPosixFilePermissions(d.dir(), permissions(d.mode()));
            Files.setLastModifiedTime(d.dir(), d.time());
        }
    }

    /** Resolves an entry name inside {@code root}, refusing escapes and paths through symlinks. */
    private static Path safeResolve(Path root, String name) throws IntegrityException {
        String trimmed = name.endsWith("/") ? name.substring(0, name.length() - 1) : name;
        if (trimmed.isEmpty() || trimmed.startsWith("/") || trimmed.indexOf('\0') >= 0 || trimmed.contains("\\")) {
            throw new IntegrityException(DirectoryBackupProvider.ARTIFACT, "refusing tar entry '" + name
                    + "': absolute or malformed name");
        }
        for (String segment : trimmed.split("/")) {
            if (segment.equals("..")) {
                throw new IntegrityException(DirectoryBackupProvider.ARTIFACT, "refusing tar entry '" + name
                        + "': it climbs out of the restore target with '..'");
            }
        }
        Path dest = root.resolve(trimmed).normalize();
        if (!dest.startsWith(root) || dest.equals(root)) {
            throw new IntegrityException(DirectoryBackupProvider.ARTIFACT, "refusing tar entry '" + name
                    + "': it resolves outside the restore target");
        }
        for (Path p = dest.getParent(); p != null && !p.equals(root); p = p.getParent()) {
            if (Files.isSymbolicLink(p)) {
                throw new IntegrityException(DirectoryBackupProvider.ARTIFACT, "refusing tar entry '" + name
                        + "': it would be written through the symlink " + root.relativize(p));
            }
        }
        if (Files.exists(dest, NOFOLLOW) && !Files.isDirectory(dest, NOFOLLOW)) {
            throw new IntegrityException(DirectoryBackupProvider.ARTIFACT, "refusing tar entry '" + name
                    + "': the archive holds it twice");
        }
        return dest;
    }

    private static void moveIntoPlace(Path staging, Path target) throws IOException {
        if (!Files.exists(target, NOFOLLOW)) {
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            return;
        }
        if (isEmpty(target)) {
            Files.delete(target);
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            return;
        }
        // Overwrite requested: replace entry by entry at the top level.
        try (Stream<Path> children = Files.list(staging)) {
            for (Path child : children.toList()) {
                Path dest = target.resolve(child.getFileName().toString());
                if (Files.exists(dest, NOFOLLOW)) {
                    deleteTree(dest);
                }
                Files.move(child, dest, StandardCopyOption.ATOMIC_MOVE);
            }
        }
        Files.setPosixFilePermissions(target, Files.getPosixFilePermissions(staging));
    }

    private static boolean isEmpty(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, NOFOLLOW)) {
            return;
        }
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                try {
                    Files.delete(dir);
                } catch (DirectoryNotEmptyException e) {
                    throw e;
                }
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
