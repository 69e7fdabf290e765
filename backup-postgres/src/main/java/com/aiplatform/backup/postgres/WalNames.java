package com.aiplatform.backup.postgres;

import java.util.Locale;

/** PostgreSQL WAL positions (LSNs) and segment file names. */
final class WalNames {
    private WalNames() {
    }

    /** Parses {@code 16/B374D848}. */
    static long parseLsn(String text) {
        int slash = text.indexOf('/');
        if (slash < 0) {
            throw new IllegalArgumentException("'" + text + "' is not an LSN such as 0/3000060");
        }
        return (Long.parseLong(text.substring(0, slash), 16) << 32) | Long.parseLong(text.substring(slash + 1), 16);
    }

    static String formatLsn(long lsn) {
        return String.format(Locale.ROOT, "%X/%X", lsn >>> 32, lsn & 0xFFFFFFFFL);
    }

    /** The segment file name holding {@code lsn} on {@code timeline}: {@code 000000010000000000000003}. */
    static String segmentName(int timeline, long lsn, long segmentSize) {
        long segNo = Long.divideUnsigned(lsn, segmentSize);
        long segmentsPerId = 0x100000000L / segmentSize;
        return String.format(Locale.ROOT, "%08X%08X%08X", timeline, segNo / segmentsPerId, segNo % segmentsPerId);
    }

    /** The LSN where segment {@code name} starts. */
    static long segmentStart(String name, long segmentSize) {
        long hi = Long.parseLong(name.substring(8, 16), 16);
        long lo = Long.parseLong(name.substring(16, 24), 16);
        long segmentsPerId = 0x100000000L / segmentSize;
        return (hi * segmentsPerId + lo) * segmentSize;
    }

    static int timeline(String name) {
        return Integer.parseInt(name.substring(0, 8), 16);
    }

    /** True for names of WAL segment files (24 hex digits). */
    static boolean isSegmentName(String name) {
        return name.length() == 24 && name.chars().allMatch(c -> Character.digit(c, 16) >= 0);
    }
}
