package com.aiplatform.backup.cli;

import com.aiplatform.backup.core.RetentionPolicy;
import com.aiplatform.backup.spi.Settings;

import java.time.DateTimeException;
import java.time.Duration;
import java.time.ZoneId;
import java.util.Map;
import java.util.Set;

/**
 * The {@code retention} block of the configuration (top level, or per source to override it):
 * <pre>
 * retention:
 *   keep-hourly: 0
 *   keep-daily: 14
 *   keep-weekly: 8
 *   keep-monthly: 12
 *   keep-yearly: 0
 *   keep-within: 2d
 *   keep-last: 3
 *   keep-at-least-verified: 2
 *   time-zone: Europe/Berlin
 *   point-in-time-window: 7d
 *   debris-grace: 24h
 * </pre>
 * Absent fields take the platform defaults (14 daily, 8 weekly, 12 monthly, UTC, 7 d, 24 h).
 */
record RetentionSettings(RetentionPolicy policy, Duration debrisGrace) {
    static final Set<String> FIELDS = Set.of("keep-hourly", "keep-daily", "keep-weekly", "keep-monthly",
            "keep-yearly", "keep-within", "keep-last", "keep-at-least-verified", "time-zone",
            "point-in-time-window", "debris-grace");

    static RetentionSettings defaults() {
        return new RetentionSettings(RetentionPolicy.defaults(), Duration.ofHours(24));
    }

    static RetentionSettings parse(String where, Map<String, Object> block) {
        Settings s = new Settings(where, block);
        s.rejectUnknown(FIELDS);
        RetentionPolicy.Builder b = RetentionPolicy.builder();
        try {
            b.hourly(count(s, "keep-hourly", 0)).daily(count(s, "keep-daily", 14)).weekly(count(s, "keep-weekly", 8))
                    .monthly(count(s, "keep-monthly", 12)).yearly(count(s, "keep-yearly", 0))
                    .within(s.duration("keep-within", Duration.ZERO)).last(count(s, "keep-last", 0))
                    .verifiedAtLeast(count(s, "keep-at-least-verified", 0))
                    .pointInTimeWindow(s.duration("point-in-time-window", Duration.ofDays(7)));
            s.string("time-zone").ifPresent(z -> {
                try {
                    b.zone(ZoneId.of(z));
                } catch (DateTimeException e) {
                    throw new IllegalArgumentException(s.field("time-zone") + ": '" + z
                            + "' is not a time zone such as UTC or Europe/Berlin");
                }
            });
            RetentionPolicy policy = b.build();
            if (policy.keepsNothing()) {
                throw new IllegalArgumentException(where + " keeps nothing; set at least one keep-* rule");
            }
            return new RetentionSettings(policy, s.duration("debris-grace", Duration.ofHours(24)));
        } catch (IllegalArgumentException e) {
            if (e.getMessage() != null && e.getMessage().startsWith(where)) {
                throw e;
            }
            throw new IllegalArgumentException(where + ": " + e.getMessage());
        }
    }

    private static int count(Settings s, String key, int fallback) {
        long n = s.number(key, fallback);
        if (n < 0 || n > 100_000) {
            throw new IllegalArgumentException(s.field(key) + " must be between 0 and 100000, not " + n);
        }
        return (int) n;
    }
}
