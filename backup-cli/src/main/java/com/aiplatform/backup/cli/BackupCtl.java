package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.BackupException;
import com.aiplatform.backup.api.EncryptionKeyException;
import com.aiplatform.backup.api.IntegrityException;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * {@code backupctl}, the operator's command line over the backup engine.
 *
 * <pre>
 * backupctl --config backup.yaml backup kafka-config
 * backupctl --config backup.yaml list
 * backupctl --config backup.yaml verify kafka-config latest
 * backupctl --config backup.yaml restore kafka-config latest --target-dir /tmp/kafka-restored
 * backupctl keygen --out /etc/backup/keyset.json
 * backupctl demo
 * </pre>
 *
 * Exit codes: {@value #OK} success; {@value #FAILED} an environment failure (I/O, storage,
 * source, key) or intact data refused by a safety rule ({@code PolicyException}: "refused by
 * policy", such as a tar entry that would land outside the restore target); {@value #USAGE} bad
 * usage or configuration; {@value #INTEGRITY} stored data failed an integrity check;
 * {@value #INTERNAL} an unexpected internal error; 130 or 143 the command was aborted by SIGINT
 * or SIGTERM (its uploads aborted, its lock released). Every failure is
 * reported as one line on stderr; {@code --verbose} adds the stack trace.
 */
public final class BackupCtl {
    /** Success. */
    public static final int OK = 0;
    /** An environment failure: I/O, storage, source, encryption key. */
    public static final int FAILED = 1;
    /** Bad usage or bad configuration. */
    public static final int USAGE = 2;
    /** Stored data failed an integrity check (hash, size, authentication). */
    public static final int INTEGRITY = 3;
    /** An unexpected internal error (a bug). */
    public static final int INTERNAL = 70;

    /** Set by the exec-maven-plugin configuration so that a successful run lets Maven finish normally. */
    static final String EMBEDDED_PROPERTY = "backupctl.embedded";

    private BackupCtl() {
    }

    /** Runs the command line and exits the JVM with its exit code. */
    public static void main(String[] args) {
        SignalAbort.install(Thread.currentThread());
        int code = run(System.out, System.err, args);
        if (code != OK || !Boolean.getBoolean(EMBEDDED_PROPERTY)) {
            System.exit(code);
        }
    }

    /**
     * Runs the command line with the given streams and returns the exit code; never exits
     * the JVM. Intended for tests and for embedding.
     */
    public static int run(PrintStream out, PrintStream err, String... args) {
        if (java.util.Arrays.asList(args).contains("--verbose")
                && System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            // effective when logging has not started yet in this JVM (always so from main)
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "info");
        }
        PrintWriter o = new PrintWriter(out, true);
        PrintWriter e = new PrintWriter(err, true);
        RootCommand root = new RootCommand(o, e);
        CommandLine cl = new CommandLine(root);
        cl.setOut(o);
        cl.setErr(e);
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> SignalAbort.received() != null
                ? SignalAbort.report(e, commandLine(parseResult)) : report(ex, root.verbose(), e));
        cl.setParameterExceptionHandler((ex, arguments) -> {
            e.println("backupctl: " + oneLine(ex.getMessage()) + " (see '"
                    + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
            return USAGE;
        });
        try {
            return cl.execute(args);
        } finally {
            o.flush();
            e.flush();
        }
    }

    /** {@code backup kafka-config}: the subcommand and its positional arguments, for messages. */
    private static String commandLine(CommandLine.ParseResult parsed) {
        CommandLine.ParseResult sub = parsed;
        while (sub.subcommand() != null) {
            sub = sub.subcommand();
        }
        StringBuilder text = new StringBuilder(sub.commandSpec().name());
        for (var positional : sub.matchedPositionals()) {
            for (Object value : positional.stringValues()) {
                text.append(' ').append(value);
            }
        }
        return text.toString();
    }

    /** Prints one line for {@code thrown} (plus the stack trace when verbose) and returns the exit code. */
    static int report(Throwable thrown, boolean verbose, PrintWriter err) {
        Throwable ex = unwrap(thrown);
        IntegrityException integrity = find(ex, IntegrityException.class);
        int code;
        String message;
        if (ex instanceof CommandFailure failure) {
            code = failure.exitCode();
            message = failure.getMessage();
        } else if (integrity != null && (ex instanceof BackupException || ex == integrity)) {
            code = INTEGRITY;
            message = integrityMessage(integrity);
        } else if (ex instanceof EncryptionKeyException key) {
            code = FAILED;
            message = text(key);
            if (key.keyId() != null && !message.contains(key.keyId())) {
                message = message + " (key id " + key.keyId() + ")";
            }
        } else if (ex instanceof BackupException) {
            code = FAILED;
            message = text(ex);
        } else if (ex instanceof IllegalArgumentException || ex instanceof IllegalStateException) {
            code = USAGE;
            message = text(ex);
        } else if (ex instanceof IOException io) {
            code = FAILED;
            message = describe(io);
        } else {
            code = INTERNAL;
            message = "internal error: " + ex + (verbose ? "" : " (run with --verbose for the stack trace)");
        }
        err.println("backupctl: " + oneLine(message));
        if (verbose) {
            thrown.printStackTrace(err);
        }
        err.flush();
        return code;
    }

    private static String integrityMessage(IntegrityException e) {
        String message = text(e);
        String artifact = e.artifact();
        if (artifact != null && !message.contains(artifact)) {
            message = "artifact " + artifact + ": " + message;
        }
        return "integrity check failed: " + message;
    }

    /** Strips wrappers that add nothing: thread-pool and reflection wrappers, unchecked I/O. */
    private static Throwable unwrap(Throwable t) {
        Throwable current = t;
        while (current.getCause() != null && current.getCause() != current
                && (current instanceof CompletionException || current instanceof ExecutionException
                    || current instanceof UncheckedIOException || current instanceof InvocationTargetException
                    || current instanceof CommandLine.ExecutionException
                    || current.getClass() == RuntimeException.class)) {
            current = current.getCause();
        }
        return current;
    }

    private static <T extends Throwable> T find(Throwable t, Class<T> type) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (type.isInstance(c)) {
                return type.cast(c);
            }
        }
        return null;
    }

    private static String describe(IOException e) {
        if (e instanceof NoSuchFileException f) {
            return "no such file or directory: " + f.getFile();
        }
        if (e instanceof AccessDeniedException f) {
            return "permission denied: " + f.getFile();
        }
        if (e instanceof FileAlreadyExistsException f) {
            return "exists already: " + f.getFile();
        }
        if (e instanceof DirectoryNotEmptyException f) {
            return "directory not empty: " + f.getFile();
        }
        if (e instanceof NotDirectoryException f) {
            return "not a directory: " + f.getFile();
        }
        return text(e);
    }

    private static String text(Throwable t) {
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
    }

    static String oneLine(String s) {
        return s == null ? "" : s.strip().replaceAll("\\s*\\R\\s*", "; ");
    }
}
