package com.aiplatform.backup.testkit;

import com.aiplatform.backup.spi.StorageTarget;
import org.junit.jupiter.api.AfterEach;

/** A forwarding target over the in-memory one keeps the whole storage contract. */
class ForwardingStorageTargetTest extends StorageTargetContractTest {
    private InMemoryStorageTarget memory;

    @Override
    protected StorageTarget newTarget() {
        memory = new InMemoryStorageTarget("memory");
        return new ForwardingStorageTarget(memory);
    }

    @AfterEach
    void everyStreamWasClosed() {
        memory.assertNoOpenStreams();
    }
}
