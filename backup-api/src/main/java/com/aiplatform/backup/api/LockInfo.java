package com.aiplatform.backup.api;

import java.time.Duration;
import java.time.Instant;

/**
 * Who holds the lock (lease) of a source on a storage target, and whether it is stale.
 *
 * @param source      source name
 * @param storage     storage target name
 * @param operation   what the holder does ({@code backup <id>}, {@code prune}, ...)
 * @param host        host name of the holder
 * @param pid         process id of the holder; -1 when unknown
 * @param since       when the lock was taken
 * @param lastRefresh when the holder last refreshed its lease
 * @param lease       how long a lease lasts without a refresh
 * @param staleReason why the lock is stale (its process is gone, its lease expired); null while live
 */
public record LockInfo(String source, String storage, String operation, String host, long pid, Instant since,
                       Instant lastRefresh, Duration lease, String staleReason) {
    /** True when another process may take the lock over. */
    public boolean stale() {
        return staleReason != null;
    }

    /** When the lease ends unless refreshed. */
    public Instant expires() {
        return lastRefresh.plus(lease);
    }

    /** {@code backup X (pid 12 on host h, since T, last refresh T2)}: for messages. */
    public String describe() {
        return operation + " (pid " + pid + " on host " + host + ", since " + since + ", last refresh " + lastRefresh
                + ", lease " + lease.toSeconds() + " s" + (stale() ? "; stale: " + staleReason : "") + ")";
    }
}
