package com.aiplatform.backup.core;

import com.aiplatform.backup.api.LockInfo;
import com.aiplatform.backup.api.SourceLockedException;
import com.aiplatform.backup.spi.ProcessOwner;
import com.aiplatform.backup.spi.StorageObject;
import com.aiplatform.backup.spi.StorageTarget;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The exclusive lock of one source on a storage target: a lease, so that two prunes, or a
 * prune and a backup, of the same source never run at once (even from different processes or
 * hosts), and a killed process never blocks the next run for longer than its lease.
 *
 * <p>Built only on the storage SPI's immutable objects and its atomic conditional create, so it
 * works the same on every target (an S3 target maps {@code createIfAbsent} to
 * {@code If-None-Match: *}):
 * <ul>
 * <li>{@code <source>/locks/exclusive.lock} holds the holder (operation, host, pid, process
 *     start, a random token, since, lease length), created with {@code createIfAbsent}.</li>
 * <li>While the operation runs, a daemon timer writes a refresh object
 *     {@code <source>/locks/refresh.<token>.<millis>} every third of the lease and deletes the
 *     previous one; the newest one's time (the holder's clock) is the last refresh.</li>
 * <li>The lock is stale when its holder is on this host and its process is gone (no process with
 *     the pid, or one with another start time: the pid was reused), at once; otherwise when the
 *     lease has passed since the last refresh (clocks of the hosts must agree to well within a
 *     lease).</li>
 * <li>A stale lock is taken over by whoever wins {@code createIfAbsent} of
 *     {@code <source>/locks/takeover.<token>}: of two processes racing to take over the same
 *     expired lease exactly one wins. The winner reads the lock again, deletes it only if it
 *     still carries the stale token, removes the marker, and then competes with
 *     {@code createIfAbsent} like everybody else. Tokens are never reused, so a late loser that
 *     wins the marker after it was removed finds another token and deletes nothing.</li>
 * <li>Release deletes the lock only while it still carries the holder's own token.</li>
 * </ul>
 *
 * <p>Remaining windows (the SPI has no conditional delete): a holder that stalls for longer
 * than its lease (a stopped process, a long partition) loses the lock without knowing until its
 * next refresh or its check before committing ({@link #requireHeld()}), and runs alongside the
 * new holder meanwhile; and if such a stalled holder releases in the instant between a
 * takeover's re-read and its delete, while a third process creates a new lock in that same
 * instant, the takeover deletes the third process's lock. Both need a holder that outlived its
 * lease; choose the lease well above the longest pause expected.
 */
final class SourceLock implements AutoCloseable {
    /** Default lease: a holder that stops refreshing blocks others for at most this long. */
    static final Duration DEFAULT_LEASE = Duration.ofMinutes(3);
    /** A takeover marker older than this belongs to a takeover that died half-way. */
    private static final Duration TAKEOVER_TIMEOUT = Duration.ofSeconds(30);
    private static final Logger LOG = LoggerFactory.getLogger(SourceLock.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final ScheduledExecutorService REFRESHER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "backup-lock-refresh");
        t.setDaemon(true);
        return t;
    });

    private final StorageTarget storage;
    private final String source;
    private final String token;
    private final Duration lease;
    private ScheduledFuture<?> refreshing;
    private String lastRefreshKey;
    private volatile String lost;
    private boolean released;

    private SourceLock(StorageTarget storage, String source, String token, Duration lease) {
        this.storage = storage;
        this.source = source;
        this.token = token;
        this.lease = lease;
    }

    static String key(String source) {
        return source + "/locks/exclusive.lock";
    }

    private static String refreshPrefix(String source, String token) {
        return source + "/locks/refresh." + token + ".";
    }

    private static String takeoverKey(String source, String token) {
        return source + "/locks/takeover." + token;
    }

    /** Takes the lock with the default lease, waiting up to {@code wait}. */
    static SourceLock acquire(StorageTarget storage, String source, String operation, Duration wait)
            throws IOException {
        return acquire(storage, source, operation, wait, DEFAULT_LEASE);
    }

    /**
     * Takes the lock, waiting up to {@code wait} for a live holder to finish, taking over a
     * stale one (dead local owner at once, expired lease), and refreshes it until {@link #close()}.
     *
     * @throws SourceLockedException naming the holder when a live one still holds it after {@code wait}
     */
    static SourceLock acquire(StorageTarget storage, String source, String operation, Duration wait, Duration lease)
            throws IOException {
        String key = key(source);
        String token = randomToken();
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            Instant now = Instant.now();
            if (storage.createIfAbsent(key, holderJson(operation, token, now, lease))) {
                SourceLock lock = new SourceLock(storage, source, token, lease);
                lock.startRefreshing();
                return lock;
            }
            Optional<Holder> holder = read(storage, source);
            boolean tookOver = false;
            if (holder.isPresent() && holder.get().staleReason(Instant.now()) != null) {
                tookOver = takeOver(storage, source, holder.get());
            }
            if (holder.isEmpty() || tookOver) {
                continue; // released or taken over meanwhile: compete again at once
            }
            if (System.nanoTime() >= deadline) {
                throw lockedException(storage, source, holder.get());
            }
            try {
                TimeUnit.MILLISECONDS.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for the lock of " + source);
            }
        }
    }

    private static SourceLockedException lockedException(StorageTarget storage, String source, Holder holder) {
        return new SourceLockedException("source '" + source + "' is locked by " + holder.info(storage, source,
                Instant.now()).describe() + " (lock object " + key(source) + " on storage '" + storage.name()
                + "'); run again when it is done (its lease expires unless refreshed); if its process is gone, "
                + "remove the lock with 'backupctl unlock " + source + "'");
    }

    /**
     * Removes a stale holder's lock if this process wins the takeover of its token; true when it
     * did (or the lock changed meanwhile), so the caller competes for the lock again.
     */
    private static boolean takeOver(StorageTarget storage, String source, Holder stale) throws IOException {
        String marker = takeoverKey(source, stale.token);
        byte[] me = (new String(ProcessOwner.current().toBytes(), StandardCharsets.UTF_8) + "at=" + Instant.now()
                + "\n").getBytes(StandardCharsets.UTF_8);
        if (!storage.createIfAbsent(marker, me)) {
            removeAbandonedMarker(storage, marker);
            return false;
        }
        try {
            Optional<Holder> again = read(storage, source);
            if (again.isPresent() && again.get().token.equals(stale.token)) {
                storage.delete(key(source));
                LOG.warn("took over the lock of {} on storage '{}' from {}: {}", source, storage.name(),
                        stale.operation, stale.staleReason(Instant.now()));
                deleteRefreshes(storage, source, stale.token);
            }
            return true;
        } finally {
            storage.delete(marker);
        }
    }

    private static void removeAbandonedMarker(StorageTarget storage, String marker) throws IOException {
        byte[] content;
        try (InputStream in = storage.open(marker)) {
            content = in.readNBytes(4096);
        } catch (IOException e) {
            return; // gone meanwhile
        }
        String text = new String(content, StandardCharsets.UTF_8);
        Instant at = null;
        for (String line : text.split("\n")) {
            if (line.startsWith("at=")) {
                try {
                    at = Instant.parse(line.substring(3).strip());
                } catch (RuntimeException e) {
                    at = null;
                }
            }
        }
        boolean dead = ProcessOwner.parse(content).map(ProcessOwner::isDeadHere).orElse(false);
        if (dead || at == null || at.plus(TAKEOVER_TIMEOUT).isBefore(Instant.now())) {
            storage.delete(marker);
        }
    }

    /** The holder of a source's lock, or empty when it is not locked. */
    static Optional<LockInfo> inspect(StorageTarget storage, String source) throws IOException {
        return read(storage, source).map(h -> h.info(storage, source, Instant.now()));
    }

    /**
     * Removes the lock of a source: a stale one always, a live one only with {@code force}.
     *
     * @return the holder that was removed; empty when there was no lock
     * @throws SourceLockedException when the holder is live and {@code force} is false
     */
    static Optional<LockInfo> unlock(StorageTarget storage, String source, boolean force) throws IOException {
        Optional<Holder> holder = read(storage, source);
        if (holder.isEmpty()) {
            return Optional.empty();
        }
        LockInfo info = holder.get().info(storage, source, Instant.now());
        if (!info.stale() && !force) {
            throw new SourceLockedException("source '" + source + "' is locked by a live " + info.describe()
                    + " on storage '" + storage.name() + "'; not removed (stop that process first, or use --force "
                    + "if it is certainly gone)");
        }
        storage.delete(key(source));
        deleteRefreshes(storage, source, holder.get().token);
        LOG.warn("removed the lock of {} on storage '{}' held by {}", source, storage.name(), info.describe());
        return Optional.of(info);
    }

    /** Fails when this lock was taken over or removed (the lease ran out, someone forced it). */
    void requireHeld() throws IOException {
        if (lost == null) {
            Optional<Holder> holder = read(storage, source);
            if (holder.isEmpty() || !holder.get().token.equals(token)) {
                lost = holder.map(h -> "it is now held by " + h.operation + " (pid " + h.pid() + " on host "
                        + h.host() + ")").orElse("it was removed");
            }
        }
        if (lost != null) {
            throw new SourceLockedException("the lock of source '" + source + "' on storage '" + storage.name()
                    + "' was lost: " + lost + "; nothing was committed");
        }
    }

    private void startRefreshing() {
        long period = Math.max(100, lease.toMillis() / 3);
        refreshing = REFRESHER.scheduleWithFixedDelay(this::refresh, period, period, TimeUnit.MILLISECONDS);
    }

    private synchronized void refresh() {
        if (released || lost != null) {
            return;
        }
        try {
            Optional<Holder> holder = read(storage, source);
            if (holder.isEmpty() || !holder.get().token.equals(token)) {
                lost = holder.map(h -> "it is now held by " + h.operation).orElse("it was removed");
                LOG.warn("the lock of {} on storage '{}' was lost: {}", source, storage.name(), lost);
                return;
            }
            String key = refreshPrefix(source, token) + String.format("%020d", System.currentTimeMillis());
            if (storage.createIfAbsent(key, new byte[0]) && lastRefreshKey != null) {
                storage.delete(lastRefreshKey);
            }
            lastRefreshKey = key;
        } catch (IOException | RuntimeException e) {
            LOG.warn("refreshing the lock of {} on storage '{}' failed (retried): {}", source, storage.name(),
                    e.getMessage());
        }
    }

    /** Stops refreshing and deletes the lock if it is still this one's. Works on an interrupted thread. */
    @Override
    public void close() throws IOException {
        if (refreshing != null) {
            refreshing.cancel(false);
        }
        synchronized (this) {
            if (released) {
                return;
            }
            released = true;
        }
        boolean interrupted = Thread.interrupted(); // storage channels refuse to work on an interrupted thread
        try {
            Optional<Holder> holder = read(storage, source);
            if (holder.isPresent() && holder.get().token.equals(token)) {
                storage.delete(key(source));
            }
            deleteRefreshes(storage, source, token);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static void deleteRefreshes(StorageTarget storage, String source, String token) throws IOException {
        for (StorageObject o : storage.list(refreshPrefix(source, token))) {
            storage.delete(o.key());
        }
    }

    private static byte[] holderJson(String operation, String token, Instant since, Duration lease) {
        ProcessOwner me = ProcessOwner.current();
        ObjectNode node = JSON.createObjectNode();
        node.put("operation", operation);
        node.put("host", me.host());
        node.put("pid", me.pid());
        if (me.started() != null) {
            node.put("processStart", me.started().toString());
        }
        node.put("token", token);
        node.put("since", since.toString());
        node.put("leaseMillis", lease.toMillis());
        node.put("owner", me.pid() + "@" + me.host()); // what older versions wrote
        try {
            return JSON.writeValueAsBytes(node);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String randomToken() {
        byte[] b = new byte[12];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /** Reads the lock and its newest refresh; empty when there is no lock. */
    private static Optional<Holder> read(StorageTarget storage, String source) throws IOException {
        String key = key(source);
        Optional<StorageObject> stat = storage.stat(key);
        if (stat.isEmpty()) {
            return Optional.empty();
        }
        byte[] content;
        try (InputStream in = storage.open(key)) {
            content = in.readNBytes(64 * 1024);
        } catch (java.nio.file.NoSuchFileException | com.aiplatform.backup.api.StorageException e) {
            if (storage.stat(key).isEmpty()) {
                return Optional.empty(); // released meanwhile
            }
            throw e;
        }
        Holder holder = Holder.parse(content, stat.get().lastModified());
        Instant refreshed = holder.since;
        for (StorageObject o : storage.list(refreshPrefix(source, holder.token))) {
            try {
                Instant at = Instant.ofEpochMilli(Long.parseLong(o.key().substring(o.key().lastIndexOf('.') + 1)));
                if (at.isAfter(refreshed)) {
                    refreshed = at;
                }
            } catch (NumberFormatException e) {
                // not a refresh object
            }
        }
        return Optional.of(holder.refreshedAt(refreshed));
    }

    /** A lock's content as read. {@code owner} is null when the lock names none. */
    private record Holder(String operation, ProcessOwner owner, String token, Instant since, Duration lease,
                          Instant lastRefresh) {
        static Holder parse(byte[] content, Instant written) {
            JsonNode node;
            try {
                node = JSON.readTree(content);
            } catch (IOException e) {
                node = null;
            }
            if (node == null || !node.isObject()) {
                return new Holder("an unknown operation (unreadable lock)", null, "unreadable-"
                        + written.toEpochMilli(), written, DEFAULT_LEASE, written);
            }
            String operation = node.path("operation").asText("an unknown operation");
            Instant since = parseInstant(node.path("since").asText(null), written);
            ProcessOwner owner = ProcessOwner.of(node.path("host").asText(null), node.path("pid").asText(null),
                    node.path("processStart").asText(null)).orElse(null);
            String legacyOwner = node.path("owner").asText("");
            if (owner == null && legacyOwner.contains("@")) { // written by a version without leases
                int at = legacyOwner.indexOf('@');
                owner = ProcessOwner.of(legacyOwner.substring(at + 1), legacyOwner.substring(0, at), null)
                        .orElse(null);
            }
            String token = node.path("token").asText("");
            if (!token.matches("[0-9a-f]{8,64}")) {
                token = "legacy-" + since.toEpochMilli();
            }
            Duration lease = node.has("leaseMillis") ? Duration.ofMillis(node.path("leaseMillis").asLong())
                    : DEFAULT_LEASE;
            return new Holder(operation, owner, token, since, lease, since);
        }

        private static Instant parseInstant(String text, Instant fallback) {
            try {
                return text == null ? fallback : Instant.parse(text);
            } catch (RuntimeException e) {
                return fallback;
            }
        }

        Holder refreshedAt(Instant at) {
            return new Holder(operation, owner, token, since, lease, at);
        }

        long pid() {
            return owner == null ? -1 : owner.pid();
        }

        String host() {
            return owner == null ? "unknown" : owner.host();
        }

        String staleReason(Instant now) {
            if (owner != null && owner.isDeadHere()) {
                return "its process (" + owner.describe() + ") is gone";
            }
            if (lastRefresh.plus(lease).isBefore(now)) {
                return "its lease expired at " + lastRefresh.plus(lease);
            }
            return null;
        }

        LockInfo info(StorageTarget storage, String source, Instant now) {
            return new LockInfo(source, storage.name(), operation, host(), pid(), since, lastRefresh, lease,
                    staleReason(now));
        }
    }
}
