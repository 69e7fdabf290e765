package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.api.SourceException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Tool lookup order and version checks, with fake tools that only print a version. */
class PgToolsTest {
    @TempDir
    Path tmp;

    @Test
    void aToolOlderThanTheServerIsReportedWithBothVersions() throws IOException {
        Path dir = fakeTool(tmp.resolve("tools"), "pg_dump", "14.2");
        PgTools.Search search = new PgTools.Search(Optional.of(dir), "", tmp.resolve("none"));

        PgTools.Lookup lookup = PgTools.find(search, "pg_dump", 15);

        assertThat(lookup.found()).isFalse();
        assertThat(lookup.problem().code()).isEqualTo("tool-too-old");
        assertThat(lookup.problem().message())
                .contains("pg_dump", "14.2", "PostgreSQL 15", dir.resolve("pg_dump").toString(), "tools-dir",
                        "server version mismatch");
    }

    @Test
    void aToolAsNewAsOrNewerThanTheServerIsUsed() throws IOException {
        Path dir = fakeTool(tmp.resolve("tools"), "pg_dump", "15.18 (Debian 15.18-0+deb12u1)");
        fakeTool(dir, "pg_restore", "17.2");

        PgTools.Search search = new PgTools.Search(Optional.of(dir), "", tmp.resolve("none"));
        PgTools.Lookup dump = PgTools.find(search, "pg_dump", 15);
        PgTools.Lookup restore = PgTools.find(search, "pg_restore", 15);

        assertThat(dump.found()).isTrue();
        assertThat(dump.tool().major()).isEqualTo(15);
        assertThat(dump.tool().version()).isEqualTo("15.18");
        assertThat(dump.tool().path()).isEqualTo(dir.resolve("pg_dump"));
        assertThat(restore.tool().major()).isEqualTo(17);
    }

    @Test
    void aMissingToolIsReportedNamingEveryPlaceSearched() throws IOException {
        Path pathA = Files.createDirectories(tmp.resolve("a"));
        Path pathB = Files.createDirectories(tmp.resolve("b"));
        Path root = Files.createDirectories(tmp.resolve("usr-lib-postgresql"));
        PgTools.Search search = new PgTools.Search(Optional.empty(), pathA + ":" + pathB, root);

        PgTools.Lookup lookup = PgTools.find(search, "pg_dumpall", 16);

        assertThat(lookup.found()).isFalse();
        assertThat(lookup.problem().code()).isEqualTo("tool-missing");
        assertThat(lookup.problem().message()).contains("pg_dumpall", pathA.toString(), pathB.toString(),
                root.resolve("16").resolve("bin").toString(), "postgresql-client-16", "tools-dir");
    }

    @Test
    void aMissingToolsDirIsReportedAsSuchAndNothingElseIsSearched() throws IOException {
        Path onPath = fakeTool(tmp.resolve("path"), "pg_dump", "15.4");
        Path missing = tmp.resolve("no-such-dir");
        PgTools.Search search = new PgTools.Search(Optional.of(missing), onPath.toString(), tmp.resolve("none"));

        PgTools.Lookup lookup = PgTools.find(search, "pg_dump", 15);

        assertThat(lookup.found()).as("a configured tools-dir is never silently replaced by PATH").isFalse();
        assertThat(lookup.problem().code()).isEqualTo("tool-missing");
        assertThat(lookup.problem().message()).contains(missing.toString(), "does not exist", "tools-dir");
    }

    @Test
    void aToolsDirWithoutTheToolIsAuthoritative() throws IOException {
        Path toolsDir = fakeTool(tmp.resolve("tools"), "pg_restore", "15.4");
        Path onPath = fakeTool(tmp.resolve("path"), "pg_dump", "15.4");
        PgTools.Search search = new PgTools.Search(Optional.of(toolsDir), onPath.toString(), tmp.resolve("none"));

        PgTools.Lookup lookup = PgTools.find(search, "pg_dump", 15);

        assertThat(lookup.found()).isFalse();
        assertThat(lookup.problem().message()).contains("pg_dump not found in the configured tools-dir " + toolsDir);
    }

    @Test
    void pathComesBeforeTheInstallRoot() throws IOException {
        Path onPath = fakeTool(tmp.resolve("path"), "pg_dump", "16.1");
        Path root = tmp.resolve("root");
        fakeTool(root.resolve("15").resolve("bin"), "pg_dump", "15.3");
        PgTools.Search search = new PgTools.Search(Optional.empty(), onPath.toString(), root);

        assertThat(PgTools.find(search, "pg_dump", 15).tool().path()).isEqualTo(onPath.resolve("pg_dump"));
    }

    @Test
    void anOldToolOnPathIsPassedOverForTheServersMajorUnderTheInstallRoot() throws IOException {
        Path onPath = fakeTool(tmp.resolve("path"), "pg_dump", "14.2");
        Path root = tmp.resolve("root");
        Path bin15 = fakeTool(root.resolve("15").resolve("bin"), "pg_dump", "15.3");
        fakeTool(root.resolve("17").resolve("bin"), "pg_dump", "17.0");
        PgTools.Search search = new PgTools.Search(Optional.empty(), onPath.toString(), root);

        assertThat(PgTools.find(search, "pg_dump", 15).tool().path()).isEqualTo(bin15.resolve("pg_dump"));
    }

    @Test
    void withoutTheServersMajorTheHighestInstalledMajorIsUsed() throws IOException {
        Path root = tmp.resolve("root");
        fakeTool(root.resolve("13").resolve("bin"), "pg_dump", "13.9");
        Path bin17 = fakeTool(root.resolve("17").resolve("bin"), "pg_dump", "17.0");
        fakeTool(root.resolve("16").resolve("bin"), "pg_dump", "16.4");
        PgTools.Search search = new PgTools.Search(Optional.empty(), "", root);

        PgTools.Lookup lookup = PgTools.find(search, "pg_dump", 15);

        assertThat(lookup.tool().path()).isEqualTo(bin17.resolve("pg_dump"));
        assertThat(lookup.tool().version()).isEqualTo("17.0");
    }

    @Test
    void onlyTooOldToolsInstalledGivesTooOldNamingEach() throws IOException {
        Path onPath = fakeTool(tmp.resolve("path"), "pg_dump", "13.1");
        Path root = tmp.resolve("root");
        fakeTool(root.resolve("14").resolve("bin"), "pg_dump", "14.2");
        PgTools.Search search = new PgTools.Search(Optional.empty(), onPath.toString(), root);

        Problem problem = PgTools.find(search, "pg_dump", 16).problem();

        assertThat(problem.code()).isEqualTo("tool-too-old");
        assertThat(problem.message()).contains("13.1", "14.2", "PostgreSQL 16", "postgresql-client-16");
    }

    @Test
    void psqlHasNoMinimumVersion() throws IOException {
        Path dir = fakeTool(tmp.resolve("tools"), "psql", "13.0");
        PgTools.Search search = new PgTools.Search(Optional.of(dir), "", tmp.resolve("none"));

        assertThat(PgTools.find(search, "psql", 17).found()).isTrue();
    }

    @Test
    void aToolThatPrintsNoVersionIsReportedAsUnusable() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("tools"));
        script(dir.resolve("pg_dump"), "echo 'something else entirely'");
        PgTools.Search search = new PgTools.Search(Optional.of(dir), "", tmp.resolve("none"));

        Problem problem = PgTools.find(search, "pg_dump", 15).problem();

        assertThat(problem.code()).isEqualTo("tool-missing");
        assertThat(problem.message()).contains("could not run", "printed no PostgreSQL version");
    }

    @Test
    void aNonExecutableFileIsNotATool() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("tools"));
        Files.writeString(dir.resolve("pg_dump"), "#!/bin/sh\necho 'pg_dump (PostgreSQL) 15.1'\n");
        PgTools.Search search = new PgTools.Search(Optional.of(dir), "", tmp.resolve("none"));

        assertThat(PgTools.find(search, "pg_dump", 15).problem().code()).isEqualTo("tool-missing");
    }

    @Test
    void preflightProblemsCoverPgDumpAndPgDumpall() throws IOException {
        Path dir = fakeTool(tmp.resolve("tools"), "pg_dump", "14.2");
        PostgresConfig config = PostgresConfig.builder("main-pg").mode(PostgresConfig.Mode.LOGICAL).toolsDir(dir)
                .build();

        List<Problem> problems = PgTools.problems(config, 15);

        assertThat(problems).extracting(Problem::code).containsExactly("tool-too-old", "tool-missing");
        assertThat(problems.get(0).message()).startsWith("pg_dump ");
        assertThat(problems.get(1).message()).startsWith("pg_dumpall ");
    }

    @Test
    void requireThrowsTheProblemAsASourceException() throws IOException {
        Path dir = fakeTool(tmp.resolve("tools"), "pg_dump", "12.0");
        PostgresConfig config = PostgresConfig.builder("main-pg").toolsDir(dir).build();

        assertThatThrownBy(() -> PgTools.require(config, "pg_dump", 15))
                .isInstanceOf(SourceException.class)
                .hasMessageContaining("tool-too-old")
                .hasMessageContaining("12.0");
    }

    @Test
    void versionTextsParse() {
        assertThat(PgTools.major("15.18")).isEqualTo(15);
        assertThat(PgTools.major("9.6.24")).isEqualTo(9);
        assertThat(PgTools.majorFromVersionNum(150019)).isEqualTo(15);
        assertThat(PgTools.majorFromVersionNum(90624)).isEqualTo(9);
        assertThatThrownBy(() -> PgTools.major("devel")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void oldStyleAndDevelopmentVersionsParse() throws IOException {
        Path dir = fakeTool(tmp.resolve("a"), "pg_dump", "9.6.24");
        assertThat(PgTools.probe("pg_dump", dir.resolve("pg_dump")).major()).isEqualTo(9);
        Path devel = fakeTool(tmp.resolve("b"), "pg_dump", "18devel");
        assertThat(PgTools.probe("pg_dump", devel.resolve("pg_dump")).major()).isEqualTo(18);
    }

    /** A fake tool printing {@code "<tool> (PostgreSQL) <version>"}; returns its directory. */
    static Path fakeTool(Path dir, String tool, String version) throws IOException {
        Files.createDirectories(dir);
        script(dir.resolve(tool), "echo \"" + tool + " (PostgreSQL) " + version + "\"");
        return dir;
    }

    static void script(Path file, String body) throws IOException {
        Files.writeString(file, "#!/bin/sh\n" + body + "\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
}
