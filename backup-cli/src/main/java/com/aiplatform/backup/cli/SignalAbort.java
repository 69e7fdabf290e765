package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.BackupEvent;
import com.aiplatform.backup.api.BackupListener;

import java.io.PrintWriter;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * SIGINT and SIGTERM abort the running command cleanly instead of killing the JVM mid-write:
 * the command thread is interrupted, so the engine aborts its uploads (no partial file stays)
 * and releases the source's lock on the way out; {@code backupctl} then prints one line saying
 * what was abandoned and exits {@value #SIGINT_EXIT} (SIGINT) or {@value #SIGTERM_EXIT}
 * (SIGTERM), as a shell reports a process killed by that signal. A command that does not stop
 * within {@link #GRACE_SECONDS} seconds is ended with {@code System.exit} (shutdown hooks run),
 * and a second signal halts the process at once (a lock is then left, to be taken over: at once
 * by the next run on this host, elsewhere when its lease expires). Commands with a graceful stop of
 * their own ({@code archive}) install their own handlers over these.
 */
final class SignalAbort {
    /** Exit code after SIGINT (128 + 2). */
    static final int SIGINT_EXIT = 130;
    /** Exit code after SIGTERM (128 + 15). */
    static final int SIGTERM_EXIT = 143;
    /** How long the command may take to stop after the signal. */
    static final long GRACE_SECONDS = 30;

    private static final AtomicReference<String> RECEIVED = new AtomicReference<>();
    private static final AtomicReference<BackupEvent.Started> RUNNING = new AtomicReference<>();
    private static volatile Thread commandThread;

    private SignalAbort() {
    }

    /** Handles SIGINT and SIGTERM by interrupting {@code thread}, the one running the command. */
    @SuppressWarnings("restriction")
    static void install(Thread thread) {
        commandThread = thread;
        for (String name : new String[] {"TERM", "INT"}) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(name), signal -> onSignal(signal.getName()));
            } catch (IllegalArgumentException | UnsupportedOperationException e) {
                // the signal is not available here; the JVM's default handling stays
            }
        }
    }

    private static void onSignal(String name) {
        if (!RECEIVED.compareAndSet(null, name)) {
            System.err.println("backupctl: " + describe(RECEIVED.get()) + " again: stopping at once");
            System.err.flush();
            Runtime.getRuntime().halt(exitCode(RECEIVED.get()));
        }
        Thread watchdog = new Thread(() -> {
            try {
                TimeUnit.SECONDS.sleep(GRACE_SECONDS);
            } catch (InterruptedException e) {
                return;
            }
            System.err.println("backupctl: " + describe(name) + ": the command did not stop within " + GRACE_SECONDS
                    + " s; exiting without cleaning up");
            System.err.flush();
            System.exit(exitCode(name)); // shutdown hooks still run (servers started by the demo stop)
        }, "backupctl-signal-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        Thread thread = commandThread;
        if (thread != null) {
            thread.interrupt();
        }
    }

    /** The signal received (TERM or INT), or null. */
    static String received() {
        return RECEIVED.get();
    }

    /** Wraps a listener to remember the operation running now, for the message after a signal. */
    static BackupListener tracking(BackupListener listener) {
        return event -> {
            if (event instanceof BackupEvent.Started started) {
                RUNNING.set(started);
            } else if (event instanceof BackupEvent.Completed) {
                RUNNING.set(null);
            }
            listener.onEvent(event);
        };
    }

    /** Prints the one line after an aborted command and returns its exit code. */
    static int report(PrintWriter err, String command) {
        String signal = RECEIVED.get();
        BackupEvent.Started running = RUNNING.get();
        String what;
        if (running != null) {
            what = running.operation() + (running.backupId() == null ? "" : " " + running.backupId()) + " of "
                    + running.source() + " abandoned" + ("backup".equals(running.operation())
                    ? ", nothing committed" : "");
        } else {
            what = command + " abandoned";
        }
        err.println("backupctl: " + describe(signal) + ": " + what);
        err.flush();
        return exitCode(signal);
    }

    private static String describe(String signal) {
        return "interrupted (SIG" + signal + ")";
    }

    static int exitCode(String signal) {
        return "INT".equals(signal) ? SIGINT_EXIT : SIGTERM_EXIT;
    }
}
