package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.Problem;

import java.util.ArrayList;
import java.util.List;

/** Pre-flight check of a PostgreSQL source: every problem at once, before any byte is written. */
final class PostgresPreflight {
    private PostgresPreflight() {
    }

    static List<Problem> check(PostgresConfig config) {
        List<Problem> problems = new ArrayList<>();
        // server checks (reachability, authentication, privileges, wal_level, senders, slots) and,
        // in logical mode, tool checks are added here
        return problems;
    }
}
