package com.aiplatform.backup.cli;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What a directory tree holds, entry by entry, without following symbolic links: type,
 * size, SHA-256 of the content, POSIX permissions, symlink target. Two snapshots are compared
 * to prove that a restore gave back exactly what was backed up.
 *
 * @param entries every entry below the root by relative {@code /}-separated path (the root itself excluded)
 */
record TreeSnapshot(SortedMap<String, Entry> entries) {
    /** At most this many differences are listed; the rest are counted. */
    static final int MAX_DIFFERENCES = 50;

    /**
     * One entry.
     *
     * @param type        {@code file}, {@code directory}, {@code symlink} or {@code other}
     * @param size        bytes of a file, else 0
     * @param sha256      hex SHA-256 of a file's content, else null
     * @param permissions {@code rwxr-xr-x} form, null for symlinks or without POSIX support
     * @param linkTarget  the target of a symlink as stored in the link, else null
     */
    record Entry(String type, long size, String sha256, String permissions, String linkTarget) {
    }

    TreeSnapshot {
        entries = new TreeMap<>(entries);
    }

    /** Walks {@code root} (which must be a directory) without following links. */
    static TreeSnapshot of(Path root) throws IOException {
        SortedMap<String, Entry> entries = new TreeMap<>();
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                if (!dir.equals(root)) {
                    entries.put(relative(root, dir), new Entry("directory", 0, null, permissions(dir), null));
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                String rel = relative(root, file);
                if (attrs.isSymbolicLink()) {
                    entries.put(rel, new Entry("symlink", 0, null, null, Files.readSymbolicLink(file).toString()));
                } else if (attrs.isRegularFile()) {
                    entries.put(rel, new Entry("file", attrs.size(), sha256(file), permissions(file), null));
                } else {
                    entries.put(rel, new Entry("other", 0, null, permissions(file), null));
                }
                return FileVisitResult.CONTINUE;
            }
        });
        return new TreeSnapshot(entries);
    }

    /** Counts by type, for descriptions: {@code 23 files, 5 directories, 1 symlink, 8.0 MiB}. */
    String summary() {
        long files = entries.values().stream().filter(e -> e.type().equals("file")).count();
        long dirs = entries.values().stream().filter(e -> e.type().equals("directory")).count();
        long links = entries.values().stream().filter(e -> e.type().equals("symlink")).count();
        long bytes = entries.values().stream().mapToLong(Entry::size).sum();
        return files + " files, " + dirs + " directories, " + links + (links == 1 ? " symlink, " : " symlinks, ")
                + Formats.bytes(bytes);
    }

    /** Differences of {@code restored} from this (the original), one line each; empty when identical. */
    List<String> differences(TreeSnapshot restored) {
        List<String> out = new ArrayList<>();
        int total = 0;
        TreeSet<String> paths = new TreeSet<>(entries.keySet());
        paths.addAll(restored.entries.keySet());
        for (String path : paths) {
            String d = difference(path, entries.get(path), restored.entries.get(path));
            if (d != null) {
                total++;
                if (out.size() < MAX_DIFFERENCES) {
                    out.add(d);
                }
            }
        }
        if (total > out.size()) {
            out.add("... and " + (total - out.size()) + " more differences");
        }
        return out;
    }

    private static String difference(String path, Entry original, Entry restored) {
        if (restored == null) {
            return path + ": missing from the restore (" + original.type() + ")";
        }
        if (original == null) {
            return path + ": in the restore but not in the original (" + restored.type() + ")";
        }
        if (!original.type().equals(restored.type())) {
            return path + ": " + original.type() + " restored as " + restored.type();
        }
        List<String> what = new ArrayList<>();
        if (original.size() != restored.size()) {
            what.add("size " + original.size() + " restored as " + restored.size());
        } else if (!Objects.equals(original.sha256(), restored.sha256())) {
            what.add("content differs (SHA-256 " + original.sha256() + " restored as " + restored.sha256() + ")");
        }
        if (!Objects.equals(original.permissions(), restored.permissions())) {
            what.add("permissions " + original.permissions() + " restored as " + restored.permissions());
        }
        if (!Objects.equals(original.linkTarget(), restored.linkTarget())) {
            what.add("symlink target '" + original.linkTarget() + "' restored as '" + restored.linkTarget() + "'");
        }
        return what.isEmpty() ? null : path + ": " + String.join(", ", what);
    }

    private static String relative(Path root, Path p) {
        List<String> parts = new ArrayList<>();
        root.relativize(p).forEach(part -> parts.add(part.toString()));
        return String.join("/", parts);
    }

    private static String permissions(Path p) throws IOException {
        PosixFileAttributeView view = Files.getFileAttributeView(p, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
        return view == null ? null : PosixFilePermissions.toString(view.readAttributes().permissions());
    }

    static String sha256(Path file) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
        byte[] buffer = new byte[64 * 1024];
        try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }
}
