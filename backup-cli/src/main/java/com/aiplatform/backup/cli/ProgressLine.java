package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.BackupEvent;
import com.aiplatform.backup.api.BackupListener;

import java.io.PrintWriter;
import java.util.concurrent.TimeUnit;

/**
 * Shows bytes moved and the rate on one updating line of the terminal (stderr) while a
 * backup, restore or verify runs. Updates at most five times a second, and never blocks
 * the engine for longer than one short write.
 */
final class ProgressLine implements BackupListener {
    private static final long INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
    private final PrintWriter err;
    private long lastPrint;
    private int lastWidth;

    ProgressLine(PrintWriter err) {
        this.err = err;
    }

    /** True when stdout is an interactive terminal. */
    static boolean isTerminal() {
        return System.console() != null;
    }

    @Override
    public synchronized void onEvent(BackupEvent event) {
        if (event instanceof BackupEvent.Progress p) {
            long now = System.nanoTime();
            if (now - lastPrint < INTERVAL_NANOS) {
                return;
            }
            lastPrint = now;
            show(p.source() + (p.artifact() == null ? "" : " " + p.artifact()) + ": "
                    + Formats.bytes(p.bytes()) + "  " + Formats.rate(p.bytes(), p.elapsed()));
        } else if (event instanceof BackupEvent.Completed || event instanceof BackupEvent.Failed) {
            clear();
        }
    }

    /** Removes the line, so that the next output starts on a clean line. */
    synchronized void clear() {
        if (lastWidth > 0) {
            err.print("\r" + " ".repeat(lastWidth) + "\r");
            err.flush();
            lastWidth = 0;
        }
    }

    private void show(String text) {
        int pad = Math.max(0, lastWidth - text.length());
        err.print("\r" + text + " ".repeat(pad));
        err.flush();
        lastWidth = text.length();
    }
}
