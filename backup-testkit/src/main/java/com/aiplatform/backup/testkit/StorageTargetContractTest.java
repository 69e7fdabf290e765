package com.aiplatform.backup.testkit;

import com.aiplatform.backup.api.StorageException;
import com.aiplatform.backup.spi.ObjectUpload;
import com.aiplatform.backup.spi.StorageObject;
import com.aiplatform.backup.spi.StorageObjectExistsException;
import com.aiplatform.backup.spi.StorageTarget;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The behaviour every {@link StorageTarget} must have, written once and run by every
 * implementation: extend it, implement {@link #newTarget()}, and add the implementation's
 * own tests beside it.
 *
 * <pre>{@code
 * class S3StorageTargetTest extends StorageTargetContractTest {
 *     @Override
 *     protected StorageTarget newTarget() {
 *         return new S3StorageTarget("remote", freshBucket());
 *     }
 * }
 * }</pre>
 * Covered: round trips of 0 B, 1 B and 1 MiB + 1 B; atomic visibility (nothing visible before
 * commit or after an aborted upload; no writes after commit); immutability
 * ({@link StorageObjectExistsException}); an atomic {@code createIfAbsent} under a race of
 * eight threads; listing by prefix (also a prefix ending inside a key segment), sorted;
 * delete; ranged reads; errors for missing objects and invalid keys; double close; an upload
 * neither committed nor aborted listed by {@code incompleteUploads} and removed by
 * {@code deleteIncompleteUpload} (after which it cannot commit).
 */
public abstract class StorageTargetContractTest {
    /** 1 MiB + 1 byte, so a target that works in 1 MiB parts must handle a partial last part. */
    protected static final int LARGE_OBJECT_SIZE = 1024 * 1024 + 1;

    private StorageTarget target;

    /** A fresh, empty target; it is closed after each test. */
    protected abstract StorageTarget newTarget() throws Exception;

    /** The target under test in the current test. */
    protected final StorageTarget target() {
        return target;
    }

    @BeforeEach
    final void contractSetUp() throws Exception {
        target = newTarget();
        assertThat(target.list("")).as("a new target must be empty").isEmpty();
    }

    @AfterEach
    final void contractTearDown() throws Exception {
        if (target != null) {
            target.close();
        }
    }

    // ---- round trips -----------------------------------------------------------------------

    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(ints = {0, 1, LARGE_OBJECT_SIZE})
    void storesAndReadsBackAnObjectOfAnySize(int size) throws Exception {
        String key = "src/backups/20260101T000000Z-aaaaaa/data.bin";
        byte[] content = randomBytes(size, size);
        Instant before = Instant.now().minusSeconds(5);

        try (ObjectUpload upload = target.create(key)) {
            if (size > 0) {
                upload.write(content[0] & 0xff);
                for (int off = 1; off < size; off += 8191) {
                    upload.write(content, off, Math.min(8191, size - off));
                }
            }
            upload.commit();
        }

        assertThat(read(key)).isEqualTo(content);
        StorageObject stat = target.stat(key).orElseThrow();
        assertThat(stat.key()).isEqualTo(key);
        assertThat(stat.size()).isEqualTo(size);
        assertThat(stat.lastModified()).isBetween(before, Instant.now().plusSeconds(5));
        assertThat(target.list("")).containsExactly(stat);
    }

    @Test
    void readsBackWithSingleByteReads() throws Exception {
        byte[] content = randomBytes(300, 7);
        put("a/b", content);
        try (InputStream in = target.open("a/b")) {
            for (byte expected : content) {
                assertThat(in.read()).isEqualTo(expected & 0xff);
            }
            assertThat(in.read()).isEqualTo(-1);
        }
    }

    // ---- atomic visibility -----------------------------------------------------------------

    @Test
    void anUploadIsInvisibleUntilCommitted() throws Exception {
        String key = "src/backups/20260101T000000Z-aaaaaa/manifest.json";
        byte[] content = randomBytes(10_000, 1);
        try (ObjectUpload upload = target.create(key)) {
            upload.write(content);
            upload.flush();

            assertThat(target.stat(key)).isEmpty();
            assertThat(target.list("")).isEmpty();
            assertThat(target.list("src/backups/")).isEmpty();
            assertThatThrownBy(() -> target.open(key).close()).isInstanceOf(StorageException.class);

            upload.commit();

            assertThat(target.stat(key)).map(StorageObject::size).contains((long) content.length);
            assertThat(target.list("src/")).extracting(StorageObject::key).containsExactly(key);
        }
        assertThat(read(key)).isEqualTo(content);
    }

    @Test
    void closingWithoutCommitLeavesNothingBehind() throws Exception {
        String key = "src/backups/20260101T000000Z-aaaaaa/data";
        try (ObjectUpload upload = target.create(key)) {
            upload.write(randomBytes(50_000, 2));
        }

        assertThat(target.stat(key)).isEmpty();
        assertThat(target.list("")).isEmpty();
        assertThatThrownBy(() -> target.open(key).close()).isInstanceOf(StorageException.class);

        byte[] second = randomBytes(10, 3);
        put(key, second);
        assertThat(read(key)).isEqualTo(second);
    }

    @Test
    void writesAfterCommitFailAndDoNotChangeTheObject() throws Exception {
        byte[] content = randomBytes(100, 4);
        ObjectUpload upload = target.create("k");
        try {
            upload.write(content);
            upload.commit();
            assertThatThrownBy(() -> upload.write(1)).isInstanceOfAny(IOException.class, IllegalStateException.class);
            assertThatThrownBy(() -> upload.write(new byte[10]))
                    .isInstanceOfAny(IOException.class, IllegalStateException.class);
        } finally {
            upload.close();
        }
        assertThat(read("k")).isEqualTo(content);
        assertThat(target.stat("k")).map(StorageObject::size).contains(100L);
    }

    @Test
    void closingAnUploadTwiceOrAfterCommitIsSafe() throws Exception {
        ObjectUpload committed = target.create("a/committed");
        committed.write(7);
        committed.commit();
        committed.commit();
        committed.close();
        committed.close();
        assertThat(read("a/committed")).containsExactly(7);

        ObjectUpload aborted = target.create("a/aborted");
        aborted.write(8);
        aborted.close();
        aborted.close();
        assertThat(target.list("a/")).extracting(StorageObject::key).containsExactly("a/committed");
    }

    // ---- immutability ----------------------------------------------------------------------

    @Test
    void anUploadNeitherCommittedNorAbortedIsListedAsIncompleteAndCanBeRemoved() throws Exception {
        put("src/backups/b1/done", new byte[] {1});
        ObjectUpload pending = target.create("src/backups/b2/tree.tar");
        byte[] data = new byte[200_000];
        new Random(7).nextBytes(data);
        pending.write(data);
        pending.flush();
        try {
            List<com.aiplatform.backup.spi.IncompleteUpload> found = target.incompleteUploads("src/");
            assertThat(found).as("the uncommitted upload is the only incomplete one").singleElement()
                    .satisfies(u -> {
                        assertThat(u.key()).isEqualTo("src/backups/b2/tree.tar");
                        assertThat(u.size()).isBetween(0L, (long) data.length);
                        assertThat(u.lastModified()).isAfter(Instant.now().minusSeconds(600));
                    });
            assertThat(target.incompleteUploads("other/")).isEmpty();
            assertThat(target.list("src/")).extracting(StorageObject::key).containsExactly("src/backups/b1/done");
            assertThat(target.deleteIncompleteUpload(found.get(0))).isTrue();
            assertThat(target.incompleteUploads("src/")).isEmpty();
            assertThat(target.deleteIncompleteUpload(found.get(0))).isFalse();
            assertThatThrownBy(pending::commit).as("a removed upload cannot commit").isInstanceOf(IOException.class);
            assertThat(target.stat("src/backups/b2/tree.tar")).isEmpty();
        } finally {
            pending.close();
        }
        assertThat(target.incompleteUploads("")).isEmpty();
    }

    @Test
    void createOnAnExistingKeyFailsAndKeepsTheOriginal() throws Exception {
        byte[] original = randomBytes(1000, 5);
        put("src/locks/backup", original);

        assertThatThrownBy(() -> target.create("src/locks/backup").close())
                .isInstanceOf(StorageObjectExistsException.class)
                .hasMessageContaining("src/locks/backup");

        assertThat(read("src/locks/backup")).isEqualTo(original);
    }

    @Test
    void ofTwoUploadsOfTheSameKeyOnlyTheFirstCommitWins() throws Exception {
        byte[] first = randomBytes(2000, 6);
        byte[] second = randomBytes(3000, 7);
        try (ObjectUpload a = target.create("same/key"); ObjectUpload b = target.create("same/key")) {
            a.write(first);
            b.write(second);
            a.commit();
            assertThatThrownBy(b::commit).isInstanceOf(StorageObjectExistsException.class);
        }
        assertThat(read("same/key")).isEqualTo(first);
        assertThat(target.list("same/")).hasSize(1);
    }

    @Test
    void createIfAbsentStoresOnlyWhenTheKeyIsFree() throws Exception {
        assertThat(target.createIfAbsent("src/locks/lock", "owner-1".getBytes())).isTrue();
        assertThat(target.createIfAbsent("src/locks/lock", "owner-2".getBytes())).isFalse();
        assertThat(read("src/locks/lock")).isEqualTo("owner-1".getBytes());

        assertThat(target.createIfAbsent("src/locks/empty", new byte[0])).isTrue();
        assertThat(read("src/locks/empty")).isEmpty();
    }

    @Test
    void createIfAbsentDoesNotReplaceAnObjectWrittenByCreate() throws Exception {
        byte[] original = randomBytes(500, 8);
        put("x/y", original);
        assertThat(target.createIfAbsent("x/y", new byte[]{1, 2, 3})).isFalse();
        assertThat(read("x/y")).isEqualTo(original);
    }

    @Test
    @Timeout(120)
    void ofEightRacingCreateIfAbsentCallsExactlyOneWinsAndItsContentIsComplete() throws Exception {
        int threads = 8;
        String key = "src/locks/backup.lock";
        byte[][] contents = new byte[threads][];
        for (int i = 0; i < threads; i++) {
            contents[i] = randomBytes(256 * 1024, 100 + i);
        }
        CyclicBarrier start = new CyclicBarrier(threads + 1);
        AtomicBoolean racing = new AtomicBoolean(true);
        Queue<String> readerProblems = new ConcurrentLinkedQueue<>();
        ExecutorService pool = Executors.newFixedThreadPool(threads + 1);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                byte[] mine = contents[i];
                results.add(pool.submit(() -> {
                    start.await(30, TimeUnit.SECONDS);
                    return target.createIfAbsent(key, mine);
                }));
            }
            // a reader that checks nobody ever sees a partial object while the race runs
            Future<Integer> reader = pool.submit(() -> {
                start.await(30, TimeUnit.SECONDS);
                int seen = 0;
                do {
                    if (target.stat(key).isPresent()) {
                        byte[] got = read(key);
                        if (Arrays.stream(contents).noneMatch(c -> Arrays.equals(c, got))) {
                            readerProblems.add("read " + got.length + " bytes that are no writer's complete content");
                        }
                        seen++;
                    }
                } while (racing.get());
                return seen;
            });

            int winner = -1;
            int wins = 0;
            for (int i = 0; i < threads; i++) {
                if (results.get(i).get(60, TimeUnit.SECONDS)) {
                    wins++;
                    winner = i;
                }
            }
            racing.set(false);
            reader.get(60, TimeUnit.SECONDS); // rethrows anything the reader failed with

            assertThat(wins).as("callers that got true").isEqualTo(1);
            assertThat(read(key)).isEqualTo(contents[winner]);
            assertThat(readerProblems).isEmpty();
            assertThat(target.list("src/locks/")).extracting(StorageObject::key).containsExactly(key);
        } finally {
            racing.set(false);
            pool.shutdownNow();
            assertThat(pool.awaitTermination(60, TimeUnit.SECONDS)).isTrue();
        }
    }

    @Test
    @Timeout(120)
    void concurrentWritersOfDifferentKeysInTheSameFoldersAllSucceed() throws Exception {
        int threads = 8;
        int perThread = 20;
        CyclicBarrier start = new CyclicBarrier(threads);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Void>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                futures.add(pool.submit((Callable<Void>) () -> {
                    start.await(30, TimeUnit.SECONDS);
                    for (int i = 0; i < perThread; i++) {
                        put("c/shared/deep/t" + thread + "-" + i, new byte[]{(byte) thread, (byte) i});
                    }
                    return null;
                }));
            }
            for (Future<Void> f : futures) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        List<StorageObject> listed = target.list("c/shared/deep/");
        assertThat(listed).hasSize(threads * perThread);
        assertThat(read("c/shared/deep/t3-7")).containsExactly(3, 7);
    }

    // ---- listing ---------------------------------------------------------------------------

    @Test
    void listsByPrefixSortedByKeyIncludingPrefixesEndingInsideASegment() throws Exception {
        List<String> keys = List.of(
                "src/backups/20270101T000000Z-cccccc/manifest.json",
                "src/backups/20260101T000000Z-aaaaaa/manifest.json",
                "src/backups/20260215T000000Z-bbbbbb/manifest.json",
                "src/backups/20260101T000000Z-aaaaaa/data/part-1",
                "src/wal/000000010000000000000001",
                "src-other/backups/20260101T000000Z-dddddd/manifest.json",
                "p/a/x",
                "p/a-b",
                "p/a0",
                "top");
        for (int i = 0; i < keys.size(); i++) {
            put(keys.get(i), new byte[i + 1]);
        }

        assertThat(keysOf(target.list("src/backups/2026"))).containsExactly(
                "src/backups/20260101T000000Z-aaaaaa/data/part-1",
                "src/backups/20260101T000000Z-aaaaaa/manifest.json",
                "src/backups/20260215T000000Z-bbbbbb/manifest.json");
        assertThat(keysOf(target.list("src/"))).containsExactly(
                "src/backups/20260101T000000Z-aaaaaa/data/part-1",
                "src/backups/20260101T000000Z-aaaaaa/manifest.json",
                "src/backups/20260215T000000Z-bbbbbb/manifest.json",
                "src/backups/20270101T000000Z-cccccc/manifest.json",
                "src/wal/000000010000000000000001");
        assertThat(keysOf(target.list("src"))).hasSize(6).contains("src-other/backups/20260101T000000Z-dddddd/manifest.json");
        assertThat(keysOf(target.list("src/backups/20260101T000000Z-aaaaaa/"))).containsExactly(
                "src/backups/20260101T000000Z-aaaaaa/data/part-1",
                "src/backups/20260101T000000Z-aaaaaa/manifest.json");
        // sorted by the key as a string, not by a depth-first walk of folders
        assertThat(keysOf(target.list("p/"))).containsExactly("p/a-b", "p/a/x", "p/a0");
        assertThat(keysOf(target.list("p/a"))).containsExactly("p/a-b", "p/a/x", "p/a0");
        assertThat(keysOf(target.list("p/a/"))).containsExactly("p/a/x");
        assertThat(keysOf(target.list(""))).containsExactlyElementsOf(keys.stream().sorted().toList());
        assertThat(keysOf(target.list("src/wal/000000010000000000000001")))
                .containsExactly("src/wal/000000010000000000000001");
        assertThat(target.list("nothing")).isEmpty();
        assertThat(target.list("src/backups/2028")).isEmpty();
        assertThat(target.list("to")).singleElement().satisfies(o -> {
            assertThat(o.key()).isEqualTo("top");
            assertThat(o.size()).isEqualTo(keys.size());
        });
        assertThat(target.list("src/wal/")).singleElement()
                .extracting(StorageObject::size).isEqualTo(5L);
    }

    // ---- delete ----------------------------------------------------------------------------

    @Test
    void deleteRemovesTheObjectAndReportsWhetherItExisted() throws Exception {
        put("d/one", new byte[]{1});
        put("d/two", new byte[]{2});

        assertThat(target.delete("d/one")).isTrue();
        assertThat(target.delete("d/one")).isFalse();
        assertThat(target.delete("d/never")).isFalse();

        assertThat(target.stat("d/one")).isEmpty();
        assertThat(keysOf(target.list(""))).containsExactly("d/two");
        assertThatThrownBy(() -> target.open("d/one").close()).isInstanceOf(StorageException.class);

        put("d/one", new byte[]{3});
        assertThat(read("d/one")).containsExactly(3);
    }

    @Test
    void deletingTheLastObjectUnderAPrefixLeavesAnEmptyListing() throws Exception {
        put("e/f/g/h", new byte[]{1});
        assertThat(target.delete("e/f/g/h")).isTrue();
        assertThat(target.list("")).isEmpty();
        put("e/f/g/h", new byte[]{2});
        assertThat(read("e/f/g/h")).containsExactly(2);
    }

    // ---- reads -----------------------------------------------------------------------------

    @Test
    void opensFromAnOffset() throws Exception {
        byte[] content = randomBytes(100_000, 9);
        put("r/obj", content);

        assertThat(read("r/obj", 0)).isEqualTo(content);
        assertThat(read("r/obj", 12_345)).isEqualTo(Arrays.copyOfRange(content, 12_345, content.length));
        assertThat(read("r/obj", content.length - 1)).containsExactly(content[content.length - 1]);
        assertThat(read("r/obj", content.length)).isEmpty();
        assertThatThrownBy(() -> target.open("r/obj", -1).close()).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void openingAMissingObjectFailsNamingTheKey() throws Exception {
        put("src/backups/other", new byte[]{1});
        assertThatThrownBy(() -> target.open("src/backups/missing").close())
                .isInstanceOf(StorageException.class)
                .hasMessageContaining("src/backups/missing");
        assertThatThrownBy(() -> target.open("src/backups/missing", 10).close())
                .isInstanceOf(StorageException.class)
                .hasMessageContaining("src/backups/missing");
        assertThatThrownBy(() -> target.open("src/backups").close())
                .as("a prefix of existing keys is not an object")
                .isInstanceOf(StorageException.class)
                .hasMessageContaining("src/backups");
        assertThat(target.stat("src/backups/missing")).isEmpty();
        assertThat(target.stat("src/backups")).isEmpty();
    }

    @Test
    void closingAReadStreamTwiceIsSafe() throws Exception {
        put("s", new byte[]{1, 2});
        InputStream in = target.open("s");
        assertThat(in.read()).isEqualTo(1);
        in.close();
        in.close();
    }

    // ---- keys and lifecycle ----------------------------------------------------------------

    @ParameterizedTest(name = "key \"{0}\"")
    @ValueSource(strings = {"../x", "/abs", "a//b", "", "a/./b", "a/../b", "a/", "a\\b", "..", "."})
    void rejectsInvalidKeys(String key) throws Exception {
        assertThatThrownBy(() -> target.create(key).close()).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> target.createIfAbsent(key, new byte[1])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> target.open(key).close()).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> target.open(key, 0).close()).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> target.stat(key)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> target.delete(key)).isInstanceOf(IllegalArgumentException.class);
        assertThat(target.list("")).isEmpty();
    }

    @Test
    void hasANameAndPassesItsCheckWhenUsable() {
        assertThat(target.name()).isNotBlank();
        assertThat(target.check()).isEmpty();
        assertThat(target.check(StorageTarget.Access.READ)).isEmpty();
        assertThat(target.check(StorageTarget.Access.WRITE)).isEmpty();
    }

    @Test
    void initializingAnUsableTargetChangesNothing() throws Exception {
        put("a/b", new byte[]{1, 2});
        assertThat(target.initialize()).isFalse();
        assertThat(target.list("")).extracting(StorageObject::key).containsExactly("a/b");
        assertThat(target.check(StorageTarget.Access.WRITE)).isEmpty();
    }

    @Test
    void closingTwiceIsSafe() throws Exception {
        put("a", new byte[]{1});
        target.close();
        assertThatCode(target::close).doesNotThrowAnyException();
    }

    // ---- helpers for subclasses ------------------------------------------------------------

    /** Stores {@code content} under {@code key} with create, write, commit. */
    protected final void put(String key, byte[] content) throws IOException {
        try (ObjectUpload upload = target.create(key)) {
            upload.write(content);
            upload.commit();
        }
    }

    /** Reads a whole object. */
    protected final byte[] read(String key) throws IOException {
        try (InputStream in = target.open(key)) {
            return in.readAllBytes();
        }
    }

    /** Reads an object from {@code offset}. */
    protected final byte[] read(String key, long offset) throws IOException {
        try (InputStream in = target.open(key, offset)) {
            return in.readAllBytes();
        }
    }

    /** Deterministic pseudo-random bytes. */
    protected static byte[] randomBytes(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    /** The keys of listed objects, in order. */
    protected static List<String> keysOf(List<StorageObject> objects) {
        return objects.stream().map(StorageObject::key).toList();
    }
}
