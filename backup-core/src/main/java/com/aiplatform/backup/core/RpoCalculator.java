package com.aiplatform.backup.core;

import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.RpoReport;
import com.aiplatform.backup.api.SegmentEntry;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Recovery points of a source and the RPO they give: every committed backup's consistent
 * point, and every continuous-archive segment stored after the oldest backup began (each
 * extends what can be recovered up to its {@code coveredUntil}). With no recovery point before
 * the window, the time from the window's start to the first point counts as a gap.
 */
final class RpoCalculator {
    /** The platform plan's targets per engine; engines not listed are rebuildable (no target). */
    static final Map<String, Duration> DEFAULT_TARGETS = Map.of(
            "postgres", Duration.ofMinutes(15),
            "mongodb", Duration.ofHours(1),
            "weaviate", Duration.ofHours(24));

    private RpoCalculator() {
    }

    static Optional<Duration> defaultTarget(String engine) {
        return Optional.ofNullable(DEFAULT_TARGETS.get(engine));
    }

    static RpoReport report(String source, List<Manifest> backups, List<SegmentEntry> segments, Duration target,
                            Duration window, Instant now) {
        TreeSet<Instant> points = new TreeSet<>();
        Instant firstStart = backups.stream().map(Manifest::startedAt).min(Instant::compareTo).orElse(null);
        for (Manifest m : backups) {
            points.add(m.consistentPoint().time());
        }
        if (firstStart != null) {
            for (SegmentEntry s : segments) {
                if (!s.coveredUntil().isBefore(firstStart)) {
                    points.add(s.coveredUntil());
                }
            }
        }
        points.removeIf(p -> p.isAfter(now));
        Instant latest = points.isEmpty() ? null : points.last();
        Duration achieved = latest == null ? null : Duration.between(latest, now);

        Instant windowStart = now.minus(window);
        Instant previous = points.floor(windowStart);
        Duration worst = Duration.ZERO;
        Instant worstEnd = null;
        if (previous == null) {
            // nothing recoverable before the window: the time up to the first point counts as a gap
            previous = windowStart;
        }
        for (Instant p : points.tailSet(previous, false)) {
            Duration gap = Duration.between(previous, p);
            if (gap.compareTo(worst) > 0) {
                worst = gap;
                worstEnd = p;
            }
            previous = p;
        }
        Duration trailing = Duration.between(previous, now);
        if (trailing.compareTo(worst) > 0) {
            worst = trailing;
            worstEnd = now;
        }
        boolean breached = target != null && (achieved == null || achieved.compareTo(target) > 0
                || worst.compareTo(target) > 0);
        return new RpoReport(source, now, latest, achieved, window, worst, worstEnd, target, breached);
    }
}
