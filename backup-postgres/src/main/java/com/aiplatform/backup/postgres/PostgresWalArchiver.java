package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.SegmentEntry;
import com.aiplatform.backup.api.SourceException;
import com.aiplatform.backup.spi.ArchiveControl;
import com.aiplatform.backup.spi.ArchiverSession;
import com.aiplatform.backup.spi.SegmentSink;
import com.aiplatform.backup.spi.SegmentSpec;
import org.postgresql.PGConnection;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Continuous WAL archiver on pgjdbc's physical replication stream, through a replication
 * slot (created if absent) so the server keeps WAL while the archiver is down.
 *
 * <p>WAL is spooled into a local file of one segment (16 MiB by default: memory stays flat).
 * A complete segment is stored as soon as it fills; the segment being filled is stored as a
 * partial flush every {@code wal-flush-interval}, which bounds the RPO. Only after a store is
 * durable does the archiver confirm the position to the server, so the slot never lets WAL go
 * that is not stored. On restart it resumes at the start of the first segment not stored
 * complete; gaps between stored segments and timeline switches are reported.
 */
final class PostgresWalArchiver implements ArchiverSession {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresWalArchiver.class);
    private static final Duration POLL = Duration.ofMillis(20);

    private final PostgresConfig config;
    private Connection replication;
    private Connection control;
    private PGReplicationStream stream;
    private Path spoolDir;
    private boolean closed;

    PostgresWalArchiver(PostgresConfig config) {
        this.config = config;
    }

    @Override
    public void run(SegmentSink sink, ArchiveControl archiveControl) throws IOException {
        control = PgJdbc.connect(config, config.database());
        long segmentSize = segmentSize();
        ensureSlot();
        replication = PgJdbc.replication(config);
        int timeline = identifyTimeline();
        List<SegmentEntry> stored = sink.stored();
        reportGaps(stored, segmentSize, timeline, archiveControl);
        long start = startPosition(stored, segmentSize, timeline);
        spoolDir = Files.createTempDirectory("pg-wal-spool-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        try {
            stream = replication.unwrap(PGConnection.class).getReplicationAPI().replicationStream().physical()
                    .withSlotName(config.slotName())
                    .withStartPosition(LogSequenceNumber.valueOf(start))
                    .withAutomaticFlush(false)
                    .withStatusInterval(10, TimeUnit.SECONDS)
                    .start();
        } catch (SQLException e) {
            throw PgJdbc.describe(config, config.database(), e);
        }
        LOG.info("WAL archiver of {} streaming from {} on timeline {} through slot {}", config.name(),
                WalNames.formatLsn(start), timeline, config.slotName());
        new Streamer(sink, archiveControl, segmentSize, timeline, start).run();
    }

    /** The streaming loop and its one-segment spool. */
    private final class Streamer {
        private final SegmentSink sink;
        private final ArchiveControl archiveControl;
        private final long segmentSize;
        private final int timeline;
        private long segmentStart;
        private long written;       // bytes of the current segment in the spool
        private long flushedBytes;  // bytes of the current segment already stored as a partial flush
        private FileChannel spool;
        private Instant lastFlush = Instant.now();

        Streamer(SegmentSink sink, ArchiveControl archiveControl, long segmentSize, int timeline, long start)
                throws IOException {
            this.sink = sink;
            this.archiveControl = archiveControl;
            this.segmentSize = segmentSize;
            this.timeline = timeline;
            openSpool(start - start % segmentSize);
            written = start % segmentSize;
        }

        void run() throws IOException {
            try {
                while (!archiveControl.stopRequested()) {
                    ByteBuffer data = stream.readPending();
                    if (data == null) {
                        maybeFlush(true);
                        archiveControl.awaitStop(POLL);
                        continue;
                    }
                    long lsn = stream.getLastReceiveLSN().asLong();
                    accept(lsn, data);
                    maybeFlush(false);
                }
                flushPartial(true);
            } catch (SQLException e) {
                throw PgJdbc.describe(config, config.database(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("WAL archiver of " + config.name() + " was interrupted");
            } finally {
                spool.close();
            }
        }

        private void accept(long lsn, ByteBuffer data) throws IOException, SQLException {
            while (data.hasRemaining()) {
                if (lsn < segmentStart || lsn >= segmentStart + segmentSize) {
                    throw new SourceException("WAL archiver of " + config.name() + " received WAL at "
                            + WalNames.formatLsn(lsn) + ", outside the segment being filled ("
                            + WalNames.segmentName(timeline, segmentStart, segmentSize) + ")", true);
                }
                long offset = lsn - segmentStart;
                if (offset != written) {
                    throw new SourceException("WAL archiver of " + config.name() + " received WAL at "
                            + WalNames.formatLsn(lsn) + " but expected " + WalNames.formatLsn(segmentStart + written)
                            + ": the stream skipped WAL", true);
                }
                int n = (int) Math.min(data.remaining(), segmentSize - offset);
                ByteBuffer slice = data.slice();
                slice.limit(n);
                while (slice.hasRemaining()) {
                    spool.write(slice, offset + (n - slice.remaining()));
                }
                data.position(data.position() + n);
                written += n;
                lsn += n;
                if (written == segmentSize) {
                    storeComplete();
                }
            }
        }

        private void storeComplete() throws IOException, SQLException {
            String name = WalNames.segmentName(timeline, segmentStart, segmentSize);
            store(new SegmentSpec(name, false, WalNames.formatLsn(segmentStart),
                    WalNames.formatLsn(segmentStart + segmentSize), Instant.now()), segmentSize);
            confirm(segmentStart + segmentSize);
            openSpool(segmentStart + segmentSize);
            lastFlush = Instant.now();
        }

        private void maybeFlush(boolean idle) throws IOException, SQLException {
            if (Duration.between(lastFlush, Instant.now()).compareTo(config.walFlushInterval()) >= 0) {
                flushPartial(idle);
            }
        }

        /**
         * Stores the segment being filled as a partial flush when it holds new WAL, or, when the
         * stream is idle and caught up, to record that nothing newer exists (the RPO advances).
         */
        private void flushPartial(boolean idle) throws IOException, SQLException {
            lastFlush = Instant.now();
            long lag = lag();
            archiveControl.reportPosition(WalNames.formatLsn(segmentStart + written), lag);
            if (written == flushedBytes && !(idle && lag == 0)) {
                return;
            }
            if (written == 0 && flushedBytes == 0 && lag != 0) {
                return;
            }
            String name = WalNames.segmentName(timeline, segmentStart, segmentSize);
            store(new SegmentSpec(name, true, WalNames.formatLsn(segmentStart),
                    WalNames.formatLsn(segmentStart + written), Instant.now()), written);
            flushedBytes = written;
            confirm(segmentStart + written);
        }

        private void store(SegmentSpec spec, long length) throws IOException {
            try (OutputStream out = sink.openSegment(spec);
                 InputStream in = Channels.newInputStream(spool.position(0))) {
                byte[] buffer = new byte[256 * 1024];
                long remaining = length;
                while (remaining > 0) {
                    int n = in.read(buffer, 0, (int) Math.min(buffer.length, remaining));
                    if (n < 0) {
                        throw new IOException("WAL spool of " + spec.name() + " is shorter than " + length);
                    }
                    out.write(buffer, 0, n);
                    remaining -= n;
                }
            }
        }

        private void confirm(long lsn) throws SQLException {
            LogSequenceNumber position = LogSequenceNumber.valueOf(lsn);
            stream.setFlushedLSN(position);
            stream.setAppliedLSN(position);
            stream.forceUpdateStatus();
        }

        private void openSpool(long start) throws IOException {
            if (spool != null) {
                spool.close();
            }
            segmentStart = start;
            written = 0;
            flushedBytes = 0;
            Path file = spoolDir.resolve("segment");
            spool = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
        }

        private long lag() {
            try (Statement st = control.createStatement();
                 ResultSet rs = st.executeQuery("SELECT pg_current_wal_lsn()")) {
                rs.next();
                return Math.max(0, WalNames.parseLsn(rs.getString(1)) - (segmentStart + written));
            } catch (SQLException e) {
                return -1;
            }
        }
    }

    private long segmentSize() throws SourceException {
        try (Statement st = control.createStatement();
             ResultSet rs = st.executeQuery("SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'")) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            throw PgJdbc.describe(config, config.database(), e);
        }
    }

    private void ensureSlot() throws SourceException {
        try (Statement st = control.createStatement()) {
            try (ResultSet rs = st.executeQuery("SELECT slot_type FROM pg_replication_slots WHERE slot_name = '"
                    + config.slotName() + "'")) {
                if (rs.next()) {
                    if (!"physical".equals(rs.getString(1))) {
                        throw new SourceException("replication slot " + config.slotName()
                                + " exists but is not a physical slot", false);
                    }
                    return;
                }
            }
            st.execute("SELECT pg_create_physical_replication_slot('" + config.slotName() + "', true)");
            LOG.info("created physical replication slot {} for {}", config.slotName(), config.name());
        } catch (SQLException e) {
            throw PgJdbc.describe(config, config.database(), e);
        }
    }

    private int identifyTimeline() throws SourceException {
        try (Statement st = replication.createStatement(); ResultSet rs = st.executeQuery("IDENTIFY_SYSTEM")) {
            rs.next();
            return rs.getInt("timeline");
        } catch (SQLException e) {
            throw PgJdbc.describe(config, config.database(), e);
        }
    }

    /** Where to resume: the first segment not stored complete, or the slot's reserved WAL on a first start. */
    private long startPosition(List<SegmentEntry> stored, long segmentSize, int timeline) throws SourceException {
        long lastComplete = -1;
        for (SegmentEntry e : stored) {
            if (!e.partial() && WalNames.isSegmentName(e.name()) && WalNames.timeline(e.name()) == timeline) {
                lastComplete = Math.max(lastComplete, WalNames.segmentStart(e.name(), segmentSize));
            }
        }
        long slotStart = slotRestartLsn();
        if (lastComplete >= 0) {
            long next = lastComplete + segmentSize;
            if (slotStart > next) {
                throw new SourceException("replication slot " + config.slotName() + " has moved past the archive: "
                        + "the server no longer holds WAL from " + WalNames.formatLsn(next)
                        + " (slot restart_lsn " + WalNames.formatLsn(slotStart) + "); take a new base backup", false);
            }
            return next;
        }
        return slotStart - slotStart % segmentSize;
    }

    private long slotRestartLsn() throws SourceException {
        try (Statement st = control.createStatement();
             ResultSet rs = st.executeQuery("SELECT coalesce(restart_lsn, pg_current_wal_lsn())::text "
                     + "FROM pg_replication_slots WHERE slot_name = '" + config.slotName() + "'")) {
            if (!rs.next()) {
                throw new SourceException("replication slot " + config.slotName() + " disappeared", true);
            }
            return WalNames.parseLsn(rs.getString(1));
        } catch (SQLException e) {
            throw PgJdbc.describe(config, config.database(), e);
        }
    }

    /** Reports missing segments between the stored ones and timeline switches; the archive goes on. */
    private void reportGaps(List<SegmentEntry> stored, long segmentSize, int timeline, ArchiveControl archiveControl) {
        long previous = -1;
        int previousTimeline = -1;
        for (SegmentEntry e : stored) {
            if (!WalNames.isSegmentName(e.name())) {
                continue;
            }
            long start = WalNames.segmentStart(e.name(), segmentSize);
            int tli = WalNames.timeline(e.name());
            if (previous >= 0 && tli == previousTimeline && start != previous + segmentSize) {
                archiveControl.reportWarning("gap in the WAL archive: segments from "
                        + WalNames.segmentName(tli, previous + segmentSize, segmentSize) + " to "
                        + WalNames.segmentName(tli, start - segmentSize, segmentSize) + " are missing");
            }
            if (previousTimeline >= 0 && tli != previousTimeline) {
                archiveControl.reportWarning("timeline switch in the WAL archive: " + previousTimeline + " -> " + tli);
            }
            previous = start;
            previousTimeline = tli;
        }
        if (previousTimeline >= 0 && previousTimeline != timeline) {
            archiveControl.reportWarning("the server is on timeline " + timeline + " but the archive ends on timeline "
                    + previousTimeline + " (was the server promoted or restored?)");
        }
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (stream != null && !stream.isClosed()) {
                stream.close();
            }
        } catch (SQLException e) {
            LOG.debug("closing the replication stream: {}", e.getMessage());
        }
        closeQuietly(replication);
        closeQuietly(control);
        if (spoolDir != null) {
            Files.deleteIfExists(spoolDir.resolve("segment"));
            Files.deleteIfExists(spoolDir);
        }
    }

    private static void closeQuietly(Connection c) {
        if (c != null) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // closing
            }
        }
    }
}
