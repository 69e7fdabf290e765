package com.aiplatform.backup.core;

import com.aiplatform.backup.api.BackupEvent;
import com.aiplatform.backup.api.BackupId;
import com.aiplatform.backup.api.BackupListener;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/** Counts bytes of one operation and reports progress at most twice a second. */
final class ProgressTracker implements LongConsumer {
    private static final long INTERVAL_NANOS = 500_000_000L;

    private final BackupListener listener;
    private final String source;
    private final BackupId backupId;
    private final long start = System.nanoTime();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong nextReport = new AtomicLong(start + INTERVAL_NANOS);
    private volatile String artifact = "";

    ProgressTracker(BackupListener listener, String source, BackupId backupId) {
        this.listener = listener;
        this.source = source;
        this.backupId = backupId;
    }

    void artifact(String name) {
        this.artifact = name;
    }

    @Override
    public void accept(long n) {
        long total = bytes.addAndGet(n);
        long now = System.nanoTime();
        long due = nextReport.get();
        if (now >= due && nextReport.compareAndSet(due, now + INTERVAL_NANOS)) {
            listener.onEvent(new BackupEvent.Progress(source, backupId, artifact, total, elapsed()));
        }
    }

    long bytes() {
        return bytes.get();
    }

    Duration elapsed() {
        return Duration.ofNanos(System.nanoTime() - start);
    }
}
