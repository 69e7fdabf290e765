package com.aiplatform.backup.core;

import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.api.ConsistentPoint;
import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.ArtifactSource;
import com.aiplatform.backup.spi.BackupContext;
import com.aiplatform.backup.spi.BackupProvider;
import com.aiplatform.backup.spi.BackupSession;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.RestoreSession;
import com.aiplatform.backup.spi.Settings;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The built-in {@code directory} provider: backs a directory tree up as one tar artifact
 * ({@code tree.tar}) and restores it into a target directory the way GNU tar does: files,
 * folders, symlinks (their target text unchanged, wherever they point), FIFOs, every
 * entry's mode (with set-id and sticky bits), modification time, owner and group (numeric
 * ids and names), the root folder's included. Owners are restored when the restore runs as
 * root (by name where that name exists, else by id). Sockets and devices are not backed up:
 * each is named in a warning and in the manifest's {@code skipped} metadata.
 *
 * <p>File names are kept as raw bytes, so names that are not UTF-8 round-trip exactly and
 * never collide. The JDK decodes names with {@code sun.jnu.encoding} (UTF-8 under
 * {@code LANG=C.UTF-8}; not settable on JDK 17: {@code -Dsun.jnu.encoding} is ignored), so
 * {@code Path.toString()} turns invalid bytes into U+FFFD; this provider reads and creates
 * names through {@code file:} URIs, which carry the bytes, and needs no JVM flag, in
 * {@code backupctl} or in an embedding application. Symlink targets with an empty segment
 * or a trailing slash ({@code a//b}, {@code dir/}), which no Java {@code Path} can hold, are
 * created with {@code ln -s}; FIFOs with {@code mkfifo} (the JDK has no way to make one).
 *
 * <p>Restore extracts into a hidden staging folder beside the target and moves it into place
 * only when every entry was extracted, so a failed restore never leaves a half-filled target.
 * Symlinks are created after every file and folder; an entry that is absolute, climbs out
 * with {@code ..}, or would be written through a symlink of the archive is refused with a
 * {@link com.aiplatform.backup.api.PolicyException} ("refused by policy", not an integrity
 * failure: the archive is intact) and nothing is moved into place. A staging folder left by
 * a killed restore is removed by the next restore into the same target.
 */
public final class DirectoryBackupProvider implements BackupProvider<DirectoryConfig> {
    /** The engine name: {@code type: directory} in configuration. */
    public static final String ENGINE = "directory";
    static final String ARTIFACT = "tree.tar";
    /** Manifest metadata: {@code bytes} when tar names are raw bytes (absent in earlier backups: UTF-8). */
    static final String NAMES = "tar-names";
    /** Manifest metadata: sockets and devices left out, by name. */
    static final String SKIPPED = "skipped";
    private static final int MAX_SKIPPED_LISTED = 100;

    @Override
    public String engine() {
        return ENGINE;
    }

    @Override
    public Class<DirectoryConfig> configType() {
        return DirectoryConfig.class;
    }

    @Override
    public DirectoryConfig parseConfig(String name, Settings settings) {
        settings.rejectUnknown(Set.of("name", "type", "path"));
        return new DirectoryConfig(name, settings.requirePath("path"));
    }

    @Override
    public List<Problem> check(DirectoryConfig config) {
        List<Problem> problems = new ArrayList<>();
        Path dir = config.path();
        if (!Files.exists(dir)) {
            problems.add(new Problem("missing", "directory " + dir + " does not exist"));
        } else if (!Files.isDirectory(dir)) {
            problems.add(new Problem("not-a-directory", dir + " is not a directory"));
        } else if (!Files.isReadable(dir)) {
            problems.add(new Problem("not-readable", "directory " + dir + " is not readable"));
        }
        return problems;
    }

    @Override
    public BackupSession openBackup(DirectoryConfig config, BackupContext context) {
        return new BackupSession() {
            @Override
            public BackupResult run(ArtifactSink sink) throws IOException {
                Instant start = Instant.now();
                TarTree.Summary summary;
                try (OutputStream out = sink.openArtifact(ARTIFACT)) {
                    summary = TarTree.write(config.path(), out);
                }
                Map<String, String> metadata = new java.util.TreeMap<>();
                metadata.put("path", config.path().toString());
                metadata.put(NAMES, "bytes");
                List<String> skipped = summary.skipped();
                if (!skipped.isEmpty()) {
                    String listed = String.join(", ", skipped.subList(0, Math.min(skipped.size(), MAX_SKIPPED_LISTED)));
                    metadata.put(SKIPPED, skipped.size() + " not backed up (sockets and devices): " + listed
                            + (skipped.size() > MAX_SKIPPED_LISTED ? ", ..." : ""));
                }
                return new BackupResult(BackupKind.FULL, "tar",
                        new ConsistentPoint("files=" + summary.files() + ",bytes=" + summary.bytes(), start),
                        null, metadata, counts(summary));
            }

            @Override
            public void close() {
            }
        };
    }

    /** Counts files, directories, symlinks and bytes of the restored tree, as the backup did. */
    @Override
    public java.util.Optional<Map<String, Long>> summarizeRestored(DirectoryConfig config,
            com.aiplatform.backup.api.Manifest manifest, RestoreOptions options) throws IOException {
        java.nio.file.Path target = options.targetDirectory().orElseThrow(() -> new IllegalArgumentException(
                "a drill of directory source '" + config.name() + "' needs a target directory"));
        return java.util.Optional.of(counts(TarTree.summarize(target)));
    }

    /** The content summary: FIFOs counted only when there are some (earlier backups never had them). */
    private static Map<String, Long> counts(TarTree.Summary s) {
        Map<String, Long> counts = new java.util.TreeMap<>(Map.of("files", s.files(), "directories", s.directories(),
                "symlinks", s.symlinks(), "bytes", s.bytes()));
        if (s.fifos() > 0) {
            counts.put("fifos", s.fifos());
        }
        return counts;
    }

    @Override
    public RestoreSession openRestore(DirectoryConfig config, RestoreOptions options) {
        Path target = options.targetDirectory().orElseThrow(() -> new IllegalArgumentException(
                "restoring directory source '" + config.name() + "' needs a target directory (--target-dir)"));
        refuseInsideSource(config, target);
        return new RestoreSession() {
            @Override
            public void restore(ArtifactSource source) throws IOException {
                boolean rawNames = "bytes".equals(source.manifest().metadataView().get(NAMES));
                try (InputStream in = source.open(ARTIFACT)) {
                    TarTree.extract(in, target, options.overwrite(), rawNames);
                }
            }

            @Override
            public void close() {
            }
        };
    }

    /** A restore into the source folder (or below it) would mix the restored tree into the live one. */
    private static void refuseInsideSource(DirectoryConfig config, Path target) {
        Path source = realOrNormalized(config.path());
        Path into = realOrNormalized(target);
        if (into.startsWith(source)) {
            throw new IllegalArgumentException("restore target " + target + (into.equals(source) ? " is" : " is inside")
                    + " the source directory " + config.path() + " of '" + config.name()
                    + "'; restore into a directory outside it (then move what you need)");
        }
    }

    /** The real path of the nearest existing ancestor, with the rest appended: symlinks resolved where they exist. */
    private static Path realOrNormalized(Path path) {
        Path abs = path.toAbsolutePath().normalize();
        Path existing = abs;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return abs;
        }
        try {
            return existing.toRealPath().resolve(existing.relativize(abs));
        } catch (IOException e) {
            return abs;
        }
    }
}
