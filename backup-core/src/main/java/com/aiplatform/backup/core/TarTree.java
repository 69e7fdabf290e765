package com.aiplatform.backup.core;

import com.aiplatform.backup.api.PolicyException;
import com.aiplatform.backup.api.SourceException;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Tar of a directory tree and its safe extraction, as GNU tar does it: names as raw bytes,
 * symlinks kept with their target text, FIFOs, the root's and every entry's mode (with
 * set-id and sticky bits), owner and group (ids and names).
 *
 * <p>Names travel as bytes: the tar stream's encoding is ISO-8859-1, one char per byte, so
 * the header name field (and a GNU long-name record for longer names) holds the name's own
 * bytes, UTF-8 or not; {@link FileNames} gets those bytes from the JDK. Archives of earlier
 * versions (UTF-8 names, PAX {@code path} records) are read with {@code rawNames = false}.
 */
final class TarTree {
    private static final Logger LOG = LoggerFactory.getLogger(TarTree.class);
    private static final int BUFFER = 64 * 1024;
    private static final LinkOption[] NOFOLLOW = {LinkOption.NOFOLLOW_LINKS};
    private static final String ROOT_NAME = "./";
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;
    private static final int S_IFLNK = 0120000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFBLK = 0060000;
    private static final int S_IFDIR = 0040000;
    private static final int S_IFCHR = 0020000;
    private static final int S_IFIFO = 0010000;
    /** Marks the staging folder of a running restore: beside it, {@code <staging>.owner}. */
    static final String OWNER_SUFFIX = ".owner";

    private TarTree() {
    }

    /**
     * Counts of what was archived.
     *
     * @param skipped sockets and devices left out, by name ({@link FileNames#display} form)
     */
    record Summary(long files, long directories, long symlinks, long fifos, long bytes, List<String> skipped) {
    }

    private record Attrs(int mode, int uid, int gid, String user, String group, long size, FileTime mtime) {
        int type() {
            return mode & S_IFMT;
        }
    }

    /** Writes {@code root}'s tree (not following symlinks) as a tar stream into {@code out}. */
    static Summary write(Path configuredRoot, OutputStream out) throws IOException {
        Path root = configuredRoot.toRealPath(); // a configured path may be a symlink to the folder
        long[] counts = new long[5];
        List<String> skipped = new ArrayList<>();
        TarArchiveOutputStream tar = new TarArchiveOutputStream(out, BUFFER, "ISO-8859-1");
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_GNU);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        tar.setAddPaxHeadersForNonAsciiNames(false);
        byte[] buffer = new byte[BUFFER];
        Map<Integer, String> users = new HashMap<>();
        Map<Integer, String> groups = new HashMap<>();
        byte[] rootBytes = FileNames.bytes(root);
        List<String> names = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(root)) {
            walk.filter(p -> !p.equals(root)).forEach(p -> names.add(FileNames.latin1(FileNames.relative(rootBytes, p))));
        } catch (UncheckedIOException e) {
            if (e.getCause() instanceof NoSuchFileException gone) {
                throw vanished(gone, root);
            }
            throw e.getCause();
        }
        names.sort(null); // byte order
        TarArchiveEntry rootEntry = new TarArchiveEntry(ROOT_NAME, TarConstants.LF_DIR);
        describe(rootEntry, attrs(root, users, groups));
        tar.putArchiveEntry(rootEntry);
        tar.closeArchiveEntry();
        for (String name : names) {
            Path path = FileNames.resolve(root, FileNames.fromLatin1(name));
            Attrs attrs;
            try {
                attrs = attrs(path, users, groups);
            } catch (NoSuchFileException gone) {
                throw vanished(gone, path);
            }
            switch (attrs.type()) {
                case S_IFLNK -> {
                    TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_SYMLINK);
                    byte[] target;
                    try {
                        target = FileNames.linkTarget(Files.readSymbolicLink(path));
                    } catch (NoSuchFileException gone) {
                        throw vanished(gone, path);
                    }
                    e.setLinkName(FileNames.latin1(target));
                    describe(e, attrs);
                    tar.putArchiveEntry(e);
                    tar.closeArchiveEntry();
                    counts[2]++;
                }
                case S_IFDIR -> {
                    TarArchiveEntry e = new TarArchiveEntry(name + "/", TarConstants.LF_DIR);
                    describe(e, attrs);
                    tar.putArchiveEntry(e);
                    tar.closeArchiveEntry();
                    counts[1]++;
                }
                case S_IFIFO -> {
                    TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_FIFO);
                    describe(e, attrs);
                    tar.putArchiveEntry(e);
                    tar.closeArchiveEntry();
                    counts[3]++;
                }
                case S_IFREG -> {
                    long size = attrs.size();
                    TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_NORMAL);
                    describe(e, attrs);
                    e.setSize(size);
                    tar.putArchiveEntry(e);
                    long copied = 0;
                    try (InputStream in = Files.newInputStream(path, NOFOLLOW)) {
                        int n;
                        while (copied < size && (n = in.read(buffer, 0, (int) Math.min(buffer.length, size - copied))) > 0) {
                            tar.write(buffer, 0, n);
                            copied += n;
                        }
                    } catch (NoSuchFileException | FileNotFoundException gone) {
                        throw vanished(gone, path);
                    }
                    if (copied != size) {
                        throw new SourceException("file " + path + " shrank from " + size + " to " + copied
                                + " bytes while it was being backed up (it is being written to); the backup was"
                                + " abandoned: run it again, or back up a quiet copy", true);
                    }
                    tar.closeArchiveEntry();
                    counts[0]++;
                    counts[4] += size;
                }
                default -> {
                    String what = switch (attrs.type()) {
                        case S_IFSOCK -> "socket";
                        case S_IFCHR -> "character device";
                        case S_IFBLK -> "block device";
                        default -> "special file";
                    };
                    String shown = FileNames.display(FileNames.fromLatin1(name));
                    LOG.warn("{} {} in {} is not backed up (only files, directories, symlinks and FIFOs are)",
                            what, shown, root);
                    skipped.add(shown + " (" + what + ")");
                }
            }
        }
        tar.finish();
        return new Summary(counts[0], counts[1], counts[2], counts[3], counts[4], List.copyOf(skipped));
    }

    private static SourceException vanished(Throwable cause, Path fallback) {
        String file = cause instanceof NoSuchFileException f && f.getFile() != null ? f.getFile() : String.valueOf(fallback);
        return new SourceException("file " + file + " disappeared while the tree was being backed up (it is being"
                + " changed); the backup was abandoned: run it again", true, cause);
    }

    private static void describe(TarArchiveEntry e, Attrs a) {
        e.setMode(a.mode());
        e.setUserId(a.uid());
        e.setGroupId(a.gid());
        e.setUserName(a.user());
        e.setGroupName(a.group());
        e.setModTime(a.mtime());
    }

    private static Attrs attrs(Path path, Map<Integer, String> users, Map<Integer, String> groups) throws IOException {
        Map<String, Object> a = Files.readAttributes(path, "unix:mode,uid,gid,size,lastModifiedTime", NOFOLLOW);
        int uid = (Integer) a.get("uid");
        int gid = (Integer) a.get("gid");
        String user = users.get(uid);
        String group = groups.get(gid);
        if (user == null || group == null) {
            PosixFileAttributeView view = Files.getFileAttributeView(path, PosixFileAttributeView.class, NOFOLLOW);
            var posix = view.readAttributes();
            // an id without a name comes back as the number itself: record no name, as tar does
            user = posix.owner().getName().equals(Integer.toString(uid)) ? "" : posix.owner().getName();
            group = posix.group().getName().equals(Integer.toString(gid)) ? "" : posix.group().getName();
            users.put(uid, user);
            groups.put(gid, group);
        }
        return new Attrs((Integer) a.get("mode"), uid, gid, user, group, (Long) a.get("size"),
                (FileTime) a.get("lastModifiedTime"));
    }

    /** The same counts as {@link #write} gives, of a tree on disk (its root not counted). */
    static Summary summarize(Path root) throws IOException {
        long[] counts = new long[5];
        List<String> skipped = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                if (p.equals(root)) {
                    continue;
                }
                BasicFileAttributes attrs = Files.readAttributes(p, BasicFileAttributes.class, NOFOLLOW);
                if (attrs.isSymbolicLink()) {
                    counts[2]++;
                } else if (attrs.isDirectory()) {
                    counts[1]++;
                } else if (attrs.isRegularFile()) {
                    counts[0]++;
                    counts[4] += attrs.size();
                } else if ((((Integer) Files.getAttribute(p, "unix:mode", NOFOLLOW)) & S_IFMT) == S_IFIFO) {
                    counts[3]++;
                } else {
                    skipped.add(FileNames.display(FileNames.relative(FileNames.bytes(root), p)));
                }
            }
        }
        return new Summary(counts[0], counts[1], counts[2], counts[3], counts[4], skipped);
    }

    /** {@link #extract(InputStream, Path, boolean, boolean)} of an archive with raw-byte names. */
    static void extract(InputStream in, Path target, boolean overwrite) throws IOException {
        extract(in, target, overwrite, true);
    }

    /**
     * Extracts a tar stream into {@code target}. Everything is first written to a staging
     * folder beside the target and moved into place only at the end. Symlinks are created
     * after every file and folder, and an entry whose path goes through a symlink of the
     * archive, climbs out with {@code ..} or is absolute fails the whole restore with a
     * {@link PolicyException}, nothing moved into place. Owners are restored when running as
     * root (by name when the name exists here, else by id, like GNU tar).
     *
     * <p>The staging folder {@code .<target>.restore-<hex>} has an owner file beside it
     * ({@code pid}, process start, host); a restore into the same target first removes the
     * staging folders whose owner on this host is gone (killed), never a live one's.
     *
     * @param rawNames true for archives of this version (names are raw bytes), false for
     *                 earlier ones (UTF-8 names)
     */
    static void extract(InputStream in, Path target, boolean overwrite, boolean rawNames) throws IOException {
        Path absoluteTarget = target.toAbsolutePath().normalize();
        if (Files.exists(absoluteTarget, NOFOLLOW)) {
            if (!Files.isDirectory(absoluteTarget, NOFOLLOW)) {
                throw new IllegalArgumentException("restore target " + target + " exists and is not a directory");
            }
            if (!overwrite && !isEmpty(absoluteTarget)) {
                throw new IllegalArgumentException("restore target " + target
                        + " is not empty; choose an empty directory or allow overwriting");
            }
        }
        Path parent = absoluteTarget.getParent();
        Files.createDirectories(parent);
        String prefix = stagingPrefix(absoluteTarget);
        removeStaleStaging(parent, prefix);
        byte[] random = new byte[4];
        new SecureRandom().nextBytes(random);
        Path staging = parent.resolve(prefix + HexFormat.of().formatHex(random));
        Path owner = parent.resolve(staging.getFileName() + OWNER_SUFFIX);
        Files.writeString(owner, ownerText(), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        try {
            Files.createDirectory(staging, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            Meta root = extractInto(in, staging, rawNames);
            moveIntoPlace(staging, absoluteTarget, root);
        } finally {
            try {
                if (Files.exists(staging, NOFOLLOW)) {
                    deleteTree(staging);
                }
            } finally {
                Files.deleteIfExists(owner);
            }
        }
    }

    static String stagingPrefix(Path absoluteTarget) {
        return "." + absoluteTarget.getFileName() + ".restore-";
    }

    /** Owner, times and mode of one extracted entry, applied once its content is in place. */
    private record Meta(Path path, int mode, int uid, int gid, String user, String group, FileTime mtime) {
        static Meta of(Path path, TarArchiveEntry e) {
            return new Meta(path, e.getMode() & 07777, (int) e.getLongUserId(), (int) e.getLongGroupId(),
                    e.getUserName(), e.getGroupName(), FileTime.from(e.getModTime().toInstant()));
        }
    }

    private record Link(Meta meta, byte[] target, String name) { }

    private static Meta extractInto(InputStream in, Path staging, boolean rawNames) throws IOException {
        Owners owners = Owners.forThisProcess();
        List<Meta> dirs = new ArrayList<>();
        List<Link> links = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        Set<String> linkNames = new HashSet<>();
        Set<String> implicitDirs = new HashSet<>();
        Set<String> nonDirs = new HashSet<>();
        Meta root = null;
        TarArchiveInputStream tar = new TarArchiveInputStream(in, BUFFER, rawNames ? "ISO-8859-1" : "UTF-8");
        byte[] buffer = new byte[BUFFER];
        TarArchiveEntry entry;
        while ((entry = tar.getNextEntry()) != null) {
            byte[] raw = nameBytes(entry.getName(), rawNames);
            String shown = FileNames.display(raw);
            String name = normalize(raw, shown);
            if (name.isEmpty()) {
                if (!entry.isDirectory()) {
                    throw refused(shown, "it names the restore target itself but is not a directory");
                }
                root = Meta.of(staging, entry);
                continue;
            }
            if (!seen.add(name) || implicitDirs.contains(name) && !entry.isDirectory()) {
                throw refused(shown, "the archive holds this name twice (or as a folder and as something else)");
            }
            for (int slash = name.indexOf('/'); slash >= 0; slash = name.indexOf('/', slash + 1)) {
                String ancestor = name.substring(0, slash);
                if (linkNames.contains(ancestor)) {
                    throw refused(shown, "it would be written through the symlink "
                            + FileNames.display(FileNames.fromLatin1(ancestor)));
                }
                if (nonDirs.contains(ancestor)) {
                    throw refused(shown, "it would be written below "
                            + FileNames.display(FileNames.fromLatin1(ancestor)) + ", which is not a folder");
                }
                implicitDirs.add(ancestor);
            }
            if (entry.isSymbolicLink() || !entry.isDirectory()) {
                nonDirs.add(name);
            }
            Path dest = FileNames.resolve(staging, FileNames.fromLatin1(name));
            if (entry.isSymbolicLink()) {
                linkNames.add(name);
                byte[] target = nameBytes(entry.getLinkName(), rawNames);
                if (target.length == 0 || FileNames.latin1(target).indexOf('\0') >= 0) {
                    throw refused(shown, "its symlink target is empty or holds a NUL byte");
                }
                links.add(new Link(Meta.of(dest, entry), target, shown));
                continue;
            }
            Files.createDirectories(dest.getParent());
            if (entry.isDirectory()) {
                Files.createDirectories(dest);
                dirs.add(Meta.of(dest, entry));
            } else if (isRegularFile(entry)) {
                try (OutputStream out = Files.newOutputStream(dest, StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
                    int n;
                    while ((n = tar.read(buffer)) > 0) {
                        out.write(buffer, 0, n);
                    }
                }
                apply(Meta.of(dest, entry), owners);
            } else if (entry.isFIFO()) {
                Meta meta = Meta.of(dest, entry);
                createFifo(staging, meta);
                owners.apply(meta);
                Files.setAttribute(dest, "unix:mode", meta.mode());
            } else {
                // hard links, devices, sparse files, volume headers: never written by this tool
                throw refused(shown, "it is of a type this tool never writes (hard links and devices are not restored)");
            }
        }
        // Symlinks after every file and folder, so that nothing is ever written through one.
        for (Link link : links) {
            Path dest = link.meta().path();
            Files.createDirectories(dest.getParent());
            Path targetPath = FileNames.linkTargetPath(link.target());
            if (targetPath != null) {
                Files.createSymbolicLink(dest, targetPath);
            } else {
                createSymlinkWithLn(staging, dest, link);
            }
            owners.applyToLink(link.meta());
        }
        // Folder modes last (deepest first) so read-only folders do not block their own content.
        for (int i = dirs.size() - 1; i >= 0; i--) {
            apply(dirs.get(i), owners);
        }
        return root; // applied by moveIntoPlace, once the staging folder's content is in place
    }

    /** Plain file content ({@code isFile()} is also true of FIFOs, hard links and sparse files). */
    private static boolean isRegularFile(TarArchiveEntry entry) {
        byte flag = entry.getLinkFlag();
        return (flag == TarConstants.LF_NORMAL || flag == TarConstants.LF_OLDNORM
                || flag == TarConstants.LF_CONTIG) && !entry.isSparse();
    }

    private static byte[] nameBytes(String name, boolean rawNames) {
        boolean unicode = !rawNames || name.chars().anyMatch(c -> c > 0xff); // a PAX record of another tar
        return unicode ? name.getBytes(StandardCharsets.UTF_8) : FileNames.fromLatin1(name);
    }

    /** The entry name without empty and {@code .} segments, one char per byte; "" for the root. */
    private static String normalize(byte[] raw, String shown) throws PolicyException {
        String name = FileNames.latin1(raw);
        if (name.startsWith("/")) {
            throw refused(shown, "it is an absolute path");
        }
        if (name.indexOf('\0') >= 0) {
            throw refused(shown, "its name holds a NUL byte");
        }
        List<String> parts = new ArrayList<>();
        for (String segment : name.split("/")) {
            if (segment.equals("..")) {
                throw refused(shown, "it climbs out of the restore target with '..'");
            }
            if (!segment.isEmpty() && !segment.equals(".")) {
                parts.add(segment);
            }
        }
        return String.join("/", parts);
    }

    private static PolicyException refused(String entry, String why) {
        return new PolicyException("refused by policy: tar entry '" + entry + "': " + why
                + "; nothing was restored (the archive is intact but not one this tool would write)");
    }

    private static void apply(Meta m, Owners owners) throws IOException {
        owners.apply(m);
        // chmod after chown: chown clears the set-id bits. The path holds no symlink (checked above).
        Files.setAttribute(m.path(), "unix:mode", m.mode());
        Files.setLastModifiedTime(m.path(), m.mtime());
    }

    private static void createFifo(Path staging, Meta fifo) throws IOException {
        // The JDK cannot make a FIFO, and setting a FIFO's time through it blocks (it opens the
        // FIFO for reading): mkfifo(1) and touch(1) do both under an ASCII name (their arguments
        // are text), then a rename puts the FIFO under its exact name.
        Path temp = staging.resolve(".fifo-" + HexFormat.of().formatHex(randomBytes()));
        run(List.of("mkfifo", "--", temp.toString()), "create the FIFO " + fifo.path());
        java.time.Instant t = fifo.mtime().toInstant();
        run(List.of("touch", "-m", "-h", "-d", "@" + t.getEpochSecond() + "." + String.format("%09d", t.getNano()),
                "--", temp.toString()), "set the time of the FIFO " + fifo.path());
        Files.move(temp, fifo.path(), StandardCopyOption.ATOMIC_MOVE);
    }

    private static void createSymlinkWithLn(Path staging, Path dest, Link link) throws IOException {
        // Targets with an empty segment or a trailing slash, which no Java Path can hold: ln(1)
        // makes the link under an ASCII name, its target given as printf octal escapes (any
        // bytes, UTF-8 or not: process arguments are text), then a rename gives its exact name.
        StringBuilder format = new StringBuilder();
        for (byte b : link.target()) {
            format.append(String.format("\\%03o", b & 0xff));
        }
        Path temp = staging.resolve(".link-" + HexFormat.of().formatHex(randomBytes()));
        run(List.of("sh", "-c", "t=$(printf \"$1\"; printf x); ln -s -- \"${t%x}\" \"$2\"", "sh",
                format.toString(), temp.toString()), "create the symlink " + dest);
        Files.move(temp, dest, StandardCopyOption.ATOMIC_MOVE);
    }

    private static byte[] randomBytes() {
        byte[] b = new byte[8];
        new SecureRandom().nextBytes(b);
        return b;
    }

    private static void run(List<String> command, String what) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IOException("could not " + what + ": " + command.get(0) + " failed: " + output);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while trying to " + what);
        }
    }

    /** Sets owners as GNU tar does when run by root: by name when it exists here, else by id. */
    private static final class Owners {
        private final boolean root;
        private final UserPrincipalLookupService lookup;
        private final Map<String, Optional<UserPrincipal>> users = new HashMap<>();
        private final Map<String, Optional<GroupPrincipal>> groups = new HashMap<>();

        private Owners(boolean root) {
            this.root = root;
            this.lookup = java.nio.file.FileSystems.getDefault().getUserPrincipalLookupService();
        }

        static Owners forThisProcess() {
            boolean root;
            try {
                root = ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
            } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
                root = "root".equals(System.getProperty("user.name"));
            }
            return new Owners(root);
        }

        void apply(Meta m) throws IOException {
            if (!root) {
                return;
            }
            PosixFileAttributeView view = Files.getFileAttributeView(m.path(), PosixFileAttributeView.class, NOFOLLOW);
            Optional<UserPrincipal> user = user(m.user());
            if (user.isPresent()) {
                view.setOwner(user.get());
            } else {
                Files.setAttribute(m.path(), "unix:uid", m.uid(), NOFOLLOW);
            }
            Optional<GroupPrincipal> group = group(m.group());
            if (group.isPresent()) {
                view.setGroup(group.get());
            } else {
                Files.setAttribute(m.path(), "unix:gid", m.gid(), NOFOLLOW);
            }
        }

        void applyToLink(Meta m) throws IOException {
            apply(m);
            try {
                Files.getFileAttributeView(m.path(), BasicFileAttributeView.class, NOFOLLOW).setTimes(m.mtime(), null, null);
            } catch (IOException | UnsupportedOperationException e) {
                LOG.debug("cannot set the time of symlink {}: {}", m.path(), e.toString());
            }
        }

        private Optional<UserPrincipal> user(String name) throws IOException {
            if (name == null || name.isEmpty()) {
                return Optional.empty();
            }
            Optional<UserPrincipal> found = users.get(name);
            if (found == null) {
                try {
                    found = Optional.of(lookup.lookupPrincipalByName(name));
                } catch (UserPrincipalNotFoundException e) {
                    found = Optional.empty();
                }
                users.put(name, found);
            }
            return found;
        }

        private Optional<GroupPrincipal> group(String name) throws IOException {
            if (name == null || name.isEmpty()) {
                return Optional.empty();
            }
            Optional<GroupPrincipal> found = groups.get(name);
            if (found == null) {
                try {
                    found = Optional.of(lookup.lookupPrincipalByGroupName(name));
                } catch (UserPrincipalNotFoundException e) {
                    found = Optional.empty();
                }
                groups.put(name, found);
            }
            return found;
        }
    }

    private static void moveIntoPlace(Path staging, Path target, Meta root) throws IOException {
        boolean absent = !Files.exists(target, NOFOLLOW);
        if (absent || isEmpty(target)) {
            if (root != null) {
                apply(root, Owners.forThisProcess());
            }
            if (!absent) {
                Files.delete(target);
            }
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            return;
        }
        // Overwrite requested: replace entry by entry at the top level.
        try (Stream<Path> children = Files.list(staging)) {
            for (Path child : children.toList()) {
                Path dest = target.resolve(child.getFileName());
                if (Files.exists(dest, NOFOLLOW)) {
                    deleteTree(dest);
                }
                Files.move(child, dest, StandardCopyOption.ATOMIC_MOVE);
            }
        }
        if (root != null) {
            apply(new Meta(target, root.mode(), root.uid(), root.gid(), root.user(), root.group(), root.mtime()),
                    Owners.forThisProcess());
        } else {
            Files.setPosixFilePermissions(target, Files.getPosixFilePermissions(staging));
        }
    }

    // --- staging folders left by killed restores ---

    private static String ownerText() throws IOException {
        return "pid=" + ProcessHandle.current().pid() + "\nstart=" + processStart(ProcessHandle.current().pid())
                .orElse("unknown") + "\nhost=" + hostName() + "\n";
    }

    /**
     * Removes {@code <prefix><hex>} staging folders in {@code parent} whose owner file names a
     * process of this host that no longer runs (or whose pid now belongs to a newer process).
     * Folders without an owner file, of another host, or of a live owner are left alone.
     */
    static void removeStaleStaging(Path parent, String prefix) throws IOException {
        List<Path> owners;
        try (Stream<Path> s = Files.list(parent)) {
            owners = s.filter(p -> {
                String n = p.getFileName().toString();
                return n.startsWith(prefix) && n.endsWith(OWNER_SUFFIX);
            }).toList();
        }
        for (Path ownerFile : owners) {
            Map<String, String> fields = new HashMap<>();
            try {
                for (String line : Files.readAllLines(ownerFile, StandardCharsets.UTF_8)) {
                    int eq = line.indexOf('=');
                    if (eq > 0) {
                        fields.put(line.substring(0, eq), line.substring(eq + 1));
                    }
                }
            } catch (NoSuchFileException gone) {
                continue;
            }
            if (!hostName().equals(fields.get("host")) || !fields.containsKey("pid")) {
                continue;
            }
            long pid;
            try {
                pid = Long.parseLong(fields.get("pid"));
            } catch (NumberFormatException e) {
                continue;
            }
            if (isAlive(pid, fields.get("start"))) {
                continue;
            }
            String name = ownerFile.getFileName().toString();
            Path staging = parent.resolve(name.substring(0, name.length() - OWNER_SUFFIX.length()));
            LOG.warn("removing {} left by restore process {} that no longer runs", staging, pid);
            deleteTree(staging);
            Files.deleteIfExists(ownerFile);
        }
    }

    private static boolean isAlive(long pid, String start) throws IOException {
        Optional<ProcessHandle> handle = ProcessHandle.of(pid);
        if (handle.isEmpty() || !handle.get().isAlive()) {
            return false;
        }
        Optional<String> now = processStart(pid);
        // the same pid with another start time is a newer process: the owner is gone
        return now.isEmpty() || start == null || start.equals("unknown") || now.get().equals(start);
    }

    /** The process's start time in clock ticks after boot (from /proc), exact and stable. */
    private static Optional<String> processStart(long pid) throws IOException {
        Path stat = Path.of("/proc/" + pid + "/stat");
        try {
            String text = Files.readString(stat, StandardCharsets.ISO_8859_1);
            String[] fields = text.substring(text.lastIndexOf(')') + 2).trim().split(" ");
            return Optional.of(fields[19]); // field 22 of stat(5); fields[0] is field 3
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | RuntimeException e) {
            return ProcessHandle.of(pid).flatMap(h -> h.info().startInstant()).map(Object::toString);
        }
    }

    private static volatile String hostName;

    /** The kernel's host name (no DNS lookup, which can stall for seconds), else the JDK's. */
    private static String hostName() {
        String name = hostName;
        if (name == null) {
            try {
                name = Files.readString(Path.of("/proc/sys/kernel/hostname"), StandardCharsets.UTF_8).strip();
            } catch (IOException | RuntimeException e) {
                name = "";
            }
            if (name.isEmpty()) {
                try {
                    name = InetAddress.getLocalHost().getHostName();
                } catch (IOException e) {
                    name = "localhost";
                }
            }
            hostName = name;
        }
        return name;
    }

    private static boolean isEmpty(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, NOFOLLOW)) {
            return;
        }
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null) {
                    throw exc;
                }
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
