package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.api.ConsistentPoint;
import com.aiplatform.backup.api.SourceException;
import com.aiplatform.backup.spi.ArtifactSink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * Logical backup: {@code pg_dump -Fc} of the configured database and {@code pg_dumpall
 * --globals-only} (roles, tablespaces), each streamed from the tool's standard output into an
 * artifact, never held whole in memory.
 *
 * <p>Artifacts: {@code <database>.dump} (custom format, for {@code pg_restore}) and
 * {@code globals.sql} (plain SQL, for {@code psql}).
 *
 * <p>Consistency: the WAL position ({@code pg_current_wal_lsn()}, or the replay position on a
 * standby) and the time are read first; then a repeatable-read transaction exports its snapshot,
 * and {@code pg_dump --snapshot} dumps exactly that snapshot, so every transaction committed before
 * the recorded position is in the dump. The exact row count of every dumped table is taken in the
 * same snapshot, while pg_dump runs, so the content summary matches the dump row for row.
 *
 * <p>The password reaches the tools only through their environment ({@code PGPASSWORD}); a tool's
 * error is reported with its standard error, password removed. A failing tool or sink kills the
 * tool and leaves the artifact unclosed, so the engine aborts it and writes no manifest.
 */
final class LogicalBackup {
    private static final Logger LOG = LoggerFactory.getLogger(LogicalBackup.class);

    /** Artifact holding {@code pg_dumpall --globals-only}. */
    static final String GLOBALS_ARTIFACT = "globals.sql";
    /** Suffix of the artifact holding {@code pg_dump -Fc}. */
    static final String DUMP_SUFFIX = ".dump";
    /** Manifest metadata key naming the dump artifact. */
    static final String META_DUMP_ARTIFACT = "dump-artifact";
    static final String META_PG_DUMP_VERSION = "pg-dump-version";
    static final String META_ENCODING = "encoding";
    static final String META_COLLATE = "lc-collate";
    static final String META_CTYPE = "lc-ctype";

    /** {@code pg_dump -Z} level meaning "pg_dump's own default" (gzip, level 6). */
    static final int PG_DUMP_DEFAULT_COMPRESSION = -1;
    /**
     * The {@code pg_dump -Z} level used: 0, no compression in pg_dump, since the pipeline
     * compresses with zstd-1 on its own threads anyway. Measured with {@code LogicalOverheadBenchmark}
     * (2 cores, PostgreSQL 15): on 557 MB of ordinary text/number/jsonb rows a backup with {@code -Z0}
     * + zstd + encryption took 0.40-0.50x the time of {@code pg_dump -Fc > file} (pg_dump's gzip is
     * the bottleneck there), while keeping pg_dump's gzip took 0.85-1.11x; on pgbench's
     * blank-padded rows, where gzip costs almost nothing, both settings were alike.
     */
    static final int DUMP_COMPRESSION = 0;

    private LogicalBackup() {
    }

    static BackupResult run(PostgresConfig config, ArtifactSink sink) throws IOException {
        return run(config, sink, DUMP_COMPRESSION);
    }

    /**
     * Runs the backup.
     *
     * @param dumpCompression {@code pg_dump -Z} level, or {@link #PG_DUMP_DEFAULT_COMPRESSION}
     */
    static BackupResult run(PostgresConfig config, ArtifactSink sink, int dumpCompression) throws IOException {
        String where = LogicalJdbc.where(config, config.database());
        try (Connection c = LogicalJdbc.connect(config, config.database())) {
            LogicalJdbc.ServerInfo info = LogicalJdbc.serverInfo(c);
            PgTools.Tool pgDump = PgTools.require(config, PgTools.PG_DUMP, info.major());
            PgTools.Tool pgDumpall = PgTools.require(config, PgTools.PG_DUMPALL, info.major());

            // the globals run beside the dump (another process, another artifact); their artifact is
            // opened first so that the manifest lists the artifacts in a fixed order
            OutputStream globalsOut = sink.openArtifact(GLOBALS_ARTIFACT);
            CompletableFuture<Long> globals = inBackground("pg_dumpall-globals", () -> {
                long start = System.nanoTime();
                dumpGlobals(config, pgDumpall, info.superuser(), name -> globalsOut);
                return System.nanoTime() - start;
            });
            Dumped dumped;
            try {
                dumped = dumpInSnapshot(c, config, info, pgDump, dumpCompression, sink, where);
            } catch (IOException | SQLException | RuntimeException e) {
                awaitQuietly(globals);
                throw e;
            }
            long globalsNanos = await(globals, "pg_dumpall --globals-only of " + config.host() + ":" + config.port());

            Map<String, String> metadata = new LinkedHashMap<>();
            metadata.put("database", config.database());
            metadata.put("server-version", info.version());
            metadata.put(META_PG_DUMP_VERSION, pgDump.version());
            metadata.put("pg-dumpall-version", pgDumpall.version());
            metadata.put("selection", LogicalSelection.describe(config));
            putList(metadata, "schemas", config.schemas());
            putList(metadata, "tables", config.tables());
            putList(metadata, "exclude-schemas", config.excludeSchemas());
            putList(metadata, "exclude-tables", config.excludeTables());
            metadata.put(META_DUMP_ARTIFACT, dumped.artifact());
            metadata.put("dump-compression", dumpCompression == PG_DUMP_DEFAULT_COMPRESSION
                    ? "pg_dump default (gzip)" : dumpCompression == 0 ? "none (pipeline compresses)"
                    : "gzip -Z" + dumpCompression);
            metadata.put("globals-artifact", GLOBALS_ARTIFACT);
            metadata.put("globals-role-passwords", Boolean.toString(info.superuser()));
            metadata.put(META_ENCODING, info.encoding());
            metadata.put(META_COLLATE, info.collate());
            metadata.put(META_CTYPE, info.ctype());
            metadata.put("wal-lsn", dumped.lsn());
            metadata.put("txid-snapshot", dumped.txidSnapshot());
            metadata.put("tables-counted", Integer.toString(dumped.rows().size()));
            LOG.info("logical backup of {} done: {} tables, {} rows; pg_dump {} ms for {} bytes; beside it: globals "
                            + "{} ms, row counts {} ms (waited {} ms for them after pg_dump)", where,
                    dumped.rows().size(), dumped.rows().values().stream().mapToLong(Long::longValue).sum(),
                    dumped.dumpMillis(), dumped.bytes(), globalsNanos / 1_000_000, dumped.countMillis(),
                    dumped.countWaitMillis());
            return new BackupResult(BackupKind.FULL, PostgresBackupProvider.METHOD_LOGICAL,
                    new ConsistentPoint(dumped.lsn(), dumped.time()), null, metadata, dumped.rows());
        } catch (SQLException e) {
            throw LogicalJdbc.failure("logical backup of " + where + " failed", e);
        }
    }

    /** What the snapshot-consistent part of a backup produced. */
    private record Dumped(String artifact, long bytes, String lsn, Instant time, String txidSnapshot,
                          Map<String, Long> rows, long dumpMillis, long countMillis, long countWaitMillis) { }

    /**
     * Reads the WAL position and time, exports a repeatable-read snapshot, and runs pg_dump on it
     * while the rows of the dumped tables are counted in the same snapshot.
     */
    private static Dumped dumpInSnapshot(Connection c, PostgresConfig config, LogicalJdbc.ServerInfo info,
                                         PgTools.Tool pgDump, int dumpCompression, ArtifactSink sink, String where)
            throws IOException, SQLException {
        Instant time = Instant.now();
        String lsn = currentLsn(c);
        c.setAutoCommit(false);
        c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
        c.setReadOnly(true);
        String[] snapshot = exportSnapshot(c, info.versionNum());
        List<LogicalSelection.Table> tables = LogicalSelection.tables(c, config);

        String artifact = dumpArtifactName(config.database());
        LogicalRowCounter counter = new LogicalRowCounter(c, tables);
        long dumpStart = System.nanoTime();
        CompletableFuture<Map<String, Long>> counts = counter.start();
        long bytes;
        try {
            bytes = dump(config, pgDump, snapshot[0], dumpCompression, artifact, sink);
        } catch (IOException | RuntimeException e) {
            counter.cancel();
            awaitQuietly(counts);
            throw e;
        }
        long dumpNanos = System.nanoTime() - dumpStart;
        Map<String, Long> rows = awaitCounts(counts, where);
        long waitNanos = System.nanoTime() - dumpStart - dumpNanos;
        c.rollback(); // the snapshot was only read; pg_dump holds its own from here on
        return new Dumped(artifact, bytes, lsn, time, snapshot[1], rows, dumpNanos / 1_000_000,
                counter.elapsedMillis(), waitNanos / 1_000_000);
    }

    /** {@code <database>.dump}, with characters a storage key cannot hold replaced. */
    static String dumpArtifactName(String database) {
        String safe = database.replaceAll("[/\\\\\\x00]", "_");
        if (safe.equals(".") || safe.equals("..") || safe.isEmpty()) {
            safe = "_" + safe;
        }
        return safe + DUMP_SUFFIX;
    }

    /** {@code -h host -p port -U user}, never a password. */
    static List<String> connectionArgs(PostgresConfig config) {
        return List.of("--host=" + config.host(), "--port=" + config.port(), "--username=" + config.user(),
                "--no-password");
    }

    private static long dumpGlobals(PostgresConfig config, PgTools.Tool pgDumpall, boolean superuser,
                                    ArtifactSink sink) throws IOException {
        List<String> args = new ArrayList<>(connectionArgs(config));
        args.add("--globals-only");
        if (!superuser) {
            // pg_authid is readable by superusers only; without this a non-superuser's dump fails
            args.add("--no-role-passwords");
            LOG.warn("{} is not a superuser: globals are dumped without role passwords", config.user());
        }
        args.add("--database=" + config.database());
        return streamToArtifact(pgDumpall, args, config, GLOBALS_ARTIFACT, sink,
                "pg_dumpall --globals-only of " + config.host() + ":" + config.port());
    }

    private static long dump(PostgresConfig config, PgTools.Tool pgDump, String snapshot, int compression,
                             String artifact, ArtifactSink sink) throws IOException {
        List<String> args = new ArrayList<>(connectionArgs(config));
        args.add("--format=custom");
        if (compression != PG_DUMP_DEFAULT_COMPRESSION) {
            args.add("--compress=" + compression);
        }
        args.add("--snapshot=" + snapshot);
        if (!config.schemas().isEmpty() || !config.tables().isEmpty()) {
            args.add("--strict-names"); // a configured schema or table that is missing fails the backup
        }
        config.schemas().forEach(s -> args.add("--schema=" + s));
        config.tables().forEach(t -> args.add("--table=" + t));
        config.excludeSchemas().forEach(s -> args.add("--exclude-schema=" + s));
        config.excludeTables().forEach(t -> args.add("--exclude-table=" + t));
        args.add("--dbname=" + LogicalJdbc.conninfoDbname(config.database()));
        return streamToArtifact(pgDump, args, config, artifact, sink,
                "pg_dump of database '" + config.database() + "' on " + config.host() + ":" + config.port());
    }

    /**
     * Runs a tool and streams its standard output into a new artifact. The artifact is closed
     * (and so stored) only when the tool exited with 0; otherwise the tool is killed if still
     * running and the artifact is left for the engine to abort.
     */
    static long streamToArtifact(PgTools.Tool tool, List<String> args, PostgresConfig config, String artifact,
                                 ArtifactSink sink, String what) throws IOException {
        try (LogicalProcess process = LogicalProcess.start(tool, args, config.password(), config.connectTimeout(),
                false, null)) {
            process.noInput();
            OutputStream out = sink.openArtifact(artifact);
            long bytes;
            try (InputStream in = process.stdout()) {
                bytes = LogicalProcess.copy(in, out);
            }
            int exit = process.waitFor();
            if (exit != 0) {
                throw process.failure(what + " failed", exit);
            }
            String warnings = process.stderr();
            if (!warnings.isEmpty()) {
                LOG.warn("{} printed: {}", tool.name(), warnings);
            }
            out.close();
            return bytes;
        }
    }

    private static String currentLsn(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT CASE WHEN pg_catalog.pg_is_in_recovery() "
                     + "THEN pg_catalog.pg_last_wal_replay_lsn() ELSE pg_catalog.pg_current_wal_lsn() END::text")) {
            rs.next();
            String lsn = rs.getString(1);
            return lsn == null ? "unknown" : lsn;
        }
    }

    /** Exports the transaction's snapshot: {snapshot id, txid snapshot text}. */
    private static String[] exportSnapshot(Connection c, int versionNum) throws SQLException {
        String txid = versionNum >= 130000 ? "pg_catalog.pg_current_snapshot()::text"
                : "pg_catalog.txid_current_snapshot()::text";
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT pg_catalog.pg_export_snapshot(), " + txid)) {
            rs.next();
            return new String[] {rs.getString(1), rs.getString(2)};
        }
    }

    private static Map<String, Long> awaitCounts(CompletableFuture<Map<String, Long>> counts, String where)
            throws IOException {
        try {
            return counts.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while counting rows of " + where);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof SQLException sql) {
                throw LogicalJdbc.failure("counting rows for the content summary of " + where + " failed", sql);
            }
            throw new SourceException("counting rows of " + where + " failed: " + cause, false, cause);
        }
    }

    /** A tool run on its own daemon thread. */
    @FunctionalInterface
    interface IoCall<T> {
        T call() throws IOException;
    }

    private static <T> CompletableFuture<T> inBackground(String name, IoCall<T> call) {
        CompletableFuture<T> result = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                result.complete(call.call());
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        }, name);
        t.setDaemon(true);
        t.start();
        return result;
    }

    /** The background call's result; its exception is rethrown as it was. */
    private static <T> T await(CompletableFuture<T> future, String what) throws IOException {
        try {
            return future.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for " + what);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) {
                throw io;
            }
            if (cause instanceof RuntimeException re) {
                throw re;
            }
            throw new SourceException(what + " failed: " + cause, false, cause);
        }
    }

    private static void awaitQuietly(CompletableFuture<?> future) {
        try {
            future.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            // the backup is failing for another reason, which is the one reported
        }
    }

    private static void putList(Map<String, String> metadata, String key, List<String> values) {
        if (!values.isEmpty()) {
            metadata.put(key, String.join(",", values));
        }
    }
}
