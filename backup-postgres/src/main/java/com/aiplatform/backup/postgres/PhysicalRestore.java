package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.spi.ArtifactSource;
import com.aiplatform.backup.spi.ProcessOwner;
import com.aiplatform.backup.spi.RestoreOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Materialises a data directory from a physical base backup.
 *
 * <p>Steps: check the target data directory ({@link RestoreOptions#targetDirectory()},
 * required; absent or empty unless {@link RestoreOptions#overwrite()}; never one with a
 * {@code postmaster.pid}) and every tablespace location; extract each {@code <oid>.tar} and
 * {@code base.tar} safely ({@link DataDirectoryTar}) into staging directories beside their
 * targets; point {@code pg_tblspc/<oid>} and {@code tablespace_map} at the new tablespace
 * locations; put {@code backup_manifest} into the data directory; let a {@link RecoverySetup}
 * add recovery settings; then move everything into place (tablespaces first, the data
 * directory last, mode 0700). A failure before the moves leaves no target touched.
 *
 * <p>Tablespace {@code <oid>} goes to option {@code tablespace-<oid>=<absolute path>} or by
 * default to {@code <target>/../<target-name>-tablespaces/<oid>}; never to its original
 * location, which may belong to the running source server.
 *
 * <p>With {@link RecoverySetup#TO_BACKUP_END} (the default) nothing else is written: starting
 * PostgreSQL on the directory runs recovery from {@code backup_label} with the WAL that
 * {@code base.tar} carries in {@code pg_wal/}, up to the backup's end (its consistent point).
 * Note: because {@code tablespace_map} is rewritten, {@code pg_verifybackup} reports that one
 * file as changed.
 */
final class PhysicalRestore {
    private static final Logger LOG = LoggerFactory.getLogger(PhysicalRestore.class);
    static final String TABLESPACE_OPTION_PREFIX = "tablespace-";
    private static final Pattern TABLESPACE_ARTIFACT = Pattern.compile("([1-9][0-9]{0,9})\\.tar");
    private static final SecureRandom RANDOM = new SecureRandom();

    private PhysicalRestore() {
    }

    /**
     * Where point-in-time recovery plugs in. Called with the staged data directory after the
     * base backup is extracted and before anything is moved into place, so a failure still
     * leaves the target untouched. An implementation copies the WAL segments it needs (for
     * example into {@code pg_wal/}, or a directory that {@code restore_command} reads) and calls
     * {@link #writeRecoverySettings} with {@code recovery_target_*} and
     * {@code recovery_target_action = 'promote'}.
     */
    @FunctionalInterface
    interface RecoverySetup {
        /** Recover to the base backup's own end (its consistent point); nothing extra is written. */
        RecoverySetup TO_BACKUP_END = (dataDirectory, baseBackup, source) -> { };

        /**
         * @param stagedDataDirectory the extracted data directory, not yet in its final place
         * @param baseBackup          the manifest of the base backup (start/stop LSN, timeline in its metadata)
         * @param source              the backup's artifacts, should more be needed
         */
        void prepare(Path stagedDataDirectory, Manifest baseBackup, ArtifactSource source) throws IOException;
    }

    static void run(PostgresConfig config, ArtifactSource source, RestoreOptions options) throws IOException {
        run(config, source, options, RecoverySetup.TO_BACKUP_END);
    }

    static void run(PostgresConfig config, ArtifactSource source, RestoreOptions options, RecoverySetup recovery)
            throws IOException {
        Manifest manifest = source.manifest();
        Path target = options.targetDirectory().orElseThrow(() -> new IllegalArgumentException(
                "restoring physical backup " + manifest.backupId() + " of source '" + config.name()
                        + "' needs a target data directory (--target-dir)")).toAbsolutePath().normalize();
        if (manifest.artifact(PhysicalBaseBackup.BASE_ARCHIVE).isEmpty()) {
            throw new IntegrityException(PhysicalBaseBackup.BASE_ARCHIVE, "backup " + manifest.backupId()
                    + " has no " + PhysicalBaseBackup.BASE_ARCHIVE + "; it is not a physical base backup");
        }
        Map<String, Path> tablespaces = tablespaceLocations(manifest, target, options);
        checkTarget(target, "target data directory", options.overwrite());
        for (Map.Entry<String, Path> e : tablespaces.entrySet()) {
            checkTarget(e.getValue(), "location of tablespace " + e.getKey(), options.overwrite());
        }

        List<Placement> placements = new ArrayList<>();
        try {
            for (Map.Entry<String, Path> e : tablespaces.entrySet()) {
                String artifact = e.getKey() + ".tar";
                Placement p = Placement.stage(e.getValue());
                placements.add(p);
                try (InputStream in = source.open(artifact)) {
                    DataDirectoryTar.extract(in, p.staging(), artifact, false);
                }
            }
            Placement data = Placement.stage(target);
            placements.add(data);
            DataDirectoryTar.Result base;
            try (InputStream in = source.open(PhysicalBaseBackup.BASE_ARCHIVE)) {
                base = DataDirectoryTar.extract(in, data.staging(), PhysicalBaseBackup.BASE_ARCHIVE, true);
            }
            linkTablespaces(data.staging(), base, tablespaces);
            if (manifest.artifact(PhysicalBaseBackup.MANIFEST_ARTIFACT).isPresent()) {
                Path dest = data.staging().resolve(PhysicalBaseBackup.MANIFEST_ARTIFACT);
                try (InputStream in = source.open(PhysicalBaseBackup.MANIFEST_ARTIFACT);
                     OutputStream out = Files.newOutputStream(dest, StandardOpenOption.CREATE_NEW)) {
                    in.transferTo(out);
                }
                Files.setPosixFilePermissions(dest, PosixFilePermissions.fromString("rw-------"));
            }
            recovery.prepare(data.staging(), manifest, source);
            Files.setPosixFilePermissions(data.staging(), PosixFilePermissions.fromString("rwx------"));
            for (Placement p : placements) {
                p.moveIntoPlace();
            }
            LOG.info("restored base backup {} of {} into {} ({} files, {} bytes{})", manifest.backupId(),
                    config.name(), target, base.files(), base.bytes(),
                    tablespaces.isEmpty() ? "" : ", tablespaces " + tablespaces);
        } finally {
            // newest first, so parents created for an earlier placement are empty when it cleans up
            for (int i = placements.size() - 1; i >= 0; i--) {
                Placement p = placements.get(i);
                try {
                    p.cleanUp();
                } catch (IOException e) {
                    LOG.warn("could not remove restore leftovers {}: {}", p.staging(), e.getMessage());
                }
            }
        }
    }

    /** Tablespace oid → where it is restored, from the backup's {@code <oid>.tar} artifacts and the options. */
    static Map<String, Path> tablespaceLocations(Manifest manifest, Path target, RestoreOptions options) {
        Map<String, Path> locations = new LinkedHashMap<>();
        for (var a : manifest.artifacts()) {
            Matcher m = TABLESPACE_ARTIFACT.matcher(a.name());
            if (m.matches()) {
                String oid = m.group(1);
                Path location = options.option(TABLESPACE_OPTION_PREFIX + oid).map(v -> {
                    Path p = Path.of(v);
                    if (!p.isAbsolute()) {
                        throw new IllegalArgumentException("option " + TABLESPACE_OPTION_PREFIX + oid + " must be an "
                                + "absolute path, not '" + v + "'");
                    }
                    return p;
                }).orElse(target.resolveSibling(target.getFileName() + "-tablespaces").resolve(oid));
                locations.put(oid, location.normalize());
            }
        }
        for (String key : options.options().keySet()) {
            if (key.startsWith(TABLESPACE_OPTION_PREFIX)
                    && !locations.containsKey(key.substring(TABLESPACE_OPTION_PREFIX.length()))) {
                throw new IllegalArgumentException("option " + key + " names no tablespace of backup "
                        + manifest.backupId() + "; its tablespaces are: "
                        + (locations.isEmpty() ? "none" : String.join(", ", new TreeSet<>(locations.keySet()))));
            }
        }
        List<Path> seen = new ArrayList<>();
        for (Map.Entry<String, Path> e : locations.entrySet()) {
            Path p = e.getValue();
            if (p.startsWith(target) || target.startsWith(p)) {
                throw new IllegalArgumentException("tablespace " + e.getKey() + " location " + p
                        + " must be outside the target data directory " + target + " and not contain it");
            }
            for (Path other : seen) {
                if (p.startsWith(other) || other.startsWith(p)) {
                    throw new IllegalArgumentException("tablespace locations " + other + " and " + p + " overlap");
                }
            }
            seen.add(p);
        }
        return locations;
    }

    private static void checkTarget(Path dir, String what, boolean overwrite) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new IllegalArgumentException(what + " " + dir + " exists and is not a directory");
        }
        if (Files.exists(dir.resolve("postmaster.pid"), LinkOption.NOFOLLOW_LINKS)) {
            throw new IllegalArgumentException(what + " " + dir + " holds postmaster.pid: a server may be running on "
                    + "it; stop it (and remove a stale postmaster.pid) before restoring there");
        }
        if (!overwrite && !isEmpty(dir)) {
            throw new IllegalArgumentException(what + " " + dir + " is not empty; choose an empty directory or allow "
                    + "overwriting");
        }
    }

    /** Points {@code pg_tblspc/<oid>} and {@code tablespace_map} at the new tablespace locations. */
    private static void linkTablespaces(Path dataDir, DataDirectoryTar.Result base, Map<String, Path> tablespaces)
            throws IOException {
        TreeSet<String> known = new TreeSet<>(base.tablespaceMap().keySet());
        known.addAll(base.tablespaceLinks().keySet());
        if (!known.equals(new TreeSet<>(tablespaces.keySet()))) {
            throw new IntegrityException(PhysicalBaseBackup.BASE_ARCHIVE, "the backup's tablespace archives "
                    + new TreeSet<>(tablespaces.keySet()) + " do not match the tablespaces " + known
                    + " that base.tar refers to");
        }
        if (tablespaces.isEmpty()) {
            return;
        }
        Path tblspc = dataDir.resolve("pg_tblspc");
        Files.createDirectories(tblspc);
        Map<String, String> map = new LinkedHashMap<>();
        for (Map.Entry<String, Path> e : tablespaces.entrySet()) {
            Files.createSymbolicLink(tblspc.resolve(e.getKey()), e.getValue());
            map.put(e.getKey(), e.getValue().toString());
        }
        if (!base.tablespaceMap().isEmpty()) {
            Files.writeString(dataDir.resolve(DataDirectoryTar.TABLESPACE_MAP), DataDirectoryTar.formatTablespaceMap(map),
                    StandardCharsets.UTF_8, StandardOpenOption.CREATE_NEW);
            Files.setPosixFilePermissions(dataDir.resolve(DataDirectoryTar.TABLESPACE_MAP),
                    PosixFilePermissions.fromString("rw-------"));
        }
    }

    /**
     * Writes recovery settings into a data directory: appends them to {@code postgresql.auto.conf}
     * (which PostgreSQL reads last, so they win) and creates {@code recovery.signal}, so that
     * the server starts in targeted recovery. For point-in-time restore (see {@link RecoverySetup}),
     * e.g. {@code restore_command}, {@code recovery_target_time},
     * {@code recovery_target_action = promote}. Not used for a plain base-backup restore.
     */
    static void writeRecoverySettings(Path dataDir, Map<String, String> settings) throws IOException {
        StringBuilder s = new StringBuilder("\n# recovery settings written by aiplatform-backup\n");
        for (Map.Entry<String, String> e : settings.entrySet()) {
            if (!e.getKey().matches("[a-z_][a-z0-9_]*")) {
                throw new IllegalArgumentException("'" + e.getKey() + "' is not a PostgreSQL setting name");
            }
            if (e.getValue().indexOf('\n') >= 0 || e.getValue().indexOf('\r') >= 0) {
                throw new IllegalArgumentException("setting " + e.getKey() + " must be a single line");
            }
            s.append(e.getKey()).append(" = '")
                    .append(e.getValue().replace("\\", "\\\\").replace("'", "''")).append("'\n");
        }
        Path conf = dataDir.resolve("postgresql.auto.conf");
        Files.writeString(conf, s.toString(), StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                StandardOpenOption.APPEND);
        Path signal = dataDir.resolve("recovery.signal");
        if (!Files.exists(signal)) {
            Files.createFile(signal);
        }
    }

    private static boolean isEmpty(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }

    /** {@code .<name>.restore-<hex>.owner} beside the staging folder: the restoring process. */
    static Path ownerMarker(Path staging) {
        return staging.resolveSibling(staging.getFileName() + ".owner");
    }

    /**
     * Removes what restores into {@code target} killed on this host left beside it: staging
     * folders whose owner process is gone, and the old target they had moved aside once the
     * new one is in place. A live restore's staging (its owner still runs, or runs on another
     * host sharing the folder) and unmarked folders (older versions) are left alone.
     */
    static void removeStaleStaging(Path target) throws IOException {
        Path parent = target.getParent();
        String prefix = "." + target.getFileName() + ".restore-";
        List<Path> markers;
        try (var list = Files.list(parent)) {
            markers = list.filter(p -> p.getFileName().toString().startsWith(prefix)
                    && p.getFileName().toString().endsWith(".owner")).toList();
        }
        for (Path marker : markers) {
            String name = marker.getFileName().toString();
            Path staging = marker.resolveSibling(name.substring(0, name.length() - ".owner".length()));
            java.util.Optional<ProcessOwner> owner = ProcessOwner.readMarker(marker);
            if (owner.isEmpty() || !owner.get().isDeadHere()) {
                continue;
            }
            Path displaced = target.resolveSibling("." + target.getFileName() + ".replaced-"
                    + staging.getFileName().toString().substring(prefix.length()));
            LOG.warn("removing the staging folder {} of a restore into {} by {} that is gone", staging, target,
                    owner.get().describe());
            deleteTree(staging);
            if (Files.exists(displaced, LinkOption.NOFOLLOW_LINKS)) {
                if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                    deleteTree(displaced);
                } else {
                    LOG.warn("{} holds the previous content of {}, which is missing: left for you to check",
                            displaced, target);
                    continue;
                }
            }
            Files.deleteIfExists(marker);
        }
    }

    /** A directory being built beside its final place, then moved there. */
    private static final class Placement {
        private final Path target;
        private final Path staging;
        private final Path createdAncestor;
        private Path displaced;
        private boolean placed;

        private Placement(Path target, Path staging, Path createdAncestor) {
            this.target = target;
            this.staging = staging;
            this.createdAncestor = createdAncestor;
        }

        static Placement stage(Path target) throws IOException {
            Path parent = target.getParent();
            Path createdAncestor = null;
            for (Path p = parent; p != null && !Files.exists(p, LinkOption.NOFOLLOW_LINKS); p = p.getParent()) {
                createdAncestor = p;
            }
            Files.createDirectories(parent);
            removeStaleStaging(target);
            byte[] random = new byte[4];
            RANDOM.nextBytes(random);
            Path staging = parent.resolve("." + target.getFileName() + ".restore-" + HexFormat.of().formatHex(random));
            ProcessOwner.writeMarker(ownerMarker(staging)); // first, so a staging folder never lacks its owner
            DataDirectoryTar.createPrivateDirectory(staging);
            return new Placement(target, staging, createdAncestor);
        }

        Path staging() {
            return staging;
        }

        /** Moves the staging directory to the target; an existing target is moved aside and deleted after. */
        void moveIntoPlace() throws IOException {
            if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                displaced = target.resolveSibling("." + target.getFileName() + ".replaced-"
                        + staging.getFileName().toString().substring(staging.getFileName().toString().lastIndexOf('-') + 1));
                Files.move(target, displaced, StandardCopyOption.ATOMIC_MOVE);
            }
            try {
                Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
                placed = true;
            } catch (IOException e) {
                if (displaced != null) {
                    Files.move(displaced, target, StandardCopyOption.ATOMIC_MOVE);
                    displaced = null;
                }
                throw e;
            }
        }

        /**
         * Deletes the staging directory and the parents created for it (when not placed), and the
         * displaced old target.
         */
        void cleanUp() throws IOException {
            if (!placed) {
                deleteTree(staging);
                Files.deleteIfExists(ownerMarker(staging));
                if (createdAncestor != null) {
                    for (Path p = staging.getParent(); p != null && p.startsWith(createdAncestor); p = p.getParent()) {
                        if (!isEmpty(p)) {
                            break;
                        }
                        Files.delete(p);
                    }
                }
            }
            if (displaced != null) {
                deleteTree(displaced);
            }
            Files.deleteIfExists(ownerMarker(staging));
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null) {
                    throw exc;
                }
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
