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
 * size, SHA-256 of the content, mode (with set-id and sticky bits), owner and group ids,
 * symlink target. Two snapshots are compared to prove that a restore gave back exactly what
 * was backed up.
 *
 * <p>Paths are keyed by their raw bytes (through {@link Path#toUri()}, which keeps them,
 * where {@code toString()} turns bytes that are not UTF-8 into U+FFFD): a name that is not
 * UTF-8 shows each invalid byte as {@code \xNN}, so two such names never share a key.
 *
 * @param entries every entry below the root by relative {@code /}-separated path; the root itself as {@code .}
 */
record TreeSnapshot(SortedMap<String, Entry> entries) {
    /** At most this many differences are listed; the rest are counted. */
    static final int MAX_DIFFERENCES = 50;

    /**
     * One entry.
     *
     * @param type        {@code file}, {@code directory}, {@code symlink}, {@code fifo} or {@code other}
     * @param size        bytes of a file, else 0
     * @param sha256      hex SHA-256 of a file's content, else null
     * @param permissions {@code rwxr-xr-x} form (an octal mode when set-id or sticky bits are set),
     *                    null for symlinks or without POSIX support
     * @param linkTarget  the target of a symlink as stored in the link, else null
     * @param owner       {@code uid:gid}, null without POSIX support
     */
    record Entry(String type, long size, String sha256, String permissions, String linkTarget, String owner) {
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
                entries.put(relative(root, dir), new Entry("directory", 0, null, permissions(dir), null, owner(dir)));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                String rel = relative(root, file);
                if (attrs.isSymbolicLink()) {
                    entries.put(rel, new Entry("symlink", 0, null, null, linkText(file), owner(file)));
                } else if (attrs.isRegularFile()) {
                    entries.put(rel, new Entry("file", attrs.size(), sha256(file), permissions(file), null, owner(file)));
                } else {
                    String type = (mode(file) & 0170000) == 0010000 ? "fifo" : "other";
                    entries.put(rel, new Entry(type, 0, null, permissions(file), null, owner(file)));
                }
                return FileVisitResult.CONTINUE;
            }
        });
        return new TreeSnapshot(entries);
    }

    /** Counts by type, for descriptions: {@code 23 files, 5 directories, 1 symlink, 8.0 MiB}. */
    String summary() {
        long files = entries.values().stream().filter(e -> e.type().equals("file")).count();
        long dirs = entries.values().stream().filter(e -> e.type().equals("directory")).count() - 1; // not the root
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
        if (!Objects.equals(original.owner(), restored.owner())) {
            what.add("owner " + original.owner() + " restored as " + restored.owner());
        }
        if (!Objects.equals(original.linkTarget(), restored.linkTarget())) {
            what.add("symlink target '" + original.linkTarget() + "' restored as '" + restored.linkTarget() + "'");
        }
        return what.isEmpty() ? null : path + ": " + String.join(", ", what);
    }

    private static String relative(Path root, Path p) {
        if (p.equals(root)) {
            return ".";
        }
        String rootUri = stripSlash(root.toAbsolutePath().toUri().getRawPath());
        String uri = stripSlash(p.toAbsolutePath().toUri().getRawPath());
        return shown(uri.substring(rootUri.length() + 1));
    }

    private static String stripSlash(String rawPath) {
        return rawPath.length() > 1 && rawPath.endsWith("/") ? rawPath.substring(0, rawPath.length() - 1) : rawPath;
    }

    /** The target of a link as its bytes say ({@code toString()} would lose bytes that are not UTF-8). */
    private static String linkText(Path link) throws IOException {
        Path target = Files.readSymbolicLink(link);
        String prefix = "/.tree-snapshot-no-such-dir";
        String raw = target.isAbsolute() ? target.toUri().getRawPath()
                : Path.of(prefix).resolve(target).toUri().getRawPath().substring(prefix.length() + 1);
        return shown(raw.endsWith("/") && !target.toString().endsWith("/") ? stripSlash(raw) : raw);
    }

    /** Percent-decoded bytes of a raw URI path as text, bytes that are not UTF-8 as {@code \xNN}. */
    private static String shown(String rawPath) {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < rawPath.length(); i++) {
            char c = rawPath.charAt(i);
            if (c == '%' && i + 2 < rawPath.length()) {
                bytes.write(Integer.parseInt(rawPath, i + 1, i + 3, 16));
                i += 2;
            } else {
                bytes.write(c);
            }
        }
        byte[] b = bytes.toByteArray();
        try {
            return java.nio.charset.StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(b)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            StringBuilder sb = new StringBuilder();
            for (byte x : b) {
                sb.append(x >= 0x20 && x < 0x7f ? String.valueOf((char) x) : String.format("\\x%02X", x & 0xff));
            }
            return sb.toString();
        }
    }

    private static String permissions(Path p) throws IOException {
        PosixFileAttributeView view = Files.getFileAttributeView(p, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
        if (view == null) {
            return null;
        }
        String rwx = PosixFilePermissions.toString(view.readAttributes().permissions());
        int special = mode(p) & 07000;
        return special == 0 ? rwx : String.format("%04o", mode(p) & 07777);
    }

    private static int mode(Path p) throws IOException {
        try {
            return (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            return 0;
        }
    }

    private static String owner(Path p) throws IOException {
        try {
            return Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS) + ":"
                    + Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS);
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            return null;
        }
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
