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
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
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
        /** (time, server WAL end) samples: WAL up to that end existed at that time. */
        private final java.util.ArrayDeque<Sample> samples = new java.util.ArrayDeque<>();
        private final Duration sampleEvery;
        private Instant nextSample = Instant.MIN;
        private Instant lastCovered = Instant.EPOCH;
        private long lag = -1;

        Streamer(SegmentSink sink, ArchiveControl archiveControl, long segmentSize, int timeline, long start)
                throws IOException {
            this.sink = sink;
            this.archiveControl = archiveControl;
            this.segmentSize = segmentSize;
            this.timeline = timeline;
            openSpool(start - start % segmentSize);
            written = start % segmentSize;
            long quarter = config.walFlushInterval().toMillis() / 4;
            sampleEvery = Duration.ofMillis(Math.max(50, Math.min(1000, quarter)));
        }

        void run() throws IOException {
            try {
                while (!archiveControl.stopRequested()) {
                    if (!Instant.now().isBefore(nextSample)) {
                        sample();
                    }
                    ByteBuffer data = stream.readPending();
                    if (data == null) {
                        maybeFlush(true);
                        archiveControl.awaitStop(POLL);
                        continue;
                    }
                    // for physical streams pgjdbc reports the position just after the payload
                    long lsn = stream.getLastReceiveLSN().asLong() - data.remaining();
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
                    WalNames.formatLsn(segmentStart + segmentSize), coveredUntil(segmentStart + segmentSize)),
                    segmentSize);
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
            sample();
            long position = segmentStart + written;
            archiveControl.reportPosition(WalNames.formatLsn(position), lag);
            Instant covered = coveredUntil(position);
            if (written == flushedBytes && !covered.isAfter(lastCovered)) {
                return;
            }
            String name = WalNames.segmentName(timeline, segmentStart, segmentSize);
            store(new SegmentSpec(name, true, WalNames.formatLsn(segmentStart), WalNames.formatLsn(position), covered),
                    written);
            flushedBytes = written;
            confirm(position);
        }

        /** Asks the server where its WAL ends now; WAL up to there existed at this time. */
        private void sample() {
            Instant now = Instant.now();
            nextSample = now.plus(sampleEvery);
            try (Statement st = control.createStatement();
                 ResultSet rs = st.executeQuery("SELECT pg_current_wal_lsn()")) {
                rs.next();
                long end = WalNames.parseLsn(rs.getString(1));
                samples.addLast(new Sample(now, end));
                lag = Math.max(0, end - (segmentStart + written));
                archiveControl.reportPosition(WalNames.formatLsn(segmentStart + written), lag);
            } catch (SQLException e) {
                lag = -1;
            }
            while (samples.size() > 10_000) {
                samples.removeFirst();
            }
        }

        /**
         * The latest time at which the server's WAL ended at or before {@code position}: every
         * change committed until then is in the WAL up to {@code position}.
         */
        private Instant coveredUntil(long position) {
            Instant covered = lastCovered;
            while (!samples.isEmpty() && samples.peekFirst().walEnd() <= position) {
                covered = samples.removeFirst().time();
            }
            if (covered.isAfter(lastCovered)) {
                lastCovered = covered;
            }
            return lastCovered;
        }

        private void store(SegmentSpec spec, long length) throws IOException {
            // positional reads: the spool stays open and its write position untouched
            try (OutputStream out = sink.openSegment(spec)) {
                ByteBuffer buffer = ByteBuffer.allocate(256 * 1024);
                long position = 0;
                while (position < length) {
                    buffer.clear().limit((int) Math.min(buffer.capacity(), length - position));
                    int n = spool.read(buffer, position);
                    if (n < 0) {
                        throw new IOException("WAL spool of " + spec.name() + " is shorter than " + length);
                    }
                    out.write(buffer.array(), 0, n);
                    position += n;
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

    }

    /** A sample of the server's WAL end. */
    private record Sample(Instant time, long walEnd) { }

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
            // the server keeps the whole segment holding the slot's restart_lsn
            if (slotStart - slotStart % segmentSize > next) {
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
