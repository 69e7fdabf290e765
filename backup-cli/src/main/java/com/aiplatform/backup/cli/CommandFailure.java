package com.aiplatform.backup.cli;

/**
 * A command finished its work but the result is a failure (a verify that found damage, a
 * demo whose restore differs): reported as one line on stderr with the given exit code.
 */
final class CommandFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int exitCode;

    CommandFailure(int exitCode, String message) {
        super(message, null, false, false);
        this.exitCode = exitCode;
    }

    int exitCode() {
        return exitCode;
    }
}
