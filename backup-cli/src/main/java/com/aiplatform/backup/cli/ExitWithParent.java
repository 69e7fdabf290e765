package com.aiplatform.backup.cli;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.util.Arrays;

/**
 * Runs another class's {@code main} in a child process and ends that process when its parent
 * goes away, however the parent ended (even {@code kill -9}): the parent holds the write end of
 * the child's standard input, the operating system closes it with the parent, and the read here
 * sees end-of-file. Used for the demo's Kafka broker, which would otherwise outlive a killed
 * {@code backupctl}. Depends on nothing but the JDK, because it runs on the broker's class path.
 *
 * <p>Usage: {@code java -cp DIR:... com.aiplatform.backup.cli.ExitWithParent MAIN_CLASS ARGS...}
 */
final class ExitWithParent {
    /** How long the child's own shutdown (its shutdown hooks) may take before the process is halted. */
    static final long HALT_AFTER_MILLIS = 20_000;

    private ExitWithParent() {
    }

    public static void main(String[] args) throws Throwable {
        if (args.length == 0) {
            System.err.println("usage: ExitWithParent MAIN_CLASS [ARGS...]");
            System.exit(2);
        }
        Thread watcher = new Thread(() -> watch(System.in), "exit-with-parent");
        watcher.setDaemon(true);
        watcher.start();
        try {
            Class.forName(args[0]).getMethod("main", String[].class)
                    .invoke(null, (Object) Arrays.copyOfRange(args, 1, args.length));
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private static void watch(InputStream parent) {
        byte[] ignored = new byte[256];
        try {
            while (parent.read(ignored) >= 0) {
                // the parent writes nothing; bytes, if any, are dropped
            }
        } catch (IOException e) {
            // a broken pipe means the same as end-of-file
        }
        System.err.println("exit-with-parent: the parent process is gone; stopping");
        Thread halt = new Thread(() -> {
            try {
                Thread.sleep(HALT_AFTER_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            Runtime.getRuntime().halt(1);
        }, "exit-with-parent-halt");
        halt.setDaemon(true);
        halt.start();
        System.exit(1);
    }
}
