package com.aiplatform.backup.api;

import java.util.Objects;
import java.util.function.Supplier;

/**
 * A password or token that must never be printed: {@link #toString()} shows only where it
 * comes from, and the value is fetched only when {@link #reveal()} is called. Configuration
 * records hold secrets as this type so that logging a config can never leak one.
 */
public final class Secret {
    private final String origin;
    private final Supplier<String> value;

    private Secret(String origin, Supplier<String> value) {
        this.origin = origin;
        this.value = value;
    }

    /** A secret read from an environment variable each time it is revealed. */
    public static Secret fromEnvironment(String variable) {
        Objects.requireNonNull(variable, "variable");
        return new Secret("environment variable " + variable, () -> System.getenv(variable));
    }

    /** A secret given directly by an embedding application. */
    public static Secret of(String value) {
        Objects.requireNonNull(value, "value");
        return new Secret("a value given by the caller", () -> value);
    }

    /** The value, or null when its environment variable is not set. */
    public String reveal() {
        return value.get();
    }

    /** Where the value comes from (never the value). */
    public String origin() {
        return origin;
    }

    @Override
    public String toString() {
        return "Secret(" + origin + ")";
    }
}
