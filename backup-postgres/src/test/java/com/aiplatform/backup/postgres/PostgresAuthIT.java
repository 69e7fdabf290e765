package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.BackupId;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.api.Secret;
import com.aiplatform.backup.api.SourceException;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.postgres.PhysicalTestSupport.Server;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.BackupContext;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import com.aiplatform.backup.testkit.EmbeddedPostgresExtension;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The physical path authenticates with SCRAM-SHA-256, md5 and cleartext passwords against a
 * server whose pg_hba.conf demands them, for replication and normal connections alike; a wrong
 * or missing password fails with a clear message that never contains the password, neither in
 * exceptions, nor in problems, nor in the log output.
 */
class PostgresAuthIT {
    private static final String SCRAM_PASSWORD = "Scram-Pa55word-0451!";
    private static final String MD5_PASSWORD = "Md5-Pa55word-0452!";
    private static final String CLEAR_PASSWORD = "Clear-Pa55word-0453!";
    private static final String WRONG_PASSWORD = "Wr0ng-Pa55word-9999!";

    @RegisterExtension
    static final EmbeddedPostgresExtension PG = EmbeddedPostgresExtension.builder().alwaysEmbedded().build();

    @TempDir
    Path tmp;

    @BeforeAll
    static void rolesAndPgHba() throws Exception {
        Server s = server();
        s.execute("postgres",
                "SET password_encryption = 'scram-sha-256'",
                "CREATE ROLE scram_user LOGIN REPLICATION PASSWORD '" + SCRAM_PASSWORD + "'",
                "CREATE ROLE clear_user LOGIN REPLICATION PASSWORD '" + CLEAR_PASSWORD + "'",
                "SET password_encryption = 'md5'",
                "CREATE ROLE md5_user LOGIN REPLICATION PASSWORD '" + MD5_PASSWORD + "'",
                "GRANT pg_read_all_data TO scram_user, md5_user, clear_user");
        assertThat(s.queryString("postgres", "SELECT rolpassword FROM pg_authid WHERE rolname = 'md5_user'"))
                .startsWith("md5");
        assertThat(s.queryString("postgres", "SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_user'"))
                .startsWith("SCRAM-SHA-256$");
        Path hba = Path.of(s.queryString("postgres", "SHOW hba_file"));
        StringBuilder rules = new StringBuilder("# written by PostgresAuthIT: first match wins\n");
        for (String[] r : new String[][] {{"scram_user", "scram-sha-256"}, {"md5_user", "md5"},
                {"clear_user", "password"}}) {
            for (String db : List.of("replication", "all")) {
                rules.append("host ").append(db).append(' ').append(r[0]).append(" 127.0.0.1/32 ").append(r[1])
                        .append('\n');
            }
        }
        Files.writeString(hba, rules + Files.readString(hba));
        s.execute("postgres", "SELECT pg_reload_conf()");
        // the postmaster reloads asynchronously: wait until a password-less login is refused
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + s.port()
                    + "/postgres?user=scram_user")) {
                c.isValid(1);
            } catch (SQLException e) {
                break;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("pg_hba.conf was not reloaded within 20 s");
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
        }
    }

    private static Server server() {
        return new Server("127.0.0.1", PG.port());
    }

    private static PostgresConfig config(String user, String password) {
        return server().config("auth-pg").user(user).password(Secret.of(password)).build();
    }

    @ParameterizedTest
    @ValueSource(strings = {"scram_user", "md5_user"})
    void baseBackupAuthenticates(String user) throws Exception {
        PostgresConfig config = config(user, user.startsWith("scram") ? SCRAM_PASSWORD : MD5_PASSWORD);
        try (FileSystemStorageTarget storage = new FileSystemStorageTarget("local", tmp.resolve("store"), true);
             BackupEngine engine = BackupEngine.builder().storage(storage).build()) {
            assertThat(engine.check(config)).isEmpty();
            Manifest m = engine.backup(config);
            assertThat(m.artifact("base.tar")).isPresent();
            assertThat(m.artifact("backup_manifest")).isPresent();
            // the content summary connects through pgjdbc with the same credentials
            assertThat(m.metadata()).doesNotContainKey("row-counts-skipped");
            assertThat(m.toString()).doesNotContain(SCRAM_PASSWORD, MD5_PASSWORD);
        }
    }

    @Test
    void cleartextPasswordAuthenticates() throws Exception {
        try (PgReplicationConnection c = PgReplicationConnection.open(config("clear_user", CLEAR_PASSWORD),
                PgReplicationConnection.Mode.PHYSICAL)) {
            assertThat(c.queryOne("IDENTIFY_SYSTEM").single("timeline")).isEqualTo("1");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"scram_user", "md5_user", "clear_user"})
    void wrongPasswordIsAClearErrorWithoutThePassword(String user) throws Exception {
        PostgresConfig config = config(user, WRONG_PASSWORD);
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream originalErr = System.err;
        PrintStream originalOut = System.out;
        System.setErr(new PrintStream(new TeeStream(captured, originalErr), true, StandardCharsets.UTF_8));
        System.setOut(new PrintStream(new TeeStream(captured, originalOut), true, StandardCharsets.UTF_8));
        try {
            ArtifactSink unused = name -> {
                throw new AssertionError("no artifact may be opened, got " + name);
            };
            assertThatThrownBy(() -> new PostgresBackupProvider().openBackup(config,
                    new BackupContext(BackupId.generate(Instant.now()), Optional.empty(), false)).run(unused))
                    .isInstanceOf(SourceException.class)
                    .hasMessageContaining("refused authentication of user \"" + user + "\"")
                    .hasMessageContaining("127.0.0.1:" + PG.port())
                    .hasMessageNotContaining(WRONG_PASSWORD)
                    .satisfies(e -> assertThat(((SourceException) e).isRetriable()).isFalse());

            List<Problem> problems = new PostgresBackupProvider().check(config);
            assertThat(problems).extracting(Problem::code).containsExactly("authentication");
            assertThat(problems.get(0).message()).contains(user).doesNotContain(WRONG_PASSWORD);

            try (FileSystemStorageTarget storage = new FileSystemStorageTarget("local", tmp.resolve("store"), true);
                 BackupEngine engine = BackupEngine.builder().storage(storage).build()) {
                assertThatThrownBy(() -> engine.backup(config))
                        .isInstanceOf(SourceException.class)
                        .hasMessageContaining("authentication")
                        .hasMessageNotContaining(WRONG_PASSWORD);
            }
        } finally {
            System.setErr(originalErr);
            System.setOut(originalOut);
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        // the client's debug log (enabled for these classes in the pom) shows the exchange and the refusal
        assertThat(log).contains("authentication of user \"" + user + "\": server", "startup refused", "authentication failed for user")
                .doesNotContain(WRONG_PASSWORD);
    }

    @Test
    void missingPasswordNamesWhereItShouldComeFrom() {
        String variable = "BACKUP_TEST_UNSET_PASSWORD_VARIABLE";
        assertThat(System.getenv(variable)).isNull();
        PostgresConfig config = server().config("auth-pg").user("scram_user").password(Secret.fromEnvironment(variable))
                .build();
        assertThatThrownBy(() -> PgReplicationConnection.open(config, PgReplicationConnection.Mode.PHYSICAL))
                .isInstanceOf(SourceException.class)
                .hasMessageContaining("scram_user")
                .hasMessageContaining("environment variable " + variable + " is not set");
        PostgresConfig none = server().config("auth-pg").user("md5_user").build();
        assertThatThrownBy(() -> PgReplicationConnection.open(none, PgReplicationConnection.Mode.PHYSICAL))
                .isInstanceOf(SourceException.class)
                .hasMessageContaining("none is configured");
    }

    /** Writes everything to two streams. */
    private static final class TeeStream extends java.io.OutputStream {
        private final java.io.OutputStream a;
        private final java.io.OutputStream b;

        TeeStream(java.io.OutputStream a, java.io.OutputStream b) {
            this.a = a;
            this.b = b;
        }

        @Override
        public synchronized void write(int x) throws java.io.IOException {
            a.write(x);
            b.write(x);
        }

        @Override
        public synchronized void write(byte[] buf, int off, int len) throws java.io.IOException {
            a.write(buf, off, len);
            b.write(buf, off, len);
        }

        @Override
        public void flush() throws java.io.IOException {
            a.flush();
            b.flush();
        }
    }
}
