package com.aiplatform.backup.core;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/** A comparable description of a directory tree: per relative path, its type, mode and content hash or link target. */
final class TreeSnapshot {
    private TreeSnapshot() {
    }

    static Map<String, String> of(Path root) throws IOException {
        Map<String, String> entries = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                if (p.equals(root)) {
                    continue;
                }
                String rel = root.relativize(p).toString();
                if (Files.isSymbolicLink(p)) {
                    entries.put(rel, "link -> " + Files.readSymbolicLink(p));
                } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    entries.put(rel, "dir " + PosixFilePermissions.toString(Files.getPosixFilePermissions(p)));
                } else {
                    entries.put(rel, "file " + PosixFilePermissions.toString(Files.getPosixFilePermissions(p))
                            + " " + Files.size(p) + " " + sha256(p) + " mtime="
                            + Files.getLastModifiedTime(p).toMillis() / 1000);
                }
            }
        }
        return entries;
    }

    private static String sha256(Path file) throws IOException {
        MessageDigest digest = Sha256.newDigest();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[1 << 16];
            int n;
            while ((n = in.read(buffer)) > 0) {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /** Builds a tree with nested folders, empty files and folders, several modes and internal symlinks. */
    static void createSample(Path root) throws IOException {
        Files.createDirectories(root.resolve("conf/nested/deeper"));
        Files.createDirectories(root.resolve("empty-dir"));
        Files.writeString(root.resolve("conf/server.properties"), "broker.id=1\nlog.dirs=/var/lib/kafka\n");
        Files.writeString(root.resolve("conf/nested/deeper/jaas.conf"), "KafkaServer { required; };\n");
        Files.createFile(root.resolve("conf/empty.txt"));
        Path script = root.resolve("bin-start.sh");
        Files.writeString(script, "#!/bin/sh\nexec kafka-server-start.sh \"$@\"\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path secret = root.resolve("conf/secret.key");
        Files.writeString(secret, "not really a secret");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
        Files.setPosixFilePermissions(root.resolve("conf/nested"), PosixFilePermissions.fromString("rwxr-x---"));
        try (var out = Files.newOutputStream(root.resolve("conf/nested/data.log"))) {
            TestData.write(7, 3_000_000, false, out);
        }
        Files.writeString(root.resolve("n\u00e4me with spaces & \u00fcnicode.txt"), "x");
        Files.writeString(root.resolve("conf/" + "very-long-name-".repeat(12) + ".txt"), "long");
        Files.createSymbolicLink(root.resolve("current.properties"), Path.of("conf/server.properties"));
        Files.createSymbolicLink(root.resolve("conf/nested/up-link"), Path.of("../server.properties"));
        Files.createSymbolicLink(root.resolve("conf-link"), Path.of("conf"));
    }
}
