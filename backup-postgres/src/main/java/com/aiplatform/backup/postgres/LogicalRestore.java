package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.ArtifactEntry;
import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.SourceException;
import com.aiplatform.backup.spi.ArtifactSource;
import com.aiplatform.backup.spi.RestoreOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Logical restore: {@code globals.sql} through {@code psql} (on request), then the
 * {@code <database>.dump} archive through {@code pg_restore}.
 *
 * <p><b>Restore into a fresh database.</b> The safe way to restore over a live system is to
 * restore into a new database ({@code target-url} naming a database that does not exist, with
 * {@code create-database=true}), check it, and switch the applications over at the end (for
 * instance {@code ALTER DATABASE ... RENAME}); the live database is never touched, so a failed
 * restore costs nothing. Restoring into an existing database is possible ({@code clean=true}
 * replaces the objects the archive holds) and, without {@code jobs}, runs in one transaction:
 * a failure rolls everything back.
 *
 * <p>Options ({@link RestoreOptions#options()}):
 * <ul>
 *   <li>{@code target-url}: {@code postgresql://host:port/database} to restore into; default the
 *       source's own server and database. User, password and tools come from the source config.</li>
 *   <li>{@code create-database} ({@code true}/{@code false}, default false): create the target
 *       database (from {@code template0}, with the source's encoding and locale) if it is missing.
 *       If the restore then fails, the database created for it is dropped again.</li>
 *   <li>{@code clean} (default false): {@code pg_restore --clean --if-exists}, dropping each object
 *       of the archive before re-creating it.</li>
 *   <li>{@code jobs} (default 1): {@code pg_restore -j N}. Above 1 the archive is first staged to a
 *       private temporary file (mode 0600, deleted afterwards), since parallel restore needs a
 *       seekable file; a parallel restore cannot run in one transaction.</li>
 *   <li>{@code single-transaction} (default true unless {@code jobs} &gt; 1): all or nothing.</li>
 *   <li>{@code globals} (default false, because roles and tablespaces are cluster-wide): first
 *       run {@code globals.sql} with {@code psql}; roles that already exist are reported by the
 *       server as errors, which are tolerated (SQLSTATE 42710), every other error fails the restore.</li>
 *   <li>{@code staging-dir}: where the staged archive goes for {@code jobs}; default the system
 *       temporary directory.</li>
 * </ul>
 * Without {@code clean} the restore stops at the first error ({@code --exit-on-error}); so does
 * any single-transaction restore. Every failure names the target database, says what state it was
 * left in, and carries the tool's standard error with the password removed; a backup artifact
 * that fails its integrity check mid-stream kills pg_restore and is reported as an
 * {@link IntegrityException}.
 */
final class LogicalRestore {
    private static final Logger LOG = LoggerFactory.getLogger(LogicalRestore.class);

    static final Set<String> OPTIONS = Set.of("target-url", "create-database", "clean", "jobs",
            "single-transaction", "globals", "staging-dir");
    private static final int MAX_JOBS = 64;
    /** SQLSTATE duplicate_object: "role ... already exists" when restoring globals. */
    private static final String DUPLICATE_OBJECT = "42710";
    private static final Pattern PSQL_MESSAGE =
            Pattern.compile("^psql:.*?:\\d+: (?:(\\S+):\\s+([0-9A-Z]{5}): )?(.*)$");
    private static final int MAX_REPORTED_ERRORS = 20;

    private LogicalRestore() {
    }

    /**
     * The parsed options of one restore.
     *
     * @param target            server and database to restore into, with the source's credentials and tools
     * @param createDatabase    create the target database if missing
     * @param clean             drop the archive's objects before re-creating them
     * @param jobs              parallel pg_restore jobs; 1 streams the archive
     * @param singleTransaction restore in one transaction
     * @param globals           restore roles and tablespaces first
     * @param stagingDir        where to stage the archive for parallel restore
     */
    record Options(PostgresConfig target, boolean createDatabase, boolean clean, int jobs,
                   boolean singleTransaction, boolean globals, Optional<Path> stagingDir) {
        String where() {
            return target.host() + ":" + target.port();
        }

        String database() {
            return target.database();
        }
    }

    static void run(PostgresConfig config, ArtifactSource source, RestoreOptions options) throws IOException {
        Options o = parse(config, options);
        Manifest manifest = source.manifest();
        String dumpArtifact = dumpArtifact(manifest);
        if (o.globals() && manifest.artifact(LogicalBackup.GLOBALS_ARTIFACT).isEmpty()) {
            throw new IllegalArgumentException("option globals=true, but backup " + manifest.backupId()
                    + " has no " + LogicalBackup.GLOBALS_ARTIFACT);
        }
        try (Connection admin = connectMaintenance(o.target())) {
            String maintenance = admin.getCatalog();
            LogicalJdbc.ServerInfo info = LogicalJdbc.serverInfo(admin);
            int minimum = Math.max(info.major(), archiveMajor(manifest));
            PgTools.Tool pgRestore = PgTools.require(o.target(), PgTools.PG_RESTORE, minimum);
            PgTools.Tool psql = o.globals() ? PgTools.require(o.target(), PgTools.PSQL, info.major()) : null;
            boolean exists = databaseExists(admin, o.database());
            if (!exists && !o.createDatabase()) {
                throw new SourceException("target database '" + o.database() + "' does not exist on " + o.where()
                        + "; create it (empty, from template0) or set option create-database=true; nothing was "
                        + "restored", false);
            }
            if (o.globals()) {
                restoreGlobals(o, psql, maintenance, source);
            }
            boolean created = false;
            if (!exists) {
                createDatabase(admin, o.database(), manifest);
                created = true;
            }
            try {
                restoreArchive(o, pgRestore, source, dumpArtifact);
            } catch (IOException | RuntimeException e) {
                throw afterFailure(admin, info, o, created, e);
            }
            LOG.info("restored {} of {} into {}/{}", dumpArtifact, manifest.backupId(), o.where(), o.database());
        } catch (SQLException e) {
            throw LogicalJdbc.failure("logical restore into " + o.where() + "/" + o.database() + " failed", e);
        }
    }

    /** Parses and checks the restore options; errors name the option and its allowed values. */
    static Options parse(PostgresConfig config, RestoreOptions options) {
        Set<String> unknown = new TreeSet<>(options.options().keySet());
        unknown.removeAll(OPTIONS);
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("unknown restore option(s) " + unknown + " for a logical PostgreSQL "
                    + "backup; allowed: " + String.join(", ", new TreeSet<>(OPTIONS)));
        }
        PostgresConfig.Builder target = PostgresConfig.builder(config.name())
                .host(config.host()).port(config.port()).database(config.database())
                .user(config.user()).password(config.password().orElse(null))
                .toolsDir(config.toolsDir().orElse(null)).connectTimeout(config.connectTimeout())
                .mode(PostgresConfig.Mode.LOGICAL);
        options.option("target-url").ifPresent(url -> {
            try {
                target.url(url);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("restore option target-url: " + e.getMessage());
            }
        });
        PostgresConfig t = target.build();
        int jobs = options.option("jobs").map(v -> {
            try {
                int n = Integer.parseInt(v.trim());
                if (n >= 1 && n <= MAX_JOBS) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new IllegalArgumentException("restore option jobs must be a whole number from 1 to " + MAX_JOBS
                    + ", not '" + v + "'");
        }).orElse(1);
        boolean single = bool(options, "single-transaction", jobs == 1);
        if (single && jobs > 1) {
            throw new IllegalArgumentException("restore options single-transaction=true and jobs=" + jobs
                    + " cannot be combined: a parallel pg_restore uses several connections");
        }
        Optional<Path> staging = options.option("staging-dir").map(Path::of);
        return new Options(t, bool(options, "create-database", false), bool(options, "clean", false), jobs,
                single, bool(options, "globals", false), staging);
    }

    private static boolean bool(RestoreOptions options, String key, boolean fallback) {
        return options.option(key).map(v -> {
            if (v.trim().equalsIgnoreCase("true")) {
                return true;
            }
            if (v.trim().equalsIgnoreCase("false")) {
                return false;
            }
            throw new IllegalArgumentException("restore option " + key + " must be true or false, not '" + v + "'");
        }).orElse(fallback);
    }

    /** The archive artifact: named in the metadata, else the only {@code *.dump} artifact. */
    static String dumpArtifact(Manifest manifest) {
        String named = manifest.metadata().get(LogicalBackup.META_DUMP_ARTIFACT);
        if (named != null && manifest.artifact(named).isPresent()) {
            return named;
        }
        List<String> dumps = manifest.artifacts().stream().map(ArtifactEntry::name)
                .filter(n -> n.endsWith(LogicalBackup.DUMP_SUFFIX)).toList();
        if (dumps.size() != 1) {
            throw new IllegalArgumentException("backup " + manifest.backupId() + " holds " + dumps.size()
                    + " *.dump artifacts " + dumps + "; a logical backup holds exactly one");
        }
        return dumps.get(0);
    }

    /** Major version of the pg_dump that wrote the archive (0 when not recorded). */
    private static int archiveMajor(Manifest manifest) {
        String v = manifest.metadata().get(LogicalBackup.META_PG_DUMP_VERSION);
        try {
            return v == null ? 0 : PgTools.major(v);
        } catch (IllegalArgumentException e) {
            return 0;
        }
    }

    /** Connects to the {@code postgres} database, or {@code template1} where there is none. */
    private static Connection connectMaintenance(PostgresConfig target) throws SourceException {
        try {
            return LogicalJdbc.connect(target, "postgres");
        } catch (SourceException e) {
            if (e.getCause() instanceof SQLException sql && "3D000".equals(sql.getSQLState())) {
                return LogicalJdbc.connect(target, "template1");
            }
            throw e;
        }
    }

    private static boolean databaseExists(Connection c, String database) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_catalog.pg_database WHERE datname = ?")) {
            ps.setString(1, database);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** Creates the database from template0 with the source's encoding and locale when recorded. */
    private static void createDatabase(Connection c, String database, Manifest manifest) throws SQLException {
        Map<String, String> meta = manifest.metadata();
        String base = "CREATE DATABASE " + LogicalJdbc.quoteIdent(database) + " TEMPLATE template0";
        StringBuilder sql = new StringBuilder(base);
        if (meta.containsKey(LogicalBackup.META_ENCODING)) {
            sql.append(" ENCODING ").append(LogicalJdbc.quoteLiteral(meta.get(LogicalBackup.META_ENCODING)));
        }
        boolean withLocale = meta.containsKey(LogicalBackup.META_COLLATE) && meta.containsKey(LogicalBackup.META_CTYPE);
        String withoutLocale = sql.toString();
        if (withLocale) {
            sql.append(" LC_COLLATE ").append(LogicalJdbc.quoteLiteral(meta.get(LogicalBackup.META_COLLATE)))
                    .append(" LC_CTYPE ").append(LogicalJdbc.quoteLiteral(meta.get(LogicalBackup.META_CTYPE)));
        }
        try (Statement st = c.createStatement()) {
            try {
                st.execute(sql.toString());
            } catch (SQLException e) {
                if (!withLocale) {
                    throw e;
                }
                // the source's locale may not exist on this server: the server's default locale then
                LOG.warn("creating database {} with the source's locale failed ({}); creating it with the server's "
                        + "default locale", database, e.getMessage());
                st.execute(withoutLocale);
            }
        }
        LOG.info("created database {} for the restore", database);
    }

    private static void restoreArchive(Options o, PgTools.Tool pgRestore, ArtifactSource source, String artifact)
            throws IOException {
        List<String> args = new ArrayList<>(LogicalBackup.connectionArgs(o.target()));
        args.add("--dbname=" + LogicalJdbc.conninfoDbname(o.database()));
        if (o.clean()) {
            args.add("--clean");
            args.add("--if-exists");
        } else {
            args.add("--exit-on-error");
        }
        if (o.singleTransaction()) {
            args.add("--single-transaction");
        }
        String what = "pg_restore of " + artifact + " into database '" + o.database() + "' on " + o.where();
        if (o.jobs() > 1) {
            restoreStaged(o, pgRestore, args, source, artifact, what);
        } else {
            restoreStreaming(o, pgRestore, args, source, artifact, what);
        }
    }

    /** Pipes the archive into pg_restore's standard input. */
    private static void restoreStreaming(Options o, PgTools.Tool pgRestore, List<String> args, ArtifactSource source,
                                         String artifact, String what) throws IOException {
        try (LogicalProcess process = LogicalProcess.start(pgRestore, args, o.target().password(),
                o.target().connectTimeout(), true, null)) {
            boolean toolStoppedReading = false;
            try (InputStream in = source.open(artifact)) {
                OutputStream stdin = process.stdin();
                byte[] buffer = new byte[LogicalProcess.COPY_BUFFER];
                int n;
                while (!toolStoppedReading && (n = in.read(buffer)) >= 0) {
                    try {
                        stdin.write(buffer, 0, n);
                    } catch (IOException e) {
                        toolStoppedReading = true; // it exited; its exit code and stderr tell why
                    }
                }
                try {
                    stdin.close();
                } catch (IOException e) {
                    toolStoppedReading = true;
                }
            } catch (IOException | RuntimeException e) {
                process.destroy();
                throw new SourceException(what + " stopped: reading the backup failed (" + e.getMessage()
                        + "); pg_restore was killed", false, e);
            }
            int exit = process.waitFor();
            if (exit != 0) {
                throw process.failure(what + " failed", exit);
            }
            if (toolStoppedReading) {
                LOG.debug("pg_restore finished before reading the whole archive {}", artifact);
            }
            logWarnings(process);
        }
    }

    /** Stages the archive in a private temporary file and runs a parallel pg_restore on it. */
    private static void restoreStaged(Options o, PgTools.Tool pgRestore, List<String> args, ArtifactSource source,
                                      String artifact, String what) throws IOException {
        FileAttribute<?>[] dirMode = mode("rwx------");
        FileAttribute<?>[] fileMode = mode("rw-------");
        Path dir = o.stagingDir().isPresent()
                ? Files.createTempDirectory(o.stagingDir().get(), "pg-restore-", dirMode)
                : Files.createTempDirectory("pg-restore-", dirMode);
        Path file = dir.resolve("archive.dump");
        try {
            Files.createFile(file, fileMode);
            try (InputStream in = source.open(artifact);
                 OutputStream out = Files.newOutputStream(file, StandardOpenOption.WRITE,
                         StandardOpenOption.TRUNCATE_EXISTING)) {
                LogicalProcess.copy(in, out);
            }
            List<String> parallel = new ArrayList<>(args);
            parallel.add("--jobs=" + o.jobs());
            parallel.add(file.toString());
            try (LogicalProcess process = LogicalProcess.start(pgRestore, parallel, o.target().password(),
                    o.target().connectTimeout(), true, null)) {
                process.noInput();
                int exit = process.waitFor();
                if (exit != 0) {
                    throw process.failure(what + " failed", exit);
                }
                logWarnings(process);
            }
        } finally {
            Files.deleteIfExists(file);
            Files.deleteIfExists(dir);
        }
    }

    /** A POSIX mode to create a file or directory with, where the file system has modes. */
    private static FileAttribute<?>[] mode(String permissions) {
        if (!FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
            return new FileAttribute<?>[0];
        }
        return new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(permissions))};
    }

    /**
     * Runs {@code globals.sql} with psql on the maintenance database. psql goes on after an error
     * ({@code ON_ERROR_STOP=0}) so that roles which exist already do not stop the others; those
     * errors (SQLSTATE 42710) are tolerated, every other one fails the restore.
     */
    private static void restoreGlobals(Options o, PgTools.Tool psql, String maintenance, ArtifactSource source)
            throws IOException {
        List<String> args = new ArrayList<>(LogicalBackup.connectionArgs(o.target()));
        args.addAll(List.of("--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=0", "--set=VERBOSITY=verbose",
                "--dbname=" + LogicalJdbc.conninfoDbname(maintenance), "--file=-"));
        GlobalsErrors errors = new GlobalsErrors();
        String what = "restoring globals (roles, tablespaces) into " + o.where();
        try (LogicalProcess process = LogicalProcess.start(psql, args, o.target().password(),
                o.target().connectTimeout(), true, errors::accept)) {
            try (InputStream in = source.open(LogicalBackup.GLOBALS_ARTIFACT); OutputStream stdin = process.stdin()) {
                LogicalProcess.copy(in, stdin);
            } catch (IOException e) {
                if (!process.isAlive()) {
                    int exit = process.waitFor();
                    throw process.failure(what + " failed", exit);
                }
                process.destroy();
                throw new SourceException(what + " stopped: " + e.getMessage() + "; psql was killed, some globals "
                        + "may have been applied", false, e);
            }
            int exit = process.waitFor();
            if (exit != 0) {
                throw process.failure(what + " failed; statements before the failure were applied", exit);
            }
            List<String> unexpected = errors.unexpected();
            if (!unexpected.isEmpty()) {
                throw new SourceException(what + " failed: " + errors.unexpectedCount() + " statement(s) failed "
                        + "(the others were applied; nothing of the database was restored yet): "
                        + String.join(" | ", unexpected), false);
            }
            LOG.info("globals restored into {} ({} already existed)", o.where(), errors.tolerated());
        }
    }

    /** Sorts psql's error lines into tolerated ("already exists") and unexpected ones. */
    static final class GlobalsErrors {
        private final List<String> unexpected = new ArrayList<>();
        private int unexpectedCount;
        private int tolerated;

        synchronized void accept(String line) {
            Matcher m = PSQL_MESSAGE.matcher(line);
            if (!m.matches()) {
                return; // DETAIL/HINT/LOCATION continuation lines, or psql's own diagnostics without a position
            }
            String code = m.group(2);
            if (code != null && (code.startsWith("00") || code.startsWith("01"))) {
                return; // NOTICE / WARNING
            }
            if (DUPLICATE_OBJECT.equals(code)) {
                tolerated++;
                return;
            }
            unexpectedCount++;
            if (unexpected.size() < MAX_REPORTED_ERRORS) {
                unexpected.add(line);
            }
        }

        synchronized List<String> unexpected() {
            return List.copyOf(unexpected);
        }

        synchronized int unexpectedCount() {
            return unexpectedCount;
        }

        synchronized int tolerated() {
            return tolerated;
        }
    }

    /**
     * The exception for a failed pg_restore, saying what state the target was left in; a database
     * created for this restore is dropped again.
     */
    private static IOException afterFailure(Connection admin, LogicalJdbc.ServerInfo info, Options o, boolean created,
                                            Exception failure) {
        String state;
        if (created) {
            try (Statement st = admin.createStatement()) {
                st.execute("DROP DATABASE IF EXISTS " + LogicalJdbc.quoteIdent(o.database())
                        + (info.versionNum() >= 130000 ? " WITH (FORCE)" : ""));
                state = "the database '" + o.database() + "' created for this restore was dropped again";
            } catch (SQLException e) {
                state = "the database '" + o.database() + "' created for this restore is INCOMPLETE and could not be "
                        + "dropped (" + e.getMessage() + "); drop it before retrying";
            }
        } else if (o.singleTransaction()) {
            state = "the restore ran in one transaction, so nothing was applied to database '" + o.database() + "'";
        } else {
            state = "database '" + o.database() + "' on " + o.where() + " may be PARTIALLY RESTORED (a parallel "
                    + "restore is not atomic); restore into a fresh database (create-database=true) and switch over";
        }
        String message = failure.getMessage() + "; " + state;
        LOG.warn("logical restore failed: {}", message);
        if (failure.getCause() instanceof IntegrityException integrity) {
            return new IntegrityException(integrity.artifact(), message, failure);
        }
        return new SourceException(message, false, failure);
    }

    private static void logWarnings(LogicalProcess process) {
        String warnings = process.stderr();
        if (!warnings.isEmpty()) {
            LOG.warn("pg_restore printed: {}", warnings);
        }
    }
}
