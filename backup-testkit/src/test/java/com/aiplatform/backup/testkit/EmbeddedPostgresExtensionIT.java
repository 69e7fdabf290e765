package com.aiplatform.backup.testkit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

class EmbeddedPostgresExtensionIT {
    @RegisterExtension
    static final EmbeddedPostgresExtension PG = EmbeddedPostgresExtension.builder()
            .serverConfig("wal_level", "replica")
            .serverConfig("max_wal_senders", "4")
            .build();

    @Test
    void createsATableInsertsAndReadsBack() throws Exception {
        String database = "it_rows_" + ProcessHandle.current().pid();
        try (Connection c = PG.dataSource().getConnection(); Statement st = c.createStatement()) {
            st.execute("DROP DATABASE IF EXISTS " + database);
            st.execute("CREATE DATABASE " + database);
        }
        try (Connection c = DriverManager.getConnection(PG.jdbcUrl(database))) {
            try (Statement st = c.createStatement()) {
                st.execute("CREATE TABLE item (id int PRIMARY KEY, name text NOT NULL)");
            }
            try (PreparedStatement insert = c.prepareStatement("INSERT INTO item VALUES (?, ?)")) {
                for (int i = 1; i <= 3; i++) {
                    insert.setInt(1, i);
                    insert.setString(2, "item-" + i);
                    insert.addBatch();
                }
                assertThat(insert.executeBatch()).containsExactly(1, 1, 1);
            }
            assertThat(names(c)).containsExactly("item-1", "item-2", "item-3");
        } finally {
            try (Connection c = PG.dataSource().getConnection(); Statement st = c.createStatement()) {
                st.execute("DROP DATABASE IF EXISTS " + database);
            }
        }
    }

    @Test
    void reportsWhereItRunsAndItsVersionAndSettings() {
        assertThat(PG.port()).isPositive();
        assertThat(PG.host()).isNotBlank();
        assertThat(PG.serverVersion()).matches("\\d+(\\.\\d+)?.*");
        if (PG.server().isEmbedded()) {
            assertThat(PG.user()).isEqualTo("postgres");
            assertThat(PG.serverVersion()).startsWith("15.");
            assertThat(PG.server().majorVersion()).isEqualTo(15);
            assertThat(PG.jdbcUrl("postgres")).startsWith("jdbc:postgresql://localhost:" + PG.port() + "/postgres");
        }
        assertThat(PG.server().show("wal_level")).isEqualTo("replica");
        assertThat(PG.server().show("max_wal_senders")).isEqualTo("4");
    }

    @Test
    void startsOnAnExistingDataDirectoryWithoutCleaningIt(@TempDir Path tmp) throws Exception {
        Path original = tmp.resolve("original");
        try (EmbeddedPostgresServer first = EmbeddedPostgresExtension.startOnDataDirectory(original)) {
            try (Connection c = first.dataSource().getConnection(); Statement st = c.createStatement()) {
                st.execute("CREATE TABLE kept (id int PRIMARY KEY, name text)");
                st.execute("INSERT INTO kept SELECT g, 'row-' || g FROM generate_series(1, 500) g");
            }
        }
        assertThat(original.resolve("PG_VERSION")).exists();

        // a copy, as a restore would produce it: loose mode, no postmaster.pid
        Path restored = tmp.resolve("restored");
        copyTree(original, restored);
        Files.deleteIfExists(restored.resolve("postmaster.pid"));
        Files.setPosixFilePermissions(restored, PosixFilePermissions.fromString("rwxr-xr-x"));

        try (EmbeddedPostgresServer second = EmbeddedPostgresExtension.startOnDataDirectory(restored,
                Map.of("max_connections", "20"))) {
            assertThat(second.dataDirectory()).contains(restored);
            assertThat(second.show("max_connections")).isEqualTo("20");
            try (Connection c = second.dataSource().getConnection(); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT count(*), max(name) FROM kept")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getLong(1)).isEqualTo(500);
                assertThat(rs.getString(2)).isEqualTo("row-99");
            }
        }
        assertThat(restored.resolve("PG_VERSION")).as("the directory is kept after close").exists();
    }

    private static List<String> names(Connection c) throws SQLException {
        List<String> names = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT name FROM item ORDER BY id")) {
            while (rs.next()) {
                names.add(rs.getString(1));
            }
        }
        return names;
    }

    private static void copyTree(Path from, Path to) throws Exception {
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path p : (Iterable<Path>) paths::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else if (!p.getFileName().toString().equals("epg-lock")) {
                    Files.copy(p, target, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
    }
}
