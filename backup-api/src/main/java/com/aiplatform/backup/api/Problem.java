package com.aiplatform.backup.api;

import java.util.Objects;

/**
 * One finding of a pre-flight check: what is wrong and, where known, how to fix it.
 *
 * @param code    short stable identifier ({@code unreachable}, {@code not-writable}, ...)
 * @param message human-readable description naming the thing concerned (never a secret)
 */
public record Problem(String code, String message) {
    public Problem {
        Objects.requireNonNull(code, "code");
        Objects.requireNonNull(message, "message");
    }

    @Override
    public String toString() {
        return code + ": " + message;
    }
}
