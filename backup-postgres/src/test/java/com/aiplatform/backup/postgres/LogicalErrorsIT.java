package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.BackupException;
import com.aiplatform.backup.api.SourceException;
import com.aiplatform.backup.api.Secret;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import com.aiplatform.backup.testkit.EmbeddedPostgresExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static com.aiplatform.backup.postgres.LogicalTestSupport.config;
import static com.aiplatform.backup.postgres.LogicalTestSupport.databaseExists;
import static com.aiplatform.backup.postgres.LogicalTestSupport.execute;
import static com.aiplatform.backup.postgres.LogicalTestSupport.query;
import static com.aiplatform.backup.postgres.LogicalTestSupport.thrown;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Failures of the logical path: tool errors surface with the tool's standard error and never the
 * password; missing tools are named; a failed restore says what state it left; a failing sink
 * leaves no pg_dump behind.
 */
class LogicalErrorsIT {
    private static final String WRONG_PASSWORD = "wrong-secret-123";
    private static final String RIGHT_PASSWORD = "right-secret-456";
    private static final String PW_USER = "backup_pw_user";
    private static final Path HBA = writeHba();

    /** Trust for everyone except {@value #PW_USER}, who must give a SCRAM password. */
    @RegisterExtension
    static final EmbeddedPostgresExtension PG = EmbeddedPostgresExtension.builder()
            .alwaysEmbedded()
            .serverConfig("hba_file", HBA.toString())
            .build();

    static final String DB = "errors_db";

    @TempDir
    static Path storage;
    static BackupEngine engine;
    static PostgresConfig owned;

    @BeforeAll
    static void setUp() throws Exception {
        LogicalTestSupport.assumeTools();
        execute(PG, "postgres",
                "CREATE ROLE " + PW_USER + " LOGIN PASSWORD '" + RIGHT_PASSWORD + "'",
                "CREATE DATABASE " + DB);
        execute(PG, DB,
                "CREATE SCHEMA shop",
                "CREATE TABLE shop.item (id int PRIMARY KEY, name text NOT NULL)",
                "CREATE TABLE shop.orders (id int PRIMARY KEY, item_id int REFERENCES shop.item (id))",
                "INSERT INTO shop.item SELECT g, 'item ' || g FROM generate_series(1, 100) g",
                "INSERT INTO shop.orders SELECT g, 1 + g % 100 FROM generate_series(1, 300) g",
                "GRANT USAGE ON SCHEMA shop TO " + PW_USER,
                "GRANT SELECT ON ALL TABLES IN SCHEMA shop TO " + PW_USER);
        engine = BackupEngine.builder().storage(new FileSystemStorageTarget("local", storage)).build();

        // a backup whose table belongs to a role that no longer exists: its restore fails after CREATE TABLE
        execute(PG, "postgres", "CREATE ROLE backup_gone_role NOLOGIN", "CREATE DATABASE errors_owned");
        execute(PG, "errors_owned", "CREATE TABLE owned (id int PRIMARY KEY)", "INSERT INTO owned VALUES (1)",
                "ALTER TABLE owned OWNER TO backup_gone_role");
        owned = config(PG, "owned", "errors_owned").build();
        engine.backup(owned);
        execute(PG, "errors_owned", "DROP TABLE owned");
        execute(PG, "postgres", "DROP ROLE backup_gone_role");
    }

    @AfterAll
    static void tearDown() throws IOException {
        if (engine != null) {
            engine.close();
        }
        Files.deleteIfExists(HBA);
    }

    @Test
    void aWrongPasswordIsReportedByPgDumpWithItsErrorAndWithoutThePassword() throws Exception {
        PostgresConfig config = config(PG, "pw", DB).user(PW_USER).password(Secret.of(WRONG_PASSWORD)).build();
        PgTools.Tool pgDump = PgTools.require(config, PgTools.PG_DUMP, 15);
        List<String> args = new ArrayList<>(LogicalBackup.connectionArgs(config));
        args.add("--format=custom");
        args.add("--dbname=" + LogicalJdbc.conninfoDbname(DB));
        LogicalTestSupport.MemorySink sink = new LogicalTestSupport.MemorySink();

        SourceException e = thrown(SourceException.class, () -> LogicalBackup.streamToArtifact(pgDump, args, config,
                "x.dump", sink, "pg_dump of database '" + DB + "'"));

        assertThat(e.getMessage())
                .contains("pg_dump of database '" + DB + "' failed", "pg_dump exited with code 1",
                        "password authentication failed for user \"" + PW_USER + "\"")
                .doesNotContain(WRONG_PASSWORD);
        assertThat(sink.closed).as("a failed dump is never committed").isEmpty();
    }

    @Test
    void theRightPasswordThroughTheEnvironmentWorks() throws Exception {
        PostgresConfig config = config(PG, "pw", DB).user(PW_USER).password(Secret.of(RIGHT_PASSWORD))
                .schemas(List.of("shop")).build();
        LogicalTestSupport.MemorySink sink = new LogicalTestSupport.MemorySink();

        var result = LogicalBackup.run(config, sink);

        assertThat(result.contentSummary()).containsEntry("shop.item", 100L).containsEntry("shop.orders", 300L);
        assertThat(result.metadata()).containsEntry("globals-role-passwords", "false");
        assertThat(sink.text("globals.sql")).contains("CREATE ROLE " + PW_USER).doesNotContain("SCRAM-SHA-256$");
    }

    @Test
    void aWrongPasswordFailsBeforeAnyToolRunsAndIsNeverEchoed() throws Exception {
        PostgresConfig config = config(PG, "pw", DB).user(PW_USER).password(Secret.of(WRONG_PASSWORD)).build();
        LogicalTestSupport.MemorySink sink = new LogicalTestSupport.MemorySink();

        SourceException direct = thrown(SourceException.class, () -> LogicalBackup.run(config, sink));
        assertThat(direct.getMessage()).contains("password authentication failed for user \"" + PW_USER + "\"")
                .doesNotContain(WRONG_PASSWORD);
        assertThat(sink.artifacts).isEmpty();

        BackupException viaEngine = thrown(BackupException.class, () -> engine.backup(config));
        assertThat(String.valueOf(viaEngine.getMessage())).doesNotContain(WRONG_PASSWORD);
        assertThat(engine.list("pw")).isEmpty();
    }

    @Test
    void aPgDumpErrorSurfacesThroughTheEngineWithStandardErrorAndThePasswordRemoved() throws Exception {
        String password = "s3cret-pw-789"; // trust authentication ignores it; the pattern below echoes it
        PostgresConfig config = config(PG, "bad-pattern", DB).password(Secret.of(password))
                .tables(List.of("missing_" + password)).build();

        SourceException e = thrown(SourceException.class, () -> engine.backup(config));

        assertThat(e.getMessage())
                .contains("pg_dump of database '" + DB + "'", "no matching tables were found",
                        "missing_" + LogicalProcess.REDACTED)
                .doesNotContain(password);
        assertThat(engine.list("bad-pattern")).as("no manifest for a failed backup").isEmpty();
    }

    @Test
    void aMissingDatabaseIsAClearError() {
        PostgresConfig config = config(PG, "nodb", "no_such_db").build();

        assertThatThrownBy(() -> LogicalBackup.run(config, new LogicalTestSupport.MemorySink()))
                .isInstanceOf(SourceException.class)
                .hasMessageContaining("localhost:" + PG.port() + "/no_such_db")
                .hasMessageContaining("database \"no_such_db\" does not exist");
    }

    @Test
    void anUnreachableServerIsARetriableError() {
        PostgresConfig config = PostgresConfig.builder("gone").host("127.0.0.1").port(1).database(DB)
                .mode(PostgresConfig.Mode.LOGICAL).build();

        SourceException e = thrown(SourceException.class,
                () -> LogicalBackup.run(config, new LogicalTestSupport.MemorySink()));

        assertThat(e.getMessage()).contains("cannot connect to PostgreSQL at 127.0.0.1:1/" + DB);
        assertThat(e.isRetriable()).isTrue();
    }

    @Test
    void aMissingToolsDirIsAClearErrorForBackupAndRestore(@TempDir Path tmp) throws Exception {
        Path missing = tmp.resolve("no-such-tools");
        PostgresConfig config = config(PG, "notools", DB).toolsDir(missing).build();

        assertThat(PgTools.problems(config, 15)).extracting(p -> p.code() + " " + p.message().split(" ")[0])
                .containsExactly("tool-missing pg_dump", "tool-missing pg_dumpall");
        BackupException viaEngine = thrown(BackupException.class, () -> engine.backup(config));
        assertThat(viaEngine.getMessage()).contains("tool-missing", "pg_dump", missing.toString(), "does not exist");
        SourceException direct = thrown(SourceException.class,
                () -> LogicalBackup.run(config, new LogicalTestSupport.MemorySink()));
        assertThat(direct.getMessage()).contains("tool-missing", "pg_dump", missing.toString());

        engine.backup(config(PG, "notools", DB).build());
        SourceException restore = thrown(SourceException.class, () -> engine.restore(config, "latest",
                options(Map.of("target-url", url("never_created"), "create-database", "true"))));
        assertThat(restore.getMessage()).contains("tool-missing", "pg_restore", missing.toString());
        assertThat(databaseExists(PG, "never_created")).isFalse();
    }

    @Test
    void aFailedRestoreIntoAnExistingDatabaseAppliesNothing() throws Exception {
        String target = "errors_existing";
        execute(PG, "postgres", "CREATE DATABASE " + target);
        execute(PG, target, "CREATE TABLE public.keep (x int)", "INSERT INTO public.keep VALUES (1), (2)");
        String before = LogicalTestSupport.schemaDump(PG, target);

        // CREATE TABLE owned succeeds, then ALTER TABLE owned OWNER TO backup_gone_role fails
        SourceException e = thrown(SourceException.class, () -> engine.restore(owned, "latest",
                options(Map.of("target-url", url(target)))));

        assertThat(e.getMessage()).contains("into database '" + target + "'",
                "role \"backup_gone_role\" does not exist", "nothing was applied to database '" + target + "'");
        assertThat(LogicalTestSupport.schemaDump(PG, target)).as("the table created before the error was rolled back")
                .isEqualTo(before);
        assertThat(query(PG, target, "SELECT count(*) FROM public.keep").get(0).get(0)).isEqualTo("2");
    }

    @Test
    void aFailedParallelRestoreSaysTheDatabaseMayBePartiallyRestored() throws Exception {
        String target = "errors_existing_parallel";
        execute(PG, "postgres", "CREATE DATABASE " + target);

        SourceException e = thrown(SourceException.class, () -> engine.restore(owned, "latest",
                options(Map.of("target-url", url(target), "jobs", "2"))));

        assertThat(e.getMessage()).contains("into database '" + target + "'",
                "role \"backup_gone_role\" does not exist", "may be PARTIALLY RESTORED", "create-database=true");
    }

    @Test
    void aRestoreIntoAMissingDatabaseWithoutCreateDatabaseIsRefusedBeforeAnything() throws Exception {
        engine.backup(config(PG, "nocreate", DB).build());

        assertThatThrownBy(() -> engine.restore(config(PG, "nocreate", DB).build(), "latest",
                options(Map.of("target-url", url("errors_absent")))))
                .isInstanceOf(SourceException.class)
                .hasMessageContaining("target database 'errors_absent' does not exist")
                .hasMessageContaining("create-database=true");
        assertThat(databaseExists(PG, "errors_absent")).isFalse();
    }

    @Test
    void aFailedRestoreIntoANewDatabaseDropsTheDatabaseItCreated() throws Exception {
        SourceException e = thrown(SourceException.class, () -> engine.restore(owned, "latest", options(Map.of(
                "target-url", url("errors_owned_copy"), "create-database", "true"))));

        assertThat(e.getMessage()).contains("pg_restore", "into database 'errors_owned_copy'",
                "role \"backup_gone_role\" does not exist", "created for this restore was dropped again");
        assertThat(databaseExists(PG, "errors_owned_copy")).isFalse();
    }

    @Test
    void aSinkFailingMidStreamKillsPgDump() throws Exception {
        String big = "errors_big";
        execute(PG, "postgres", "CREATE DATABASE " + big);
        execute(PG, big, "CREATE TABLE filler AS SELECT g AS id, repeat(md5(g::text), 4) AS pad "
                + "FROM generate_series(1, 200000) g");
        ArtifactSink failing = name -> new OutputStream() {
            private long written;

            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                written += len;
                if (name.endsWith(".dump") && written > 1_000_000) {
                    throw new IOException("storage full (test)");
                }
            }
        };

        assertThatThrownBy(() -> LogicalBackup.run(config(PG, "big", big).build(), failing))
                .isInstanceOf(IOException.class)
                .hasMessage("storage full (test)");

        assertThat(ProcessHandle.current().descendants()
                .filter(ProcessHandle::isAlive)
                .map(h -> h.info().command().orElse(""))
                .filter(c -> c.endsWith("pg_dump") || c.endsWith("pg_dumpall")))
                .as("no pg_dump left running").isEmpty();
        assertThat(query(PG, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                + "AND state = 'idle in transaction' AND datname = '" + big + "'").get(0).get(0))
                .as("the snapshot transaction was closed").isEqualTo("0");
    }

    private static RestoreOptions options(Map<String, String> options) {
        return new RestoreOptions(Optional.empty(), false, options);
    }

    private static String url(String database) {
        return "postgresql://" + PG.host() + ":" + PG.port() + "/" + database;
    }

    private static Path writeHba() {
        try {
            Path file = Files.createTempFile("logical-errors-hba-", ".conf");
            Files.writeString(file, String.join("\n",
                    "local all all trust",
                    "host all " + PW_USER + " 127.0.0.1/32 scram-sha-256",
                    "host all " + PW_USER + " ::1/128 scram-sha-256",
                    "host all all 127.0.0.1/32 trust",
                    "host all all ::1/128 trust",
                    ""));
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
