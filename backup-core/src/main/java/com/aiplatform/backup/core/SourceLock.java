package com.aiplatform.backup.core;

import com.aiplatform.backup.api.SourceLockedException;
import com.aiplatform.backup.spi.StorageTarget;

import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;

/**
 * The exclusive lock of one source on a storage target ({@code <source>/locks/exclusive.lock}),
 * taken with the target's atomic conditional create, so that two prunes, or a prune and a
 * backup, of the same source never run at once, even from different processes or hosts.
 */
final class SourceLock implements AutoCloseable {
    private final StorageTarget storage;
    private final String key;
    private boolean released;

    private SourceLock(StorageTarget storage, String key) {
        this.storage = storage;
        this.key = key;
    }

    static String key(String source) {
        return source + "/locks/exclusive.lock";
    }

    /**
     * Takes the lock, waiting up to {@code wait} for a holder to finish.
     *
     * @throws SourceLockedException naming the holder when it is still held after {@code wait}
     */
    static SourceLock acquire(StorageTarget storage, String source, String operation, Duration wait)
            throws IOException {
        String key = key(source);
        String holder = "{\"operation\":\"" + operation + "\",\"owner\":\"" + owner() + "\",\"since\":\""
                + Instant.now() + "\"}";
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            if (storage.createIfAbsent(key, holder.getBytes(StandardCharsets.UTF_8))) {
                return new SourceLock(storage, key);
            }
            if (System.nanoTime() >= deadline) {
                throw new SourceLockedException("source '" + source + "' is locked by " + describeHolder(storage, key)
                        + " (lock object " + key + " on storage '" + storage.name() + "'); run again when it is done, "
                        + "or break the lock if its process is gone");
            }
            try {
                TimeUnit.MILLISECONDS.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while waiting for the lock of " + source);
            }
        }
    }

    /** Removes a lock left by a process that is gone. */
    static boolean breakLock(StorageTarget storage, String source) throws IOException {
        return storage.delete(key(source));
    }

    private static String describeHolder(StorageTarget storage, String key) {
        try (InputStream in = storage.open(key)) {
            return new String(in.readNBytes(4096), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "another operation";
        }
    }

    private static String owner() {
        return ManagementFactory.getRuntimeMXBean().getName();
    }

    @Override
    public void close() throws IOException {
        if (!released) {
            released = true;
            storage.delete(key);
        }
    }
}
