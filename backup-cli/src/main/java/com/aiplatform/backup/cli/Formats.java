package com.aiplatform.backup.cli;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Locale;

/** Human-readable sizes, rates, durations and tables for the default (non-JSON) output. */
final class Formats {
    private static final String[] UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};

    private Formats() {
    }

    /** {@code 1536} as {@code 1.5 KiB}. */
    static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        double v = n;
        int unit = 0;
        while (v >= 1024 && unit < UNITS.length - 1) {
            v /= 1024;
            unit++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, UNITS[unit]);
    }

    /** Bytes per second over {@code elapsed}, as {@code 12.3 MiB/s}. */
    static String rate(long bytes, Duration elapsed) {
        long millis = Math.max(1, elapsed.toMillis());
        return bytes(Math.round(bytes * 1000.0 / millis)) + "/s";
    }

    /** A duration as {@code 0.42 s}, {@code 3m 07s} or {@code 2h 05m}. */
    static String duration(Duration d) {
        long millis = d.toMillis();
        if (millis < 60_000) {
            return String.format(Locale.ROOT, "%.2f s", millis / 1000.0);
        }
        long s = d.getSeconds();
        if (s < 3600) {
            return String.format(Locale.ROOT, "%dm %02ds", s / 60, s % 60);
        }
        return String.format(Locale.ROOT, "%dh %02dm", s / 3600, (s % 3600) / 60);
    }

    /** An instant in UTC to the second: {@code 2026-11-24T02:00:00Z}. */
    /** One line describing a set of debris: what it is, how much, how old. */
    static String debris(com.aiplatform.backup.api.Debris d, Instant now) {
        String what = d.backupId() == null ? "unfinished uploads" : "uncommitted backup " + d.backupId();
        return "debris of " + d.source() + ": " + what + ", " + d.keys().size() + " object(s), " + d.partials().size()
                + " partial upload(s), " + bytes(d.bytes()) + ", last written " + duration(Duration.between(d.newest(),
                now).isNegative() ? Duration.ZERO : Duration.between(d.newest(), now)) + " ago";
    }

    static String time(Instant t) {
        return t == null ? "-" : t.truncatedTo(ChronoUnit.SECONDS).toString();
    }

    /** Renders rows as left-aligned columns separated by two spaces; the first row is the header. */
    static String table(List<List<String>> rows) {
        int columns = rows.stream().mapToInt(List::size).max().orElse(0);
        int[] width = new int[columns];
        for (List<String> row : rows) {
            for (int c = 0; c < row.size(); c++) {
                width[c] = Math.max(width[c], row.get(c).length());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (List<String> row : rows) {
            StringBuilder line = new StringBuilder();
            for (int c = 0; c < row.size(); c++) {
                line.append(row.get(c));
                if (c < row.size() - 1) {
                    line.append(" ".repeat(width[c] - row.get(c).length() + 2));
                }
            }
            sb.append(line.toString().stripTrailing()).append(System.lineSeparator());
        }
        return sb.toString();
    }
}
