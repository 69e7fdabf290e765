package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.BackupEvent;
import com.aiplatform.backup.api.BackupListener;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/**
 * Says on stderr, in one line, which newer backups {@code latest} passed over (known-bad,
 * damaged, broken chain) before the chosen one is restored or drilled; passes every event on.
 */
final class SkipNotice implements BackupListener {
    private final PrintWriter err;
    private final BackupListener next;
    private final List<BackupEvent.Skipped> skipped = new ArrayList<>();

    SkipNotice(PrintWriter err, BackupListener next) {
        this.err = err;
        this.next = next;
    }

    @Override
    public void onEvent(BackupEvent event) {
        if (event instanceof BackupEvent.Skipped s) {
            synchronized (skipped) {
                skipped.add(s);
            }
            return;
        }
        flush();
        next.onEvent(event);
    }

    /** Prints the line if any backup was skipped and it was not printed yet. */
    void flush() {
        List<BackupEvent.Skipped> now;
        synchronized (skipped) {
            now = List.copyOf(skipped);
            skipped.clear();
        }
        if (now.isEmpty()) {
            return;
        }
        List<String> parts = new ArrayList<>();
        for (BackupEvent.Skipped s : now) {
            parts.add(s.backupId() + " (" + s.condition().label() + ": " + s.reason() + ")");
        }
        err.println("warning: " + now.get(0).operation() + " of " + now.get(0).source() + " latest skipped "
                + now.size() + " newer backup(s) that cannot be restored: " + String.join("; ", parts));
        err.flush();
    }
}
