package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.BackupId;
import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.api.SourceException;
import com.aiplatform.backup.postgres.PhysicalTestSupport.Server;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.BackupContext;
import com.aiplatform.backup.testkit.EmbeddedPostgresExtension;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The pre-flight check against real servers: a closed port and a server that accepts but never
 * answers are reported as unreachable within the connect timeout (no hang); a user without
 * REPLICATION, a server with {@code wal_level=minimal}, no walsender and no slot are reported,
 * all at once.
 */
class PostgresPreflightIT {
    private static final Duration TIMEOUT = Duration.ofMillis(1500);

    @RegisterExtension
    static final EmbeddedPostgresExtension PG = EmbeddedPostgresExtension.builder().alwaysEmbedded().build();

    @RegisterExtension
    static final EmbeddedPostgresExtension MINIMAL = EmbeddedPostgresExtension.builder().alwaysEmbedded()
            .serverConfig("wal_level", "minimal")
            .serverConfig("max_wal_senders", "0")
            .serverConfig("max_replication_slots", "0")
            .build();

    @BeforeAll
    static void roles() throws Exception {
        new Server("127.0.0.1", PG.port()).execute("postgres", "CREATE ROLE plain_user LOGIN");
        new Server("127.0.0.1", MINIMAL.port()).execute("postgres", "CREATE ROLE plain_user LOGIN");
    }

    private static PostgresConfig.Builder config(int port) {
        return new Server("127.0.0.1", port).config("preflight-pg").connectTimeout(TIMEOUT);
    }

    @Test
    void readyServerHasNoProblems() {
        assertThat(PostgresPreflight.check(config(PG.port()).build())).isEmpty();
    }

    @Test
    void closedPortIsUnreachableAndFailsFast() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            port = s.getLocalPort();
        }
        PostgresConfig config = config(port).build();
        long t0 = System.nanoTime();
        List<Problem> problems = PostgresPreflight.check(config);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(TIMEOUT);
        assertThat(problems).extracting(Problem::code).containsExactly("unreachable");
        assertThat(problems.get(0).message()).contains("127.0.0.1:" + port, "connection refused");

        assertThatThrownBy(() -> backup(config))
                .isInstanceOf(SourceException.class)
                .hasMessageContaining("connection refused")
                .satisfies(e -> assertThat(((SourceException) e).isRetriable()).isTrue());
    }

    @Test
    void serverThatNeverAnswersTimesOutClearly() throws Exception {
        List<Socket> accepted = new CopyOnWriteArrayList<>();
        try (ServerSocket silent = new ServerSocket(0, 10, InetAddress.getByName("127.0.0.1"))) {
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) {
                        accepted.add(silent.accept()); // and never say a word
                    }
                } catch (IOException closed) {
                    // the test is over
                }
            }, "silent-server");
            acceptor.setDaemon(true);
            acceptor.start();
            PostgresConfig config = config(silent.getLocalPort()).build();

            long t0 = System.nanoTime();
            List<Problem> problems = PostgresPreflight.check(config);
            Duration took = Duration.ofNanos(System.nanoTime() - t0);
            assertThat(took).isBetween(TIMEOUT.minusMillis(100), TIMEOUT.plusSeconds(2));
            assertThat(problems).extracting(Problem::code).containsExactly("unreachable");
            assertThat(problems.get(0).message()).contains("did not complete the startup", "1500 ms");

            long t1 = System.nanoTime();
            assertThatThrownBy(() -> backup(config))
                    .isInstanceOf(SourceException.class)
                    .hasMessageContaining("did not complete the startup")
                    .satisfies(e -> assertThat(((SourceException) e).isRetriable()).isTrue());
            assertThat(Duration.ofNanos(System.nanoTime() - t1)).isLessThan(TIMEOUT.plusSeconds(2));
        } finally {
            for (Socket s : accepted) {
                s.close();
            }
        }
    }

    @Test
    void peerThatIsNotPostgresIsNamedAsSuch() throws Exception {
        try (ServerSocket http = new ServerSocket(0, 10, InetAddress.getByName("127.0.0.1"))) {
            Thread server = new Thread(() -> {
                try {
                    while (true) {
                        try (Socket s = http.accept()) {
                            s.getInputStream().read(new byte[512]); // the startup message, not HTTP
                            s.getOutputStream().write(("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                                    + "Content-Length: 11\r\nConnection: close\r\n\r\nBad Request")
                                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                            s.getOutputStream().flush();
                        }
                    }
                } catch (IOException closed) {
                    // the test is over
                }
            }, "http-server");
            server.setDaemon(true);
            server.start();
            PostgresConfig config = config(http.getLocalPort()).build();
            String named = "127.0.0.1:" + http.getLocalPort() + " did not answer like a PostgreSQL server "
                    + "(it sent 'HTTP/1.1 400 Bad Request')";

            List<Problem> problems = PostgresPreflight.check(config);
            assertThat(problems).extracting(Problem::code).containsExactly("not-postgresql");
            assertThat(problems.get(0).message()).contains(named).doesNotContain("unexpected message");
            assertThatThrownBy(() -> backup(config))
                    .isInstanceOf(SourceException.class)
                    .hasMessageContaining(named)
                    .satisfies(e -> assertThat(((SourceException) e).isRetriable()).as("a wrong port stays wrong")
                            .isFalse());
        }
    }

    @Test
    void userWithoutReplicationIsReported() {
        List<Problem> problems = PostgresPreflight.check(config(PG.port()).user("plain_user").build());
        assertThat(problems).extracting(Problem::code).containsExactly("replication-privilege");
        assertThat(problems.get(0).message()).contains("plain_user", "REPLICATION");
        // a logical backup does not need the privilege (its tool checks are not this test's concern)
        List<Problem> logical = PostgresPreflight.check(config(PG.port()).user("plain_user")
                .mode(PostgresConfig.Mode.LOGICAL).build());
        assertThat(logical).extracting(Problem::code).doesNotContain("replication-privilege", "wal-level",
                "wal-senders", "replication-slots", "unreachable", "authentication");
    }

    @Test
    void minimalWalServerReportsEveryProblemAtOnce() {
        List<Problem> problems = PostgresPreflight.check(config(MINIMAL.port()).user("plain_user").build());
        assertThat(problems).extracting(Problem::code).containsExactlyInAnyOrder(
                "wal-level", "replication-privilege", "wal-senders", "replication-slots");
        assertThat(problems).filteredOn(p -> p.code().equals("wal-level")).singleElement()
                .extracting(Problem::message).asString().contains("wal_level = minimal");
        assertThat(problems).filteredOn(p -> p.code().equals("wal-senders")).singleElement()
                .extracting(Problem::message).asString().contains("max_wal_senders = 0");

        List<Problem> superuser = PostgresPreflight.check(config(MINIMAL.port()).build());
        assertThat(superuser).extracting(Problem::code).containsExactlyInAnyOrder(
                "wal-level", "wal-senders", "replication-slots");
    }

    @Test
    void missingDatabaseIsReported() {
        List<Problem> problems = PostgresPreflight.check(config(PG.port()).database("no_such_db").build());
        assertThat(problems).extracting(Problem::code).contains("database-missing");
    }

    private static void backup(PostgresConfig config) throws IOException {
        ArtifactSink unused = name -> {
            throw new AssertionError("no artifact may be opened, got " + name);
        };
        new PostgresBackupProvider().openBackup(config,
                new BackupContext(BackupId.generate(Instant.now()), Optional.empty(), false)).run(unused);
    }
}
