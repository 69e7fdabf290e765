package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.IntegrityException;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Safe extraction of the tar archives of a base backup ({@code base.tar}, {@code <oid>.tar})
 * into a fresh directory. No entry may land outside it: absolute names, {@code ..}, paths
 * through a symlink, duplicate entries, hard links and devices are refused with an
 * {@link IntegrityException} naming the artifact. The only symlinks a base backup holds are
 * the tablespace links {@code pg_tblspc/<oid>}; they are not extracted but reported, because
 * the restore points them at the tablespaces' new locations. {@code tablespace_map} is read
 * (not written) for the same reason.
 */
final class DataDirectoryTar {
    static final String TABLESPACE_MAP = "tablespace_map";
    private static final Pattern TABLESPACE_LINK = Pattern.compile("pg_tblspc/([1-9][0-9]{0,9})");
    private static final int BUFFER = 64 * 1024;
    private static final int MAX_MAP_BYTES = 1024 * 1024;
    private static final LinkOption[] NOFOLLOW = {LinkOption.NOFOLLOW_LINKS};
    private static final Set<PosixFilePermission> DIR_0700 = PosixFilePermissions.fromString("rwx------");

    private DataDirectoryTar() {
    }

    /**
     * What an extraction found besides plain files and directories.
     *
     * @param tablespaceLinks oid → original location of each {@code pg_tblspc/<oid>} symlink
     * @param tablespaceMap   the original {@code tablespace_map} (oid → location), empty when absent
     * @param files           regular files extracted
     * @param bytes           bytes of those files
     */
    record Result(Map<String, String> tablespaceLinks, Map<String, String> tablespaceMap, long files, long bytes) { }

    /**
     * Extracts a tar stream into {@code root}, which must exist and be empty. With
     * {@code dataDirectory} false (a tablespace archive) no symlink and no tablespace map is allowed.
     * Reads {@code in} to its end.
     */
    static Result extract(InputStream in, Path root, String artifact, boolean dataDirectory) throws IOException {
        record DirMode(Path dir, Set<PosixFilePermission> mode, FileTime time) { }
        List<DirMode> dirModes = new ArrayList<>();
        Map<String, String> links = new LinkedHashMap<>();
        Map<String, String> map = new LinkedHashMap<>();
        long files = 0;
        long bytes = 0;
        TarArchiveInputStream tar = new TarArchiveInputStream(in, BUFFER, "UTF-8");
        byte[] buffer = new byte[BUFFER];
        TarArchiveEntry entry;
        while ((entry = tar.getNextEntry()) != null) {
            String name = normalise(entry.getName(), artifact);
            if (entry.isLink() || entry.isCharacterDevice() || entry.isBlockDevice() || entry.isFIFO()) {
                throw new IntegrityException(artifact, "refusing tar entry '" + name + "' in " + artifact
                        + ": hard links, devices and FIFOs never belong in a base backup");
            }
            if (entry.isSymbolicLink()) {
                var m = TABLESPACE_LINK.matcher(name);
                if (!dataDirectory || !m.matches()) {
                    throw new IntegrityException(artifact, "refusing symlink '" + name + "' -> '" + entry.getLinkName()
                            + "' in " + artifact + ": only pg_tblspc/<oid> links belong in a base backup");
                }
                if (links.put(m.group(1), entry.getLinkName()) != null) {
                    throw new IntegrityException(artifact, "refusing '" + name + "': " + artifact + " holds it twice");
                }
                continue;
            }
            if (dataDirectory && name.equals(TABLESPACE_MAP) && entry.isFile()) {
                map.putAll(parseTablespaceMap(readSmall(tar, entry, artifact), artifact));
                continue;
            }
            Path dest = safeResolve(root, name, artifact);
            if (entry.isDirectory()) {
                if (Files.exists(dest, NOFOLLOW) && !Files.isDirectory(dest, NOFOLLOW)) {
                    throw new IntegrityException(artifact, "refusing directory '" + name + "': a file of that name "
                            + "came before it in " + artifact);
                }
                Files.createDirectories(dest, PosixFilePermissions.asFileAttribute(DIR_0700));
                dirModes.add(new DirMode(dest, permissions(entry.getMode() | 0700),
                        FileTime.from(entry.getModTime().toInstant())));
            } else if (entry.isFile()) {
                Files.createDirectories(dest.getParent(), PosixFilePermissions.asFileAttribute(DIR_0700));
                try (OutputStream out = Files.newOutputStream(dest, StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
                    int n;
                    while ((n = tar.read(buffer)) > 0) {
                        out.write(buffer, 0, n);
                        bytes += n;
                    }
                } catch (java.nio.file.FileAlreadyExistsException e) {
                    throw new IntegrityException(artifact, "refusing '" + name + "': " + artifact + " holds it twice");
                }
                Files.setPosixFilePermissions(dest, permissions(entry.getMode() | 0600));
                Files.setLastModifiedTime(dest, FileTime.from(entry.getModTime().toInstant()));
                files++;
            } else {
                throw new IntegrityException(artifact, "refusing tar entry '" + name + "' in " + artifact
                        + ": hard links, devices and FIFOs never belong in a base backup");
            }
        }
        // the archive may be followed by padding; read to the end so every byte passes the checks upstream
        in.transferTo(OutputStream.nullOutputStream());
        for (int i = dirModes.size() - 1; i >= 0; i--) {
            DirMode d = dirModes.get(i);
            Files.setPosixFilePermissions(d.dir(), d.mode());
            Files.setLastModifiedTime(d.dir(), d.time());
        }
        return new Result(links, map, files, bytes);
    }

    /** Removes a leading {@code ./} and a trailing {@code /}; refuses empty, absolute and odd names. */
    private static String normalise(String raw, String artifact) throws IntegrityException {
        String name = raw;
        while (name.startsWith("./")) {
            name = name.substring(2);
        }
        while (name.endsWith("/")) {
            name = name.substring(0, name.length() - 1);
        }
        if (name.isEmpty() || name.startsWith("/") || name.indexOf('\0') >= 0 || name.contains("\\")) {
            throw new IntegrityException(artifact, "refusing tar entry '" + raw + "' in " + artifact
                    + ": absolute or malformed name");
        }
        for (String segment : name.split("/")) {
            if (segment.equals("..") || segment.isEmpty() || segment.equals(".")) {
                throw new IntegrityException(artifact, "refusing tar entry '" + raw + "' in " + artifact
                        + ": it climbs out of the restore target or has an empty segment");
            }
        }
        return name;
    }

    /** Resolves a normalised entry name inside {@code root}, refusing escapes and paths through symlinks. */
    static Path safeResolve(Path root, String name, String artifact) throws IntegrityException {
        Path dest = root.resolve(name).normalize();
        if (!dest.startsWith(root) || dest.equals(root)) {
            throw new IntegrityException(artifact, "refusing tar entry '" + name + "' in " + artifact
                    + ": it resolves outside the restore target");
        }
        for (Path p = dest.getParent(); p != null && !p.equals(root); p = p.getParent()) {
            if (Files.isSymbolicLink(p)) {
                throw new IntegrityException(artifact, "refusing tar entry '" + name + "' in " + artifact
                        + ": it would be written through the symlink " + root.relativize(p));
            }
        }
        return dest;
    }

    private static byte[] readSmall(InputStream tar, TarArchiveEntry entry, String artifact) throws IOException {
        if (entry.getSize() > MAX_MAP_BYTES) {
            throw new IntegrityException(artifact, TABLESPACE_MAP + " in " + artifact + " is " + entry.getSize()
                    + " bytes, more than any real tablespace map");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) entry.getSize());
        tar.transferTo(out);
        return out.toByteArray();
    }

    /**
     * Parses {@code tablespace_map}: one {@code <oid> <path>} line per tablespace, where the
     * server escapes newline, carriage return and backslash in the path with a backslash.
     */
    static Map<String, String> parseTablespaceMap(byte[] content, String artifact) throws IntegrityException {
        Map<String, String> map = new LinkedHashMap<>();
        String text = new String(content, StandardCharsets.UTF_8);
        StringBuilder line = new StringBuilder();
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\\' && i + 1 < text.length()) {
                line.append(text.charAt(++i));
            } else if (c == '\n') {
                addMapLine(map, line.toString(), artifact);
                line.setLength(0);
            } else {
                line.append(c);
            }
        }
        if (!line.isEmpty()) {
            addMapLine(map, line.toString(), artifact);
        }
        return map;
    }

    private static void addMapLine(Map<String, String> map, String line, String artifact) throws IntegrityException {
        if (line.isBlank()) {
            return;
        }
        int space = line.indexOf(' ');
        if (space <= 0 || !line.substring(0, space).matches("[1-9][0-9]{0,9}") || space == line.length() - 1) {
            throw new IntegrityException(artifact, "malformed line in " + TABLESPACE_MAP + ": '" + line + "'");
        }
        map.put(line.substring(0, space), line.substring(space + 1));
    }

    /** {@code tablespace_map} content for oid → location, escaped the way the server writes it. */
    static String formatTablespaceMap(Map<String, String> locations) {
        StringBuilder s = new StringBuilder();
        for (Map.Entry<String, String> e : locations.entrySet()) {
            s.append(e.getKey()).append(' ');
            for (char c : e.getValue().toCharArray()) {
                if (c == '\n' || c == '\r' || c == '\\') {
                    s.append('\\');
                }
                s.append(c);
            }
            s.append('\n');
        }
        return s.toString();
    }

    /** Creates a private (0700) directory. */
    static void createPrivateDirectory(Path dir) throws IOException {
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(DIR_0700));
    }

    static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> perms = EnumSet.noneOf(PosixFilePermission.class);
        for (PosixFilePermission p : PosixFilePermission.values()) {
            if ((mode & (1 << (8 - p.ordinal()))) != 0) {
                perms.add(p);
            }
        }
        return perms;
    }
}
