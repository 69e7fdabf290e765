package com.aiplatform.backup.testkit;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The parts of {@link EmbeddedPostgresExtension} that need no server; {@code EmbeddedPostgresExtensionIT} starts one. */
class EmbeddedPostgresExtensionTest {

    @Test
    void usesTheServerNamedByTheEnvironmentVariable() throws Exception {
        Map<String, String> env = Map.of(EmbeddedPostgresExtension.URL_VARIABLE,
                " jdbc:postgresql://db.example.invalid:6543/app?user=bob&password=s3cret&sslmode=disable ");
        EmbeddedPostgresExtension pg = EmbeddedPostgresExtension.builder().environment(env::get).build();

        assertThatThrownBy(pg::port).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("@RegisterExtension");
        pg.beforeAll(null);
        try {
            assertThat(pg.server().isEmbedded()).isFalse();
            assertThat(pg.host()).isEqualTo("db.example.invalid");
            assertThat(pg.port()).isEqualTo(6543);
            assertThat(pg.user()).isEqualTo("bob");
            assertThat(pg.server().password()).contains("s3cret");
            assertThat(pg.jdbcUrl("restored db")).isEqualTo(
                    "jdbc:postgresql://db.example.invalid:6543/restored%20db?user=bob&password=s3cret&sslmode=disable");
            assertThat(pg.server().toString()).doesNotContain("s3cret");
        } finally {
            pg.afterAll(null);
        }
        assertThatThrownBy(pg::host).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void defaultsToPort5432AndUserPostgres() {
        PostgresJdbcUrl url = PostgresJdbcUrl.parse("X", "jdbc:postgresql://pg.internal/app");
        assertThat(url.host()).isEqualTo("pg.internal");
        assertThat(url.port()).isEqualTo(5432);
        assertThat(url.user()).isEqualTo("postgres");
        assertThat(url.password()).isEmpty();
        assertThat(url.withDatabase("other")).isEqualTo("jdbc:postgresql://pg.internal:5432/other?user=postgres");
    }

    @Test
    void rejectsAnUrlThatIsNotPostgresWithoutEchoingIt() {
        assertThatThrownBy(() -> PostgresJdbcUrl.parse(EmbeddedPostgresExtension.URL_VARIABLE,
                "jdbc:mysql://h/db?password=hunter2"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(EmbeddedPostgresExtension.URL_VARIABLE)
                .hasMessageNotContaining("hunter2");
    }

    @Test
    void comparesServerSettingsAsPostgresReportsThem() {
        assertThat(EmbeddedPostgresExtension.sameSetting("replica", "replica")).isTrue();
        assertThat(EmbeddedPostgresExtension.sameSetting("'logical'", "logical")).isTrue();
        assertThat(EmbeddedPostgresExtension.sameSetting("true", "on")).isTrue();
        assertThat(EmbeddedPostgresExtension.sameSetting("off", "false")).isTrue();
        assertThat(EmbeddedPostgresExtension.sameSetting("logical", "replica")).isFalse();
        assertThat(EmbeddedPostgresExtension.sameSetting("on", "off")).isFalse();
    }

    @Test
    void nestedClassesShareOneServerUntilTheOutermostFinishes() throws Exception {
        Map<String, String> env = Map.of(EmbeddedPostgresExtension.URL_VARIABLE, "jdbc:postgresql://h:1/d");
        EmbeddedPostgresExtension pg = EmbeddedPostgresExtension.builder().environment(env::get).build();
        pg.beforeAll(null);
        EmbeddedPostgresServer outer = pg.server();
        pg.beforeAll(null);
        assertThat(pg.server()).isSameAs(outer);
        pg.afterAll(null);
        assertThat(pg.server()).isSameAs(outer);
        pg.afterAll(null);
        assertThatThrownBy(pg::server).isInstanceOf(IllegalStateException.class);
    }
}
