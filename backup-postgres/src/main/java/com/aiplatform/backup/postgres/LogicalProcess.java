package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.Secret;
import com.aiplatform.backup.api.SourceException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One run of a PostgreSQL client tool as a child process. The password goes only into the
 * child's environment ({@code PGPASSWORD}), never onto its command line. Standard error is
 * read on its own thread into a bounded tail (the last {@value #STDERR_TAIL} characters), and
 * every text taken from it has the password removed. Closing destroys a process that is still
 * running, with its children, so a failed backup leaves no orphan. Safe to close twice.
 */
final class LogicalProcess implements AutoCloseable {
    /** How much of standard error is kept: its end, where the error is. */
    static final int STDERR_TAIL = 64 * 1024;
    /** Buffer size of every stream copy. */
    static final int COPY_BUFFER = 256 * 1024;
    static final String REDACTED = "********";

    private final String description;
    private final Process process;
    private final String password;
    private final StderrReader stderr;
    private final Thread stderrThread;

    private LogicalProcess(String description, Process process, String password, Consumer<String> lineListener) {
        this.description = description;
        this.process = process;
        this.password = password;
        this.stderr = new StderrReader(process.getErrorStream(), lineListener, password);
        this.stderrThread = new Thread(stderr, description + "-stderr");
        this.stderrThread.setDaemon(true);
        this.stderrThread.start();
    }

    /**
     * Starts a tool.
     *
     * @param tool          the located tool
     * @param args          arguments after the executable (never a password)
     * @param password      the password for {@code PGPASSWORD}, or empty
     * @param connectTimeout connection time limit, passed as {@code PGCONNECT_TIMEOUT}
     * @param discardStdout true when the tool's standard output is of no use
     * @param lineListener  receives each standard-error line (password removed), or null
     */
    static LogicalProcess start(PgTools.Tool tool, List<String> args, java.util.Optional<Secret> password,
                                Duration connectTimeout, boolean discardStdout, Consumer<String> lineListener)
            throws IOException {
        List<String> command = new ArrayList<>();
        command.add(tool.path().toString());
        command.addAll(args);
        String secret = password.map(Secret::reveal).filter(s -> !s.isEmpty()).orElse(null);
        ProcessBuilder pb = new ProcessBuilder(command);
        Map<String, String> env = pb.environment();
        env.remove("PGPASSWORD");
        if (secret != null) {
            env.put("PGPASSWORD", secret);
        }
        env.put("PGCONNECT_TIMEOUT", Long.toString(Math.max(2, (connectTimeout.toMillis() + 999) / 1000)));
        env.putIfAbsent("PGAPPNAME", "backup-" + tool.name());
        if (discardStdout) {
            pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        }
        Process process;
        try {
            process = pb.start();
        } catch (IOException e) {
            throw new SourceException("cannot start " + tool + ": " + e.getMessage(), false, e);
        }
        return new LogicalProcess(tool.name(), process, secret, lineListener);
    }

    /** The tool's standard output. */
    InputStream stdout() {
        return process.getInputStream();
    }

    /** The tool's standard input. */
    OutputStream stdin() {
        return process.getOutputStream();
    }

    /** Closes standard input when the tool reads none, so it sees end of file at once. */
    void noInput() {
        try {
            process.getOutputStream().close();
        } catch (IOException ignored) {
            // the tool may already have exited; its exit code tells
        }
    }

    /** Waits for the tool to exit and for its standard error to be read; returns the exit code. */
    int waitFor() throws InterruptedIOException {
        try {
            int code = process.waitFor();
            stderrThread.join(TimeUnit.SECONDS.toMillis(30));
            return code;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            destroy();
            throw new InterruptedIOException("interrupted while waiting for " + description);
        }
    }

    /** The end of standard error so far, with the password removed, trimmed. */
    String stderr() {
        return redact(stderr.tail(), password).strip();
    }

    /** The text with every occurrence of this process's password replaced. */
    String redact(String text) {
        return redact(text, password);
    }

    static String redact(String text, String password) {
        if (text == null || password == null || password.isEmpty()) {
            return text;
        }
        return text.replace(password, REDACTED);
    }

    /**
     * The exception for a non-zero exit: what was being done, the exit code and the tool's
     * standard error (password removed).
     */
    SourceException failure(String what, int exitCode) {
        String err = stderr();
        return new SourceException(redact(what) + ": " + description + " exited with code " + exitCode
                + (err.isEmpty() ? " and printed nothing on standard error" : ": " + err), false);
    }

    /** Kills the tool and any children it started (parallel workers), and waits for it. */
    void destroy() {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try {
            process.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    boolean isAlive() {
        return process.isAlive();
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            destroy();
        }
        try {
            process.getOutputStream().close();
        } catch (IOException ignored) {
            // nothing more to tell the tool
        }
        try {
            process.getInputStream().close();
        } catch (IOException ignored) {
            // the tool is gone
        }
    }

    /** Copies everything from {@code in} to {@code out} through one 256 KiB buffer; returns the byte count. */
    static long copy(InputStream in, OutputStream out) throws IOException {
        byte[] buffer = new byte[COPY_BUFFER];
        long total = 0;
        int n;
        while ((n = in.read(buffer)) >= 0) {
            if (n > 0) {
                out.write(buffer, 0, n);
                total += n;
            }
        }
        return total;
    }

    /** Reads standard error line by line, keeping its last {@value #STDERR_TAIL} characters. */
    private static final class StderrReader implements Runnable {
        private final InputStream in;
        private final Consumer<String> lineListener;
        private final String password;
        private final StringBuilder tail = new StringBuilder();

        StderrReader(InputStream in, Consumer<String> lineListener, String password) {
            this.in = Objects.requireNonNull(in);
            this.lineListener = lineListener;
            this.password = password;
        }

        @Override
        public void run() {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            byte[] buffer = new byte[8192];
            try (in) {
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    for (int i = 0; i < n; i++) {
                        byte b = buffer[i];
                        if (b == '\n') {
                            emit(line);
                        } else if (line.size() < STDERR_TAIL) {
                            line.write(b);
                        }
                    }
                }
                if (line.size() > 0) {
                    emit(line);
                }
            } catch (IOException | RuntimeException e) {
                append("[reading standard error failed: " + e.getMessage() + "]\n");
            }
        }

        private void emit(ByteArrayOutputStream line) {
            String text = redact(line.toString(StandardCharsets.UTF_8), password);
            line.reset();
            append(text + "\n");
            if (lineListener != null) {
                lineListener.accept(text);
            }
        }

        private synchronized void append(String text) {
            tail.append(text);
            if (tail.length() > STDERR_TAIL) {
                int cut = tail.length() - STDERR_TAIL;
                int nl = tail.indexOf("\n", cut);
                tail.delete(0, nl >= 0 && nl < tail.length() - 1 ? nl + 1 : cut);
            }
        }

        synchronized String tail() {
            return tail.toString();
        }
    }
}
