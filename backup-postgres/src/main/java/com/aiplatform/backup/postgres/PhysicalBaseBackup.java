package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.api.ConsistentPoint;
import com.aiplatform.backup.api.SourceException;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.BackupContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Physical base backup over the streaming replication protocol, without {@code pg_basebackup}.
 *
 * <p>On a physical walsender connection ({@link PgReplicationConnection}, {@code replication=true})
 * it runs {@code IDENTIFY_SYSTEM} (system identifier, timeline), then
 * {@code BASE_BACKUP (LABEL ..., CHECKPOINT 'fast', WAL true, WAIT false, MANIFEST 'yes',
 * TABLESPACE_MAP true)} in the PostgreSQL 15+ syntax ({@link #command}). The server answers with a result set
 * holding the start LSN and timeline, a result set of tablespaces, one COPY OUT stream and a
 * last result set holding the end LSN. Inside the COPY every CopyData starts with a type byte:
 * {@code 'n'} a new archive (name, tablespace path), {@code 'd'} archive or manifest data,
 * {@code 'p'} progress, {@code 'm'} the start of the backup manifest. Each archive becomes an
 * artifact as it arrives ({@code <tablespace-oid>.tar} for each tablespace, {@code base.tar}
 * for the data directory, which with {@code WAL true} holds in {@code pg_wal/} the WAL needed
 * to reach consistency), then {@code backup_manifest}: streamed, never held in memory.
 *
 * <p>The consistent point is the end (stop) LSN with the time the server reported it. Row
 * counts per table are recorded afterwards as the content summary ({@link PostgresRowCounts}).
 */
final class PhysicalBaseBackup {
    private static final Logger LOG = LoggerFactory.getLogger(PhysicalBaseBackup.class);
    /** The oldest server whose BASE_BACKUP syntax and COPY framing this client speaks. */
    static final int MINIMUM_MAJOR = 15;
    static final String BASE_ARCHIVE = "base.tar";
    static final String MANIFEST_ARTIFACT = "backup_manifest";
    private static final Pattern TABLESPACE_ARCHIVE = Pattern.compile("[1-9][0-9]{0,9}\\.tar");

    private PhysicalBaseBackup() {
    }

    static BackupResult run(PostgresConfig config, BackupContext context, ArtifactSink sink) throws IOException {
        Map<String, String> metadata = new LinkedHashMap<>();
        String label = "aiplatform-backup " + config.name() + " " + context.backupId();
        Receiver receiver;
        Instant stopTime;
        try (PgReplicationConnection conn = PgReplicationConnection.open(config, PgReplicationConnection.Mode.PHYSICAL)) {
            int major = conn.serverMajor();
            if (major < MINIMUM_MAJOR) {
                throw new SourceException(conn.where() + " runs PostgreSQL " + conn.serverVersion()
                        + "; physical backups need PostgreSQL " + MINIMUM_MAJOR + " or newer (use mode: logical)", false);
            }
            PgResultSet system = conn.queryOne("IDENTIFY_SYSTEM");
            metadata.put("system-identifier", system.single("systemid"));
            metadata.put("server-version", conn.serverVersion());
            metadata.put("wal-segment-size", Long.toString(sizeInBytes(conn.queryOne("SHOW wal_segment_size")
                    .rows().get(0).get(0))));
            LOG.info("base backup of {} from {} starting (PostgreSQL {}, timeline {})", config.name(), conn.where(),
                    conn.serverVersion(), system.single("timeline"));
            receiver = new Receiver(sink);
            conn.readTimeout(java.time.Duration.ZERO);
            conn.stream(command(label), receiver);
            stopTime = Instant.now();
            receiver.requireComplete(conn.where());
        }
        metadata.put("label", label);
        metadata.put("start-lsn", receiver.startLsn);
        metadata.put("stop-lsn", receiver.stopLsn);
        metadata.put("timeline", receiver.startTimeline);
        if (!receiver.startTimeline.equals(receiver.stopTimeline)) {
            metadata.put("stop-timeline", receiver.stopTimeline); // possible when backing up a standby
        }
        metadata.put("tablespaces", String.join(",", receiver.tablespaces.entrySet().stream()
                .map(e -> e.getKey() + "=" + e.getValue()).toList()));
        LOG.info("base backup of {} done: {} .. {} on timeline {}, {} archive(s)", config.name(), receiver.startLsn,
                receiver.stopLsn, receiver.stopTimeline, receiver.archives.size());

        PostgresRowCounts.Summary rows = PostgresRowCounts.collect(config);
        metadata.put("row-counts", "exact count(*) up to " + PostgresRowCounts.EXACT_LIMIT
                + " estimated rows, pg_class.reltuples above; " + rows.counts().size() + " tables, "
                + rows.estimated().size() + " estimated, " + rows.skipped().size() + " skipped");
        if (!rows.estimated().isEmpty()) {
            metadata.put("row-counts-estimated", abbreviate(String.join(", ", rows.estimated())));
        }
        if (!rows.skipped().isEmpty()) {
            metadata.put("row-counts-skipped", abbreviate(String.join("; ", rows.skipped())));
        }
        return new BackupResult(BackupKind.FULL, PostgresBackupProvider.METHOD_PHYSICAL,
                new ConsistentPoint(receiver.stopLsn, stopTime), null, metadata, rows.counts());
    }

    /**
     * The BASE_BACKUP command. {@code WAIT false} like {@code pg_basebackup} whenever it includes
     * WAL: the WAL needed for consistency travels inside {@code base.tar}, so waiting for the
     * server's own {@code archive_command} adds nothing, and would block the backup forever
     * where {@code archive_mode = on} with a failing archive command.
     */
    static String command(String label) {
        return "BASE_BACKUP (LABEL " + literal(label) + ", CHECKPOINT 'fast', WAL true, WAIT false,"
                + " MANIFEST 'yes', TABLESPACE_MAP true)";
    }

    /** Bytes of a size setting as SHOW prints it: {@code 16MB}, {@code 1GB}, {@code 512kB}, {@code 8192}. */
    static long sizeInBytes(String shown) {
        var m = Pattern.compile("(\\d+)\\s*(B|kB|MB|GB|TB)?").matcher(shown.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + shown + "' is not a PostgreSQL size such as 16MB");
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "B" : m.group(2);
        return switch (unit) {
            case "kB" -> n << 10;
            case "MB" -> n << 20;
            case "GB" -> n << 30;
            case "TB" -> n << 40;
            default -> n;
        };
    }

    /** A SQL string literal (standard_conforming_strings: only quotes need doubling). */
    static String literal(String text) {
        return "'" + text.replace("'", "''") + "'";
    }

    private static String abbreviate(String s) {
        return s.length() <= 2000 ? s : s.substring(0, 2000) + " ...";
    }

    /** Turns the server's answer to BASE_BACKUP into artifacts and positions. */
    static final class Receiver implements PgReplicationConnection.CopyHandler {
        private final ArtifactSink sink;
        private final byte[] buffer = new byte[64 * 1024];
        private final Map<String, String> tablespaces = new LinkedHashMap<>();
        private final List<String> archives = new ArrayList<>();
        private int resultSets;
        private boolean copyDone;
        private boolean manifest;
        private OutputStream current;
        private String currentName;
        String startLsn;
        String startTimeline;
        String stopLsn;
        String stopTimeline;

        Receiver(ArtifactSink sink) {
            this.sink = sink;
        }

        @Override
        public void resultSet(PgResultSet rs) throws IOException {
            resultSets++;
            if (!copyDone && resultSets == 1) {
                startLsn = rs.rows().get(0).get(0);
                startTimeline = rs.rows().get(0).get(1);
            } else if (!copyDone && resultSets == 2) {
                for (List<String> row : rs.rows()) {
                    if (row.get(0) != null) {
                        tablespaces.put(row.get(0), row.get(1));
                    }
                }
            } else if (copyDone) {
                stopLsn = rs.rows().get(0).get(0);
                stopTimeline = rs.rows().get(0).get(1);
            } else {
                throw new IOException("unexpected result set #" + resultSets + " before the backup data");
            }
        }

        @Override
        public void copyData(PgWire body) throws IOException {
            int type = body.readBodyByte();
            switch (type) {
                case 'n' -> {
                    String name = body.readBodyCString();
                    String location = body.readBodyCString();
                    finishCurrent();
                    if (manifest) {
                        throw new IOException("archive '" + name + "' after the backup manifest");
                    }
                    boolean base = location.isEmpty();
                    if (base ? !BASE_ARCHIVE.equals(name) : !TABLESPACE_ARCHIVE.matcher(name).matches()) {
                        throw new IOException("unexpected archive name '" + name + "' for "
                                + (base ? "the data directory" : "tablespace " + location));
                    }
                    start(name);
                }
                case 'm' -> {
                    finishCurrent();
                    manifest = true;
                    start(MANIFEST_ARTIFACT);
                }
                case 'd' -> {
                    if (current == null) {
                        throw new IOException("backup data before any archive was announced");
                    }
                    body.transferBody(current, buffer);
                }
                case 'p' -> body.readBodyLong();
                default -> throw new IOException("unknown base backup message type '" + (char) type + "'");
            }
        }

        private void start(String name) throws IOException {
            if (archives.contains(name)) {
                throw new IOException("the server sent archive '" + name + "' twice");
            }
            archives.add(name);
            currentName = name;
            current = sink.openArtifact(name);
        }

        private void finishCurrent() throws IOException {
            if (current != null) {
                OutputStream out = current;
                current = null;
                out.close();
                LOG.debug("artifact {} complete", currentName);
            }
        }

        @Override
        public void copyDone() throws IOException {
            finishCurrent();
            copyDone = true;
        }

        void requireComplete(String where) throws SourceException {
            List<String> missing = new ArrayList<>();
            if (!archives.contains(BASE_ARCHIVE)) {
                missing.add(BASE_ARCHIVE);
            }
            if (!archives.contains(MANIFEST_ARTIFACT)) {
                missing.add(MANIFEST_ARTIFACT);
            }
            for (String oid : tablespaces.keySet()) {
                if (!archives.contains(oid + ".tar")) {
                    missing.add(oid + ".tar");
                }
            }
            if (startLsn == null || stopLsn == null) {
                missing.add(startLsn == null ? "start position" : "end position");
            }
            if (!missing.isEmpty() || !copyDone) {
                throw new SourceException(where + " ended BASE_BACKUP without sending " + (missing.isEmpty()
                        ? "the end of the backup data" : String.join(", ", missing)), true);
            }
        }
    }
}
