package com.aiplatform.backup.core;

import java.time.Duration;
import java.time.ZoneId;
import java.util.Objects;

/**
 * Which backups to keep: a union of rules, each keeping the newest backup in each of its
 * calendar buckets (hour, day, ISO week, month, year, in {@link #zone()}), plus keep-within,
 * keep-last and keep-at-least-N-verified. A backup is kept if any rule keeps it, and a kept
 * backup keeps the parents it needs. Build with {@link #builder()}; the defaults mirror the
 * platform plan: 14 daily, 8 weekly, 12 monthly, in UTC.
 *
 * @param hourly       newest backup of each of the last N hours that have one
 * @param daily        ... of each of the last N days
 * @param weekly       ... of each of the last N ISO weeks (Monday to Sunday; week-based year)
 * @param monthly      ... of each of the last N months
 * @param yearly       ... of each of the last N years
 * @param within       every backup younger than this (zero: none)
 * @param last         the N newest backups
 * @param verifiedAtLeast the N newest backups whose verification or drill passed, whatever else says
 * @param zone         time zone of the calendar buckets
 * @param pointInTimeWindow how far back point-in-time restore must reach (default 7 days): kept
 *                     backups younger than this keep the continuous archive (WAL) up to the next
 *                     kept backup; older ones keep only the part they need to restore themselves
 */
public record RetentionPolicy(int hourly, int daily, int weekly, int monthly, int yearly, Duration within,
                              int last, int verifiedAtLeast, ZoneId zone, Duration pointInTimeWindow) {
    public RetentionPolicy {
        requireCount("keep-hourly", hourly);
        requireCount("keep-daily", daily);
        requireCount("keep-weekly", weekly);
        requireCount("keep-monthly", monthly);
        requireCount("keep-yearly", yearly);
        requireCount("keep-last", last);
        requireCount("keep-at-least-verified", verifiedAtLeast);
        within = within == null ? Duration.ZERO : within;
        if (within.isNegative()) {
            throw new IllegalArgumentException("keep-within must not be negative, not " + within);
        }
        Objects.requireNonNull(zone, "zone");
        pointInTimeWindow = pointInTimeWindow == null ? Duration.ofDays(7) : pointInTimeWindow;
        if (pointInTimeWindow.isNegative()) {
            throw new IllegalArgumentException("point-in-time-window must not be negative, not " + pointInTimeWindow);
        }
    }

    private static void requireCount(String field, int n) {
        if (n < 0) {
            throw new IllegalArgumentException(field + " must be 0 or more, not " + n);
        }
    }

    /** The platform plan's policy: 14 daily, 8 weekly, 12 monthly, UTC. */
    public static RetentionPolicy defaults() {
        return builder().build();
    }

    /** A builder starting from {@link #defaults()}. */
    public static Builder builder() {
        return new Builder();
    }

    /** True when no rule keeps anything (a policy that would delete every backup). */
    public boolean keepsNothing() {
        return hourly + daily + weekly + monthly + yearly + last + verifiedAtLeast == 0 && within.isZero();
    }

    /** Builder of {@link RetentionPolicy}. */
    public static final class Builder {
        private int hourly;
        private int daily = 14;
        private int weekly = 8;
        private int monthly = 12;
        private int yearly;
        private Duration within = Duration.ZERO;
        private int last;
        private int verifiedAtLeast;
        private ZoneId zone = ZoneId.of("UTC");
        private Duration pointInTimeWindow = Duration.ofDays(7);

        Builder() {
        }

        public Builder hourly(int n) {
            this.hourly = n;
            return this;
        }

        public Builder daily(int n) {
            this.daily = n;
            return this;
        }

        public Builder weekly(int n) {
            this.weekly = n;
            return this;
        }

        public Builder monthly(int n) {
            this.monthly = n;
            return this;
        }

        public Builder yearly(int n) {
            this.yearly = n;
            return this;
        }

        public Builder within(Duration d) {
            this.within = d;
            return this;
        }

        public Builder last(int n) {
            this.last = n;
            return this;
        }

        public Builder verifiedAtLeast(int n) {
            this.verifiedAtLeast = n;
            return this;
        }

        public Builder zone(ZoneId zone) {
            this.zone = zone;
            return this;
        }

        public Builder pointInTimeWindow(Duration window) {
            this.pointInTimeWindow = window;
            return this;
        }

        public RetentionPolicy build() {
            return new RetentionPolicy(hourly, daily, weekly, monthly, yearly, within, last, verifiedAtLeast, zone,
                    pointInTimeWindow);
        }
    }
}
