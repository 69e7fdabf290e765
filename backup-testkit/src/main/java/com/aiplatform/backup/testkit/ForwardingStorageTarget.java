package com.aiplatform.backup.testkit;

import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.spi.ObjectUpload;
import com.aiplatform.backup.spi.StorageObject;
import com.aiplatform.backup.spi.StorageTarget;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A {@link StorageTarget} that passes every call to another one, for tests that change one
 * behaviour (fail a delete, count open streams, hold a read) and keep the rest: extend it and
 * override only those methods.
 */
public class ForwardingStorageTarget implements StorageTarget {
    private final StorageTarget delegate;

    public ForwardingStorageTarget(StorageTarget delegate) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
    }

    /** The target every call goes to. */
    protected final StorageTarget delegate() {
        return delegate;
    }

    @Override
    public String name() {
        return delegate.name();
    }

    @Override
    public ObjectUpload create(String key) throws IOException {
        return delegate.create(key);
    }

    @Override
    public boolean createIfAbsent(String key, byte[] content) throws IOException {
        return delegate.createIfAbsent(key, content);
    }

    @Override
    public InputStream open(String key) throws IOException {
        return delegate.open(key);
    }

    @Override
    public InputStream open(String key, long offset) throws IOException {
        return delegate.open(key, offset);
    }

    @Override
    public Optional<StorageObject> stat(String key) throws IOException {
        return delegate.stat(key);
    }

    @Override
    public List<StorageObject> list(String prefix) throws IOException {
        return delegate.list(prefix);
    }

    @Override
    public boolean delete(String key) throws IOException {
        return delegate.delete(key);
    }

    @Override
    public List<com.aiplatform.backup.spi.IncompleteUpload> incompleteUploads(String prefix) throws IOException {
        return delegate.incompleteUploads(prefix);
    }

    @Override
    public boolean deleteIncompleteUpload(com.aiplatform.backup.spi.IncompleteUpload upload) throws IOException {
        return delegate.deleteIncompleteUpload(upload);
    }

    @Override
    public List<Problem> check() {
        return delegate.check();
    }

    @Override
    public List<Problem> check(Access access) {
        return delegate.check(access);
    }

    @Override
    public boolean initialize() throws IOException {
        return delegate.initialize();
    }

    @Override
    public void close() throws IOException {
        delegate.close();
    }
}
