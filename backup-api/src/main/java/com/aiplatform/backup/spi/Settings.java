package com.aiplatform.backup.spi;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Read-only key/value settings of one configured source or storage target, as parsed from
 * the configuration file, with typed getters whose errors name the field in full
 * ({@code sources[kafka-config].path}). Providers turn these into their own config record.
 */
public final class Settings {
    private final String where;
    private final Map<String, Object> values;

    /**
     * @param where  the location of this block in the configuration, used in error messages
     * @param values the raw values (strings, numbers, booleans, lists, maps)
     */
    public Settings(String where, Map<String, ?> values) {
        this.where = where;
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    /** Where this block sits in the configuration ({@code sources[main-pg]}). */
    public String where() {
        return where;
    }

    /** The field's full name for error messages. */
    public String field(String key) {
        return where + "." + key;
    }

    /** All keys present. */
    public Set<String> keys() {
        return values.keySet();
    }

    /** The raw value, if present. */
    public Optional<Object> raw(String key) {
        return Optional.ofNullable(values.get(key));
    }

    /** A required text value. */
    public String requireString(String key) {
        return string(key).orElseThrow(() ->
                new IllegalArgumentException("missing required field " + field(key)));
    }

    /** An optional text value. Numbers and booleans are given as their text. */
    public Optional<String> string(String key) {
        Object v = values.get(key);
        if (v == null) {
            return Optional.empty();
        }
        if (v instanceof Map || v instanceof List) {
            throw new IllegalArgumentException(field(key) + " must be a single value, not " + describe(v));
        }
        String s = v.toString().trim();
        if (s.isEmpty()) {
            throw new IllegalArgumentException(field(key) + " must not be empty");
        }
        return Optional.of(s);
    }

    /** A required filesystem path. */
    public Path requirePath(String key) {
        return Path.of(requireString(key));
    }

    /** A boolean ({@code true}/{@code false}) with a default. */
    public boolean bool(String key, boolean fallback) {
        return string(key).map(s -> {
            if (s.equalsIgnoreCase("true")) {
                return true;
            }
            if (s.equalsIgnoreCase("false")) {
                return false;
            }
            throw new IllegalArgumentException(field(key) + " must be true or false, not '" + s + "'");
        }).orElse(fallback);
    }

    /** An integer with a default. */
    public long number(String key, long fallback) {
        return string(key).map(s -> {
            try {
                return Long.parseLong(s);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(field(key) + " must be a whole number, not '" + s + "'");
            }
        }).orElse(fallback);
    }

    /** A duration such as {@code 60s}, {@code 15m}, {@code 2h}, {@code 1d} or ISO-8601 {@code PT1M}. */
    public Duration duration(String key, Duration fallback) {
        return string(key).map(s -> parseDuration(field(key), s)).orElse(fallback);
    }

    /** A list of text values (a single value is a list of one). */
    public List<String> strings(String key) {
        Object v = values.get(key);
        if (v == null) {
            return List.of();
        }
        if (v instanceof List<?> list) {
            return list.stream().map(String::valueOf).toList();
        }
        return List.of(v.toString());
    }

    /**
     * Fails if a key other than the given ones is present, naming it and the allowed keys,
     * so a typo in the configuration is caught at load time instead of silently ignored.
     */
    public void rejectUnknown(Set<String> allowed) {
        for (String key : values.keySet()) {
            if (!allowed.contains(key)) {
                throw new IllegalArgumentException("unknown field " + field(key)
                        + "; allowed: " + String.join(", ", new TreeSet<>(allowed)));
            }
        }
    }

    /** Parses {@code 60s}, {@code 15m}, {@code 2h}, {@code 1d}, {@code 500ms} or ISO-8601. */
    public static Duration parseDuration(String field, String text) {
        String s = text.trim().toLowerCase(java.util.Locale.ROOT);
        try {
            if (s.startsWith("p")) {
                return Duration.parse(s.toUpperCase(java.util.Locale.ROOT));
            }
            if (s.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2)));
            }
            long n = Long.parseLong(s.substring(0, s.length() - 1));
            switch (s.charAt(s.length() - 1)) {
                case 's': return Duration.ofSeconds(n);
                case 'm': return Duration.ofMinutes(n);
                case 'h': return Duration.ofHours(n);
                case 'd': return Duration.ofDays(n);
                default: break;
            }
        } catch (RuntimeException e) {
            // fall through to the error below
        }
        throw new IllegalArgumentException(field + " must be a duration such as 60s, 15m, 2h, 1d, not '" + text + "'");
    }

    private static String describe(Object v) {
        return v instanceof Map ? "a map" : "a list";
    }

    @Override
    public String toString() {
        return where + values.keySet();
    }
}
