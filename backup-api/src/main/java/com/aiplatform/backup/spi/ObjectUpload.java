package com.aiplatform.backup.spi;

import java.io.IOException;
import java.io.OutputStream;

/**
 * An object being written to a {@link StorageTarget}. Bytes go in through the
 * {@code OutputStream} methods; {@link #commit()} makes the object visible atomically and
 * durably; {@link #close()} without a commit aborts it. Closing after commit does nothing.
 */
public abstract class ObjectUpload extends OutputStream {
    /** Makes the object visible, complete and durable. After this, writes fail. */
    public abstract void commit() throws IOException;

    /** Aborts unless committed: nothing becomes visible. Safe to call twice. */
    @Override
    public abstract void close() throws IOException;
}
