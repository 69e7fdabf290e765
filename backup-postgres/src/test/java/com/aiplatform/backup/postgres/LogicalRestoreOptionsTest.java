package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.Secret;
import com.aiplatform.backup.spi.RestoreOptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Parsing of the logical restore options; errors name the option and the allowed values. */
class LogicalRestoreOptionsTest {
    private static final PostgresConfig SOURCE = PostgresConfig.builder("main-pg").host("db.internal").port(5433)
            .database("ai_platform").user("backup").password(Secret.of("pw-1")).toolsDir(Path.of("/opt/pg/bin"))
            .mode(PostgresConfig.Mode.LOGICAL).build();

    @Test
    void defaultsRestoreIntoTheSourceDatabaseInOneTransaction() {
        LogicalRestore.Options o = LogicalRestore.parse(SOURCE, options(Map.of()));

        assertThat(o.target().host()).isEqualTo("db.internal");
        assertThat(o.target().port()).isEqualTo(5433);
        assertThat(o.database()).isEqualTo("ai_platform");
        assertThat(o.jobs()).isEqualTo(1);
        assertThat(o.singleTransaction()).isTrue();
        assertThat(o.clean()).isFalse();
        assertThat(o.createDatabase()).isFalse();
        assertThat(o.globals()).isFalse();
    }

    @Test
    void aTargetUrlKeepsTheSourcesCredentialsAndTools() {
        LogicalRestore.Options o = LogicalRestore.parse(SOURCE, options(Map.of(
                "target-url", "postgresql://restore-host:6000/ai_platform_restored", "jobs", "4", "clean", "true",
                "create-database", "TRUE", "globals", "false")));

        assertThat(o.target().host()).isEqualTo("restore-host");
        assertThat(o.target().port()).isEqualTo(6000);
        assertThat(o.database()).isEqualTo("ai_platform_restored");
        assertThat(o.target().user()).isEqualTo("backup");
        assertThat(o.target().password().map(Secret::reveal)).contains("pw-1");
        assertThat(o.target().toolsDir()).contains(Path.of("/opt/pg/bin"));
        assertThat(o.jobs()).isEqualTo(4);
        assertThat(o.singleTransaction()).as("a parallel restore cannot be one transaction").isFalse();
        assertThat(o.clean()).isTrue();
        assertThat(o.createDatabase()).isTrue();
    }

    @Test
    void badOptionsNameTheOptionAndTheAllowedValues() {
        assertThatThrownBy(() -> LogicalRestore.parse(SOURCE, options(Map.of("to-time", "2026-01-01T00:00:00Z"))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[to-time]")
                .hasMessageContaining("clean, create-database, globals, jobs, single-transaction, staging-dir, "
                        + "target-url");
        assertThatThrownBy(() -> LogicalRestore.parse(SOURCE, options(Map.of("jobs", "many"))))
                .hasMessageContaining("jobs must be a whole number from 1 to 64, not 'many'");
        assertThatThrownBy(() -> LogicalRestore.parse(SOURCE, options(Map.of("jobs", "0"))))
                .hasMessageContaining("jobs must be");
        assertThatThrownBy(() -> LogicalRestore.parse(SOURCE, options(Map.of("clean", "yes"))))
                .hasMessageContaining("clean must be true or false, not 'yes'");
        assertThatThrownBy(() -> LogicalRestore.parse(SOURCE, options(Map.of("jobs", "2", "single-transaction", "true"))))
                .hasMessageContaining("cannot be combined");
        assertThatThrownBy(() -> LogicalRestore.parse(SOURCE, options(Map.of("target-url", "mysql://x/y"))))
                .hasMessageContaining("target-url")
                .hasMessageContaining("postgresql://");
        assertThatThrownBy(() -> LogicalRestore.parse(SOURCE, options(Map.of("target-url",
                "postgresql://user:pw@host/db"))))
                .hasMessageContaining("must not hold credentials")
                .hasMessageNotContaining("pw@");
    }

    @Test
    void psqlErrorLinesAreSorted() {
        LogicalRestore.GlobalsErrors errors = new LogicalRestore.GlobalsErrors();
        errors.accept("psql:<stdin>:14: ERROR:  42710: role \"postgres\" already exists");
        errors.accept("LOCATION:  CreateRole, user.c:327");
        errors.accept("psql:<stdin>:15: NOTICE:  00000: something harmless");
        errors.accept("psql:<stdin>:16: FEHLER:  42710: Rolle »x« existiert bereits");
        errors.accept("psql:<stdin>:17: ERROR:  42501: permission denied to create role");
        errors.accept("psql:<stdin>:1: invalid command \\restrict");

        assertThat(errors.tolerated()).isEqualTo(2);
        assertThat(errors.unexpectedCount()).isEqualTo(2);
        assertThat(errors.unexpected()).containsExactly(
                "psql:<stdin>:17: ERROR:  42501: permission denied to create role",
                "psql:<stdin>:1: invalid command \\restrict");
    }

    private static RestoreOptions options(Map<String, String> options) {
        return new RestoreOptions(Optional.empty(), false, options);
    }
}
