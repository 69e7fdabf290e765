package com.aiplatform.backup.testkit;

import com.aiplatform.backup.api.StorageException;
import com.aiplatform.backup.spi.ObjectUpload;
import com.aiplatform.backup.spi.StorageObjectExistsException;
import com.aiplatform.backup.spi.StorageTarget;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.InputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class InMemoryStorageTargetTest extends StorageTargetContractTest {
    private InMemoryStorageTarget memory;

    @Override
    protected StorageTarget newTarget() {
        memory = new InMemoryStorageTarget("memory");
        return memory;
    }

    @AfterEach
    void everyStreamWasClosed() {
        memory.assertNoOpenStreams();
    }

    // ---- leak detection --------------------------------------------------------------------

    @Test
    void reportsALeakedInputStreamWithWhereItWasOpened() throws Exception {
        put("src/backups/b1/data", new byte[]{1, 2, 3});
        InputStream leaked = openAndForget("src/backups/b1/data");

        assertThatThrownBy(memory::assertNoOpenStreams)
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("1 stream(s)")
                .hasMessageContaining("InputStream of 'src/backups/b1/data'")
                .hasMessageContaining("openAndForget");
        assertThat(memory.openStreams()).containsExactly("InputStream of 'src/backups/b1/data'");

        leaked.close();
        assertThatCode(memory::assertNoOpenStreams).doesNotThrowAnyException();
    }

    private InputStream openAndForget(String key) throws Exception {
        return memory.open(key);
    }

    @Test
    void reportsAnUploadThatWasNeitherCommittedNorClosed() throws Exception {
        ObjectUpload upload = memory.create("a/b");
        upload.write(1);

        assertThatThrownBy(memory::assertNoOpenStreams)
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("ObjectUpload of 'a/b'")
                .hasMessageContaining("reportsAnUploadThatWasNeitherCommittedNorClosed");

        upload.close();
        memory.assertNoOpenStreams();
    }

    @Test
    void aCommittedUploadIsNotALeak() throws Exception {
        ObjectUpload upload = memory.create("a/b");
        upload.write(1);
        upload.commit();
        memory.assertNoOpenStreams();
    }

    @Test
    void anUploadWhoseCommitFailedStaysOpenUntilClosed() throws Exception {
        memory.failCommits(true);
        ObjectUpload upload = memory.create("a/b");
        assertThatThrownBy(upload::commit).isInstanceOf(StorageException.class);
        assertThat(memory.openStreams()).containsExactly("ObjectUpload of 'a/b'");
        upload.close();
        memory.assertNoOpenStreams();
    }

    // ---- fault injection ---------------------------------------------------------------------

    @Test
    void failsWritesAfterTheConfiguredNumberOfBytes() throws Exception {
        memory.failWritesAfter(10L);
        try (ObjectUpload upload = memory.create("f/w")) {
            upload.write(new byte[6]);
            upload.write(new byte[4]);
            assertThatThrownBy(() -> upload.write(1))
                    .isInstanceOf(StorageException.class)
                    .hasMessageContaining("f/w")
                    .hasMessageContaining("10 bytes");
            assertThatThrownBy(upload::commit).isInstanceOf(StorageException.class);
        }
        assertThat(memory.stat("f/w")).isEmpty();
        assertThatThrownBy(() -> memory.createIfAbsent("f/lock", new byte[11])).isInstanceOf(StorageException.class);
        assertThat(memory.createIfAbsent("f/lock", new byte[10])).isTrue();

        memory.failWritesAfter(null);
        put("f/w", new byte[100]);
        assertThat(read("f/w")).hasSize(100);
    }

    @Test
    void failsCommitsWhileAskedTo() throws Exception {
        memory.failCommits(true);
        try (ObjectUpload upload = memory.create("f/c")) {
            upload.write(new byte[5]);
            assertThatThrownBy(upload::commit).isInstanceOf(StorageException.class).hasMessageContaining("f/c");
        }
        assertThatThrownBy(() -> memory.createIfAbsent("f/lock", new byte[1])).isInstanceOf(StorageException.class);
        assertThat(memory.keys()).isEmpty();

        memory.failCommits(false);
        put("f/c", new byte[5]);
        assertThat(memory.keys()).containsExactly("f/c");
    }

    @Test
    void failsReadsAfterTheConfiguredNumberOfBytes() throws Exception {
        put("f/r", randomBytes(100, 1));
        memory.failReadsAfter(40L);
        try (InputStream in = memory.open("f/r")) {
            assertThat(in.readNBytes(40)).hasSize(40);
            assertThatThrownBy(in::read).isInstanceOf(StorageException.class).hasMessageContaining("f/r");
        }
        memory.resetFaults();
        assertThat(read("f/r")).isEqualTo(randomBytes(100, 1));
    }

    @Test
    void aReadFaultDoesNotHitAnObjectShorterThanTheLimit() throws Exception {
        put("f/short", new byte[]{1, 2, 3});
        memory.failReadsAfter(3L);
        assertThat(read("f/short")).containsExactly(1, 2, 3);
    }

    // ---- tampering and inspection ------------------------------------------------------------

    @Test
    void overwriteForTestReplacesStoredBytes() throws Exception {
        put("t/artifact", new byte[]{1, 2, 3});
        memory.overwriteForTest("t/artifact", new byte[]{9});

        assertThat(read("t/artifact")).containsExactly(9);
        assertThat(memory.contentOf("t/artifact")).hasValueSatisfying(b -> assertThat(b).containsExactly(9));
        assertThat(memory.stat("t/artifact")).hasValueSatisfying(o -> assertThat(o.size()).isEqualTo(1));
        assertThatThrownBy(() -> memory.create("t/artifact")).isInstanceOf(StorageObjectExistsException.class);

        memory.overwriteForTest("t/new", new byte[0]);
        assertThat(memory.keys()).containsExactly("t/artifact", "t/new");
        assertThat(memory.contentOf("t/missing")).isEmpty();
    }

    @Test
    void storedBytesAreNotSharedWithTheCaller() throws Exception {
        byte[] content = {1, 2, 3};
        memory.createIfAbsent("c", content);
        content[0] = 42;
        memory.contentOf("c").orElseThrow()[1] = 42;
        assertThat(read("c")).containsExactly(1, 2, 3);
    }

    @Test
    void aClosedTargetRefusesWorkAndSaysSoInItsCheck() throws Exception {
        memory.close();
        assertThatThrownBy(() -> memory.create("a")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("memory");
        assertThatThrownBy(() -> memory.list("")).isInstanceOf(IllegalStateException.class);
        assertThat(memory.check()).extracting(p -> p.code()).containsExactly("closed");
    }
}
