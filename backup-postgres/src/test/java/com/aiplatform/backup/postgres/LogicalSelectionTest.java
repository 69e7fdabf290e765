package com.aiplatform.backup.postgres;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** psql pattern translation, as pg_dump applies it to -n/-t/-N/-T. */
class LogicalSelectionTest {
    @Test
    void unquotedNamesAreFoldedToLowerCase() {
        assertThat(LogicalSelection.parse("Sales", 2)).isEqualTo(new LogicalSelection.Pattern(null, "^(sales)$"));
    }

    @Test
    void quotedNamesKeepCaseAndRegexCharactersLiteral() {
        assertThat(LogicalSelection.parse("\"Audit Log\".\"Event*\"", 2))
                .isEqualTo(new LogicalSelection.Pattern("^(Audit Log)$", "^(Event\\*)$"));
        assertThat(LogicalSelection.parse("\"a.b\"", 2).nameRegex()).isEqualTo("^(a\\.b)$");
        assertThat(LogicalSelection.parse("\"say \"\"hi\"\"\"", 2).nameRegex()).isEqualTo("^(say \"hi\")$");
    }

    @Test
    void wildcardsBecomeRegularExpressions() {
        assertThat(LogicalSelection.parse("s*.t?", 2)).isEqualTo(new LogicalSelection.Pattern("^(s.*)$", "^(t.)$"));
        assertThat(LogicalSelection.parse("a$b", 2).nameRegex()).isEqualTo("^(a\\$b)$");
        assertThat(LogicalSelection.parse("(foo|bar)", 2).nameRegex()).isEqualTo("^((foo|bar))$");
    }

    @Test
    void aDatabasePartIsAcceptedAndTooManyPartsAreRefused() {
        assertThat(LogicalSelection.parse("mydb.sales.orders", 2))
                .isEqualTo(new LogicalSelection.Pattern("^(sales)$", "^(orders)$"));
        assertThat(LogicalSelection.parse("mydb.sales", 1)).isEqualTo(new LogicalSelection.Pattern(null, "^(sales)$"));
        assertThatThrownBy(() -> LogicalSelection.parse("a.b.c.d", 2))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("a.b.c.d");
    }

    @Test
    void describeListsTheOptions() {
        PostgresConfig whole = PostgresConfig.builder("x").build();
        PostgresConfig some = PostgresConfig.builder("x").schemas(List.of("sales")).excludeTables(List.of("sales.log*"))
                .build();
        assertThat(LogicalSelection.describe(whole)).isEqualTo("whole database");
        assertThat(LogicalSelection.describe(some)).isEqualTo("-n sales -T sales.log*");
    }

    @Test
    void dumpArtifactNamesAreValidStorageKeys() {
        assertThat(LogicalBackup.dumpArtifactName("ai_platform")).isEqualTo("ai_platform.dump");
        assertThat(LogicalBackup.dumpArtifactName("a/b\\c")).isEqualTo("a_b_c.dump");
    }
}
