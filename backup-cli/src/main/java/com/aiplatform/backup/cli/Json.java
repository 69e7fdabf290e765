package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.BackupCondition;
import com.aiplatform.backup.api.BackupId;
import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;

import java.io.PrintWriter;
import java.io.UncheckedIOException;

/**
 * The JSON written by {@code --json}: records as they are, instants and durations in ISO-8601,
 * ids as strings, backup conditions as labels ({@code known-bad}).
 */
final class Json {
    static final ObjectMapper MAPPER = new ObjectMapper()
            .registerModule(new JavaTimeModule())
            .addMixIn(BackupId.class, BackupIdAsString.class)
            .addMixIn(BackupCondition.class, ConditionAsLabel.class)
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .disable(SerializationFeature.WRITE_DURATIONS_AS_TIMESTAMPS)
            .enable(SerializationFeature.INDENT_OUTPUT);

    private Json() {
    }

    /** Writes {@code value} as one JSON document followed by a newline. */
    static void print(PrintWriter out, Object value) {
        try {
            out.println(MAPPER.writeValueAsString(value));
            out.flush();
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Makes a {@link BackupCondition} appear as its label ({@code "known-bad"}). */
    abstract static class ConditionAsLabel {
        @JsonValue
        abstract String label();
    }

    /** Makes a {@link BackupId} appear as its text ({@code "20261124T020000Z-3fa2c1"}). */
    abstract static class BackupIdAsString {
        @JsonValue
        abstract String value();
    }
}
