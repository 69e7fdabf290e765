package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.api.SourceException;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds the PostgreSQL client tools ({@code pg_dump}, {@code pg_dumpall}, {@code pg_restore},
 * {@code psql}) and checks their version against the server's.
 *
 * <p>Where it looks:
 * <ol>
 *   <li>the configured {@code tools-dir}, and only there when it is set: an operator who names a
 *       directory means those tools, so nothing else is tried silently;</li>
 *   <li>otherwise every directory of {@code PATH} in order, then
 *       {@code /usr/lib/postgresql/<server major>/bin}, then the other installed
 *       {@code /usr/lib/postgresql/<major>/bin}, highest major first.</li>
 * </ol>
 * The first candidate whose major version is at least the server's is used: {@code pg_dump} and
 * {@code pg_dumpall} refuse newer servers ("server version mismatch"), and {@code pg_restore}
 * cannot read archives written by a newer {@code pg_dump}. {@code psql} has no minimum.
 */
final class PgTools {
    static final String PG_DUMP = "pg_dump";
    static final String PG_DUMPALL = "pg_dumpall";
    static final String PG_RESTORE = "pg_restore";
    static final String PSQL = "psql";

    /** The tools a logical backup runs. */
    static final List<String> BACKUP_TOOLS = List.of(PG_DUMP, PG_DUMPALL);

    static final Path DEFAULT_INSTALL_ROOT = Path.of("/usr/lib/postgresql");
    private static final long VERSION_TIMEOUT_SECONDS = 10;
    private static final int VERSION_OUTPUT_LIMIT = 4096;
    private static final Pattern VERSION = Pattern.compile("\\(PostgreSQL\\)\\s+(\\d+)(?:\\.(\\d+))?(?:\\.(\\d+))?");

    private PgTools() {
    }

    /**
     * A located tool.
     *
     * @param name    tool name ({@code pg_dump})
     * @param path    the executable
     * @param major   major version (15, 16; 9 for 9.x)
     * @param version version as printed ({@code 15.18})
     */
    record Tool(String name, Path path, int major, String version) {
        @Override
        public String toString() {
            return name + " " + version + " (" + path + ")";
        }
    }

    /**
     * Where to look for tools.
     *
     * @param toolsDir    the configured directory; when present nothing else is searched
     * @param pathVariable the {@code PATH} to search, may be empty
     * @param installRoot Debian-style root holding {@code <major>/bin} directories
     */
    record Search(Optional<Path> toolsDir, String pathVariable, Path installRoot) {
        Search {
            Objects.requireNonNull(toolsDir, "toolsDir");
            pathVariable = pathVariable == null ? "" : pathVariable;
            Objects.requireNonNull(installRoot, "installRoot");
        }

        /** The search a configuration implies on this machine. */
        static Search of(PostgresConfig config) {
            return new Search(config.toolsDir(), System.getenv("PATH"), DEFAULT_INSTALL_ROOT);
        }
    }

    /** Either the tool found, or the problem that stops it being used. */
    record Lookup(Tool tool, Problem problem) {
        boolean found() {
            return tool != null;
        }
    }

    /**
     * Pre-flight check of the tools a logical backup needs ({@code pg_dump}, {@code pg_dumpall})
     * against a server of major version {@code serverMajor}: every problem at once, with codes
     * {@code tool-missing} or {@code tool-too-old}; empty when both are usable.
     */
    static List<Problem> problems(PostgresConfig config, int serverMajor) {
        return problems(Search.of(config), serverMajor, BACKUP_TOOLS);
    }

    /** Problems of the named tools, each needing at least {@code serverMajor} (psql: any version). */
    static List<Problem> problems(Search search, int serverMajor, List<String> tools) {
        List<Problem> problems = new ArrayList<>();
        for (String tool : tools) {
            Lookup lookup = find(search, tool, serverMajor);
            if (!lookup.found()) {
                problems.add(lookup.problem());
            }
        }
        return problems;
    }

    /**
     * The tool to use with a server of {@code serverMajor}, or a {@link SourceException}
     * carrying the problem (missing, or too old) when there is none.
     */
    static Tool require(PostgresConfig config, String tool, int serverMajor) throws SourceException {
        Lookup lookup = find(Search.of(config), tool, serverMajor);
        if (!lookup.found()) {
            throw new SourceException(lookup.problem().toString(), false);
        }
        return lookup.tool();
    }

    /** Looks for {@code tool} in the order described on this class. */
    static Lookup find(Search search, String tool, int serverMajor) {
        int minimum = PSQL.equals(tool) ? 0 : serverMajor;
        List<Path> dirs = new ArrayList<>();
        String where;
        if (search.toolsDir().isPresent()) {
            Path dir = search.toolsDir().get();
            if (!Files.isDirectory(dir)) {
                return new Lookup(null, new Problem("tool-missing", tool + " not found: the configured tools-dir "
                        + dir + " does not exist or is not a directory; point tools-dir at the bin directory of "
                        + "PostgreSQL " + serverMajor + " (or newer) client tools, or remove it to search PATH and "
                        + search.installRoot() + "/<major>/bin"));
            }
            dirs.add(dir);
            where = "the configured tools-dir " + dir;
        } else {
            dirs.addAll(pathDirectories(search.pathVariable()));
            Path serverBin = search.installRoot().resolve(Integer.toString(serverMajor)).resolve("bin");
            dirs.add(serverBin);
            dirs.addAll(installedBins(search.installRoot()));
            where = "PATH (" + (search.pathVariable().isEmpty() ? "empty" : search.pathVariable()) + "), "
                    + serverBin + " and " + search.installRoot() + "/<major>/bin";
        }
        List<Tool> tooOld = new ArrayList<>();
        List<String> unusable = new ArrayList<>();
        Set<Path> seen = new LinkedHashSet<>();
        for (Path dir : dirs) {
            Path candidate = dir.resolve(tool);
            if (!seen.add(candidate.toAbsolutePath().normalize())
                    || !Files.isRegularFile(candidate) || !Files.isExecutable(candidate)) {
                continue;
            }
            Tool found;
            try {
                found = probe(tool, candidate);
            } catch (IOException e) {
                unusable.add(candidate + " (" + e.getMessage() + ")");
                continue;
            }
            if (found.major() >= minimum) {
                return new Lookup(found, null);
            }
            tooOld.add(found);
        }
        if (!tooOld.isEmpty()) {
            String versions = String.join(", ", tooOld.stream().map(t -> t.path() + " is " + t.version()).toList());
            return new Lookup(null, new Problem("tool-too-old", tool + " is too old for PostgreSQL " + serverMajor
                    + ": " + versions + " (looked in " + where + "); " + tool + " must be at least major version "
                    + serverMajor + because(tool) + "; install the PostgreSQL " + serverMajor
                    + " client tools (Debian: postgresql-client-" + serverMajor + ") or set tools-dir"));
        }
        String broken = unusable.isEmpty() ? "" : "; found but could not run: " + String.join(", ", unusable);
        return new Lookup(null, new Problem("tool-missing", tool + " not found in " + where + broken
                + "; install the PostgreSQL " + serverMajor + " client tools (Debian: postgresql-client-"
                + serverMajor + ") or set tools-dir"));
    }

    private static String because(String tool) {
        if (PG_RESTORE.equals(tool)) {
            return " (older pg_restore cannot read newer archives)";
        }
        return " (" + tool + " refuses newer servers: \"server version mismatch\")";
    }

    /**
     * {@link #probe} results by executable, its size and modification time: the pre-flight check and
     * the backup look the same tools up, and replacing a tool (an upgrade) changes its key.
     */
    private static final Map<String, Tool> PROBED = new ConcurrentHashMap<>();
    private static final int PROBED_LIMIT = 64;

    /** Runs {@code <path> --version} and parses {@code "pg_dump (PostgreSQL) 15.18 (Debian ...)"}. */
    static Tool probe(String tool, Path path) throws IOException {
        String key;
        try {
            BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class);
            key = tool + "\0" + path.toRealPath() + "\0" + a.size() + "\0" + a.lastModifiedTime().toMillis();
        } catch (IOException e) {
            return runVersion(tool, path);
        }
        Tool cached = PROBED.get(key);
        if (cached != null) {
            return new Tool(tool, path, cached.major(), cached.version());
        }
        Tool found = runVersion(tool, path);
        if (PROBED.size() >= PROBED_LIMIT) {
            PROBED.clear();
        }
        PROBED.put(key, found);
        return found;
    }

    private static Tool runVersion(String tool, Path path) throws IOException {
        Process p = new ProcessBuilder(path.toString(), "--version")
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        String output;
        try (InputStream in = p.getInputStream()) {
            output = readLimited(in);
            if (!p.waitFor(VERSION_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                throw new IOException("'" + path + " --version' did not finish within " + VERSION_TIMEOUT_SECONDS
                        + " s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + path + " --version", e);
        } finally {
            if (p.isAlive()) {
                p.destroyForcibly();
            }
        }
        if (p.exitValue() != 0) {
            throw new IOException("'--version' exited with " + p.exitValue());
        }
        Matcher m = VERSION.matcher(output);
        if (!m.find()) {
            throw new IOException("'--version' printed no PostgreSQL version: '" + output.strip() + "'");
        }
        int first = Integer.parseInt(m.group(1));
        String version = m.group(1) + (m.group(2) == null ? "" : "." + m.group(2))
                + (m.group(3) == null ? "" : "." + m.group(3));
        return new Tool(tool, path, first, version);
    }

    /** The major version of a version text such as {@code 15.18} or {@code 9.6.24} (gives 9). */
    static int major(String version) {
        Matcher m = Pattern.compile("^(\\d+)").matcher(version == null ? "" : version.trim());
        if (!m.find()) {
            throw new IllegalArgumentException("'" + version + "' is not a PostgreSQL version");
        }
        return Integer.parseInt(m.group(1));
    }

    /** Major version from {@code server_version_num} (150019 gives 15; 90624 gives 9). */
    static int majorFromVersionNum(int versionNum) {
        return versionNum / 10000;
    }

    private static String readLimited(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[1024];
        int n;
        while ((n = in.read(buffer)) > 0) {
            if (out.size() < VERSION_OUTPUT_LIMIT) {
                out.write(buffer, 0, Math.min(n, VERSION_OUTPUT_LIMIT - out.size()));
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static List<Path> pathDirectories(String pathVariable) {
        List<Path> dirs = new ArrayList<>();
        for (String entry : pathVariable.split(File.pathSeparator)) {
            if (!entry.isBlank()) {
                try {
                    dirs.add(Path.of(entry));
                } catch (RuntimeException e) {
                    // an unusable PATH entry is skipped, as a shell would
                }
            }
        }
        return dirs;
    }

    /** {@code <root>/<major>/bin} of every installed major, highest first. */
    private static List<Path> installedBins(Path root) {
        List<Integer> majors = new ArrayList<>();
        if (Files.isDirectory(root)) {
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(root)) {
                for (Path e : entries) {
                    String name = e.getFileName().toString();
                    if (name.matches("\\d{1,3}") && Files.isDirectory(e.resolve("bin"))) {
                        majors.add(Integer.parseInt(name));
                    }
                }
            } catch (IOException e) {
                // an unreadable root is like an absent one; the problem names where we looked
            }
        }
        majors.sort(Comparator.reverseOrder());
        return majors.stream().map(m -> root.resolve(Integer.toString(m)).resolve("bin")).toList();
    }
}
