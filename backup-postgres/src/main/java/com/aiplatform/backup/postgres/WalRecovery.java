package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.SegmentEntry;
import com.aiplatform.backup.spi.ArtifactSource;
import com.aiplatform.backup.spi.RestoreOptions;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Point-in-time recovery on a materialised data directory: copies the WAL segments from the
 * archive that a target needs into {@code pg_wal/} and writes the recovery settings, so that
 * starting PostgreSQL on the directory replays to the target and promotes.
 *
 * <p>Targets come from restore options: {@code to-time} (ISO-8601 instant), {@code to-lsn}
 * ({@code 0/3000060}), or neither (recover everything archived: "latest"). A segment missing
 * between the base backup and the target is a gap: the restore fails and names it instead of
 * silently recovering to an earlier point.
 */
final class WalRecovery {
    static final String OPTION_TIME = "to-time";
    static final String OPTION_LSN = "to-lsn";
    static final long DEFAULT_SEGMENT_SIZE = 16L << 20;
    /** PostgreSQL's timestamptz input format, in UTC, to the microsecond. */
    private static final java.time.format.DateTimeFormatter PG_TIME = java.time.format.DateTimeFormatter
            .ofPattern("uuuu-MM-dd HH:mm:ss.SSSSSS'+00'").withZone(java.time.ZoneOffset.UTC);

    private WalRecovery() {
    }

    /** The recovery target of a restore. */
    record Target(Optional<Instant> time, Optional<Long> lsn) {
        static Target from(RestoreOptions options) {
            Optional<Instant> time = options.option(OPTION_TIME).map(t -> {
                try {
                    return Instant.parse(t);
                } catch (DateTimeParseException e) {
                    try {
                        return java.time.OffsetDateTime.parse(t).toInstant();
                    } catch (DateTimeParseException e2) {
                        throw new IllegalArgumentException(OPTION_TIME + " '" + t
                                + "' is not an ISO-8601 time such as 2026-11-24T10:15:30Z");
                    }
                }
            });
            Optional<Long> lsn = options.option(OPTION_LSN).map(WalNames::parseLsn);
            if (time.isPresent() && lsn.isPresent()) {
                throw new IllegalArgumentException("give " + OPTION_TIME + " or " + OPTION_LSN + ", not both");
            }
            return new Target(time, lsn);
        }

        boolean latest() {
            return time.isEmpty() && lsn.isEmpty();
        }

        @Override
        public String toString() {
            return time.map(t -> "time " + t).or(() -> lsn.map(l -> "LSN " + WalNames.formatLsn(l))).orElse("latest");
        }
    }

    /**
     * Copies the needed archived WAL into {@code dataDir/pg_wal} and writes recovery settings.
     *
     * @return the segments copied, oldest first (empty when the archive has none past the base backup)
     */
    static List<SegmentEntry> prepare(Path dataDir, ArtifactSource source, Target target) throws IOException {
        Manifest base = source.manifest();
        long startLsn = WalNames.parseLsn(require(base, "start-lsn"));
        int timeline = Integer.parseInt(require(base, "timeline"));
        long segmentSize = Long.parseLong(base.metadata().getOrDefault("wal-segment-size",
                Long.toString(DEFAULT_SEGMENT_SIZE)));
        List<SegmentEntry> needed = select(source.segments(), startLsn, timeline, segmentSize, target);
        if (needed.isEmpty()) {
            // latest, and nothing archived past the base backup: it restores to its own end
            return needed;
        }
        Path pgWal = dataDir.resolve("pg_wal");
        Files.createDirectories(pgWal);
        byte[] zeros = new byte[64 * 1024];
        for (SegmentEntry segment : needed) {
            Path file = pgWal.resolve(segment.name());
            try (InputStream in = source.openSegment(segment);
                 OutputStream out = Files.newOutputStream(file, StandardOpenOption.CREATE,
                         StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
                long copied = in.transferTo(out);
                if (copied > segmentSize) {
                    throw new IntegrityException(segment.name(), "WAL segment " + segment.name() + " holds "
                            + copied + " bytes, more than the segment size " + segmentSize);
                }
                for (long left = segmentSize - copied; left > 0; left -= zeros.length) {
                    out.write(zeros, 0, (int) Math.min(zeros.length, left));
                }
            }
        }
        writeSettings(dataDir, target);
        return needed;
    }

    /** The contiguous run of segments from the base backup's start to the target; fails on a gap before it. */
    static List<SegmentEntry> select(List<SegmentEntry> segments, long startLsn, int timeline, long segmentSize,
                                     Target target) throws IntegrityException {
        List<SegmentEntry> onTimeline = new ArrayList<>();
        for (SegmentEntry s : segments) {
            if (WalNames.isSegmentName(s.name()) && WalNames.timeline(s.name()) == timeline
                    && WalNames.segmentStart(s.name(), segmentSize) + segmentSize > startLsn) {
                onTimeline.add(s);
            }
        }
        List<SegmentEntry> needed = new ArrayList<>();
        if (onTimeline.isEmpty() && target.latest()) {
            return needed;
        }
        long expected = startLsn - startLsn % segmentSize;
        for (SegmentEntry s : onTimeline) {
            long start = WalNames.segmentStart(s.name(), segmentSize);
            if (start != expected) {
                if (!needed.isEmpty() && reached(needed.get(needed.size() - 1), target, segmentSize)) {
                    break;
                }
                throw new IntegrityException(WalNames.segmentName(timeline, expected, segmentSize),
                        "gap in the WAL archive: segment " + WalNames.segmentName(timeline, expected, segmentSize)
                                + " is missing, so recovery to " + target + " is impossible (the archive resumes at "
                                + s.name() + ")");
            }
            // Past the target too: PostgreSQL stops at the first commit after a time target, so it
            // must see WAL beyond it.
            needed.add(s);
            expected += segmentSize;
        }
        if (!target.latest() && (needed.isEmpty() || !reached(needed.get(needed.size() - 1), target, segmentSize))) {
            String end = needed.isEmpty() ? "the base backup"
                    : needed.get(needed.size() - 1).endPosition() + " at " + needed.get(needed.size() - 1).coveredUntil();
            throw new IntegrityException(needed.isEmpty() ? "wal" : needed.get(needed.size() - 1).name(),
                    "the WAL archive ends at " + end + ", before the recovery target " + target);
        }
        return needed;
    }

    /** True when segment {@code s} reaches past the target. */
    private static boolean reached(SegmentEntry s, Target target, long segmentSize) {
        if (target.lsn().isPresent()) {
            return WalNames.segmentStart(s.name(), segmentSize) + segmentSize > target.lsn().get();
        }
        return target.time().isPresent() && !s.coveredUntil().isBefore(target.time().get());
    }

    private static void writeSettings(Path dataDir, Target target) throws IOException {
        StringBuilder conf = new StringBuilder("\n# written by aiplatform-backup for point-in-time recovery\n");
        // WAL is already in pg_wal; a restore_command is required for archive recovery, and one
        // that finds nothing makes PostgreSQL read pg_wal.
        conf.append("restore_command = 'false'\n");
        target.time().ifPresent(t -> conf.append("recovery_target_time = '").append(PG_TIME.format(t)).append("'\n"));
        target.lsn().ifPresent(l -> conf.append("recovery_target_lsn = '").append(WalNames.formatLsn(l))
                .append("'\n"));
        conf.append("recovery_target_action = 'promote'\n");
        Files.writeString(dataDir.resolve("postgresql.auto.conf"), conf.toString(), StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        Files.writeString(dataDir.resolve("recovery.signal"), "", StandardCharsets.UTF_8);
    }

    private static String require(Manifest base, String key) {
        String value = base.metadata().get(key);
        if (value == null) {
            throw new IllegalArgumentException("backup " + base.backupId() + " records no " + key
                    + "; it is not a physical base backup of this version");
        }
        return value;
    }
}
