package com.aiplatform.backup.spi;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The process that owns something left on disk or storage (a lock, a restore staging folder):
 * host name, process id and process start time. On the owner's own host, {@link #isDeadHere()}
 * tells for sure whether that process is gone (no process with the pid, or one that started at
 * another time: the pid was reused), so its leftovers can be removed at once; on another host
 * nothing can be told and callers fall back to an expiry. JDK only, so providers can use it.
 *
 * <p>Limits: the host is the host name, so two machines (or containers) with the same host
 * name and separate process tables would see each other's owners as dead; give them distinct
 * host names.
 *
 * @param host    host name of the owner
 * @param pid     process id of the owner
 * @param started start time of the owner process; null when the platform does not tell it
 */
public record ProcessOwner(String host, long pid, Instant started) {
    /** Start times closer than this are the same process (platforms round them differently). */
    private static final Duration SAME_START = Duration.ofSeconds(1);
    private static final ProcessOwner CURRENT = new ProcessOwner(localHost(), ProcessHandle.current().pid(),
            ProcessHandle.current().info().startInstant().orElse(null));

    public ProcessOwner {
        Objects.requireNonNull(host, "host");
    }

    /** This process. */
    public static ProcessOwner current() {
        return CURRENT;
    }

    /** True when the owner runs on this host (same host name). */
    public boolean isLocal() {
        return host.equals(CURRENT.host);
    }

    /**
     * True only when the owner is on this host and certainly gone: no process has its pid, or
     * the process with its pid started at another time (the pid was reused). False for an
     * owner on another host, and for a live one.
     */
    public boolean isDeadHere() {
        if (!isLocal()) {
            return false;
        }
        if (pid == CURRENT.pid) {
            return !sameStart(CURRENT.started);
        }
        Optional<ProcessHandle> handle = ProcessHandle.of(pid);
        if (handle.isEmpty() || !handle.get().isAlive()) {
            return true;
        }
        return !sameStart(handle.get().info().startInstant().orElse(null));
    }

    private boolean sameStart(Instant other) {
        if (started == null || other == null) {
            return true; // cannot tell a reused pid: assume the same process
        }
        return Duration.between(started, other).abs().compareTo(SAME_START) < 0;
    }

    /** {@code pid 1234 on host db-1 (started 2026-...)}: for messages. */
    public String describe() {
        return "pid " + pid + " on host " + host + (started == null ? "" : " (started " + started + ")");
    }

    /** The owner as {@code key=value} lines ({@code host}, {@code pid}, {@code started}), UTF-8. */
    public byte[] toBytes() {
        StringBuilder text = new StringBuilder();
        fields().forEach((k, v) -> text.append(k).append('=').append(v).append('\n'));
        return text.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** The owner's fields by name; {@code started} is absent when unknown. */
    public Map<String, String> fields() {
        Map<String, String> fields = new LinkedHashMap<>();
        fields.put("host", host);
        fields.put("pid", Long.toString(pid));
        if (started != null) {
            fields.put("started", started.toString());
        }
        return fields;
    }

    /** Reads what {@link #toBytes()} wrote; empty when the text is not an owner. */
    public static Optional<ProcessOwner> parse(byte[] bytes) {
        Map<String, String> fields = new LinkedHashMap<>();
        for (String line : new String(bytes, StandardCharsets.UTF_8).split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                fields.put(line.substring(0, eq).strip(), line.substring(eq + 1).strip());
            }
        }
        return of(fields.get("host"), fields.get("pid"), fields.get("started"));
    }

    /** An owner from its field texts; empty when host or pid is missing or malformed. */
    public static Optional<ProcessOwner> of(String host, String pid, String started) {
        if (host == null || host.isEmpty() || pid == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(new ProcessOwner(host, Long.parseLong(pid),
                    started == null || started.isEmpty() ? null : Instant.parse(started)));
        } catch (NumberFormatException | DateTimeParseException e) {
            return Optional.empty();
        }
    }

    /** Writes {@link #current()} to {@code marker} (a new file). */
    public static void writeMarker(Path marker) throws IOException {
        Files.write(marker, CURRENT.toBytes());
    }

    /** The owner recorded in {@code marker}, or empty when it is missing or unreadable. */
    public static Optional<ProcessOwner> readMarker(Path marker) {
        try {
            return parse(Files.readAllBytes(marker));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static String localHost() {
        try {
            String name = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
            if (!name.isEmpty()) {
                return name;
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: ask the resolver
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "localhost";
        }
    }
}
