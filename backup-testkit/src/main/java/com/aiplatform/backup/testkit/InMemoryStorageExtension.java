package com.aiplatform.backup.testkit;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

import java.lang.reflect.Method;

/**
 * JUnit 5 extension that gives every test a fresh {@link InMemoryStorageTarget} and fails
 * the test if it leaves a stream or upload of that target open.
 *
 * <pre>{@code
 * @RegisterExtension
 * final InMemoryStorageExtension storage = new InMemoryStorageExtension();
 *
 * @Test
 * void writesBackup() throws Exception {
 *     engine(storage.target()).backup("src");
 * }
 * }</pre>
 * It also works with {@code @ExtendWith(InMemoryStorageExtension.class)}, in which case
 * the target is injected as a parameter of type {@link InMemoryStorageTarget} into test
 * methods and {@code @BeforeEach} methods (not constructors).
 * After each test the target's {@link InMemoryStorageTarget#assertNoOpenStreams()} runs and
 * its failure fails the test. Register it on an instance field; a test class that runs its
 * methods in parallel should use parameter injection.
 */
public final class InMemoryStorageExtension implements BeforeEachCallback, AfterEachCallback, ParameterResolver {
    private static final ExtensionContext.Namespace NAMESPACE =
            ExtensionContext.Namespace.create(InMemoryStorageExtension.class);
    private static final String KEY = "target";

    private final String targetName;
    private volatile InMemoryStorageTarget current;

    /** Targets named {@code memory}. */
    public InMemoryStorageExtension() {
        this("memory");
    }

    /** Targets with the given name. */
    public InMemoryStorageExtension(String targetName) {
        this.targetName = targetName;
    }

    /** The current test's target. */
    public InMemoryStorageTarget target() {
        InMemoryStorageTarget t = current;
        if (t == null) {
            throw new IllegalStateException("no test is running: target() is available inside a test "
                    + "(register InMemoryStorageExtension with @RegisterExtension)");
        }
        return t;
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        InMemoryStorageTarget target = new InMemoryStorageTarget(targetName);
        context.getStore(NAMESPACE).put(KEY, target);
        current = target;
    }

    @Override
    public void afterEach(ExtensionContext context) {
        InMemoryStorageTarget target = context.getStore(NAMESPACE).remove(KEY, InMemoryStorageTarget.class);
        if (current == target) {
            current = null;
        }
        if (target != null) {
            try {
                target.assertNoOpenStreams();
            } finally {
                target.close();
            }
        }
    }

    @Override
    public boolean supportsParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        return parameterContext.getParameter().getType() == InMemoryStorageTarget.class
                && parameterContext.getDeclaringExecutable() instanceof Method;
    }

    @Override
    public Object resolveParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        return extensionContext.getStore(NAMESPACE).get(KEY, InMemoryStorageTarget.class);
    }
}
