package com.aiplatform.backup.api;

import java.security.SecureRandom;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.HexFormat;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Identifier of one backup of one source, sortable by time: {@code 20261124T020000Z-3fa2c1}
 * (UTC start time to the second, then six random hex digits so two backups started in the
 * same second never collide).
 */
public record BackupId(String value) implements Comparable<BackupId> {
    private static final Pattern FORMAT = Pattern.compile("\\d{8}T\\d{6}Z-[0-9a-f]{6}");
    private static final DateTimeFormatter STAMP =
            DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);
    private static final SecureRandom RANDOM = new SecureRandom();

    public BackupId {
        Objects.requireNonNull(value, "value");
        if (!FORMAT.matcher(value).matches()) {
            throw new IllegalArgumentException(
                    "backup id '" + value + "' is not of the form yyyyMMddTHHmmssZ-xxxxxx");
        }
    }

    /** A new id for a backup started at {@code start}. */
    public static BackupId generate(Instant start) {
        byte[] suffix = new byte[3];
        RANDOM.nextBytes(suffix);
        return new BackupId(STAMP.format(start.truncatedTo(ChronoUnit.SECONDS)) + "-"
                + HexFormat.of().formatHex(suffix));
    }

    /** True when {@code text} has the shape of a backup id. */
    public static boolean isValid(String text) {
        return text != null && FORMAT.matcher(text).matches();
    }

    /** The start time encoded in the id (to the second). */
    public Instant startTime() {
        return STAMP.parse(value.substring(0, 16), Instant::from);
    }

    @Override
    public int compareTo(BackupId other) {
        return value.compareTo(other.value);
    }

    @Override
    public String toString() {
        return value;
    }
}
