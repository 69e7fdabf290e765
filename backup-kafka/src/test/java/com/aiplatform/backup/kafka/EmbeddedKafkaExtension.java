package com.aiplatform.backup.kafka;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * JUnit 5 extension giving tests two real Kafka clusters: a {@linkplain #source() source} and a
 * fresh {@linkplain #target() target} to restore into. Each starts on first use and is shared by
 * every test class of the run (the JUnit root store closes them at the end), so a test run pays
 * for at most two broker starts. Tests keep apart by unique topic and group names.
 * {@value #SOURCE_VARIABLE} / {@value #TARGET_VARIABLE} name external clusters instead.
 *
 * <pre>{@code
 * @RegisterExtension
 * static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();
 * ... KAFKA.source().bootstrapServers() ...
 * }</pre>
 */
final class EmbeddedKafkaExtension implements BeforeAllCallback {
    static final String SOURCE_VARIABLE = "BACKUP_TEST_KAFKA_SOURCE";
    static final String TARGET_VARIABLE = "BACKUP_TEST_KAFKA_TARGET";
    private static final ExtensionContext.Namespace NAMESPACE =
            ExtensionContext.Namespace.create(EmbeddedKafkaExtension.class);

    private volatile ExtensionContext root;

    @Override
    public void beforeAll(ExtensionContext context) {
        root = context.getRoot();
    }

    /** The cluster backed up from. */
    EmbeddedKafka source() {
        return cluster("source", SOURCE_VARIABLE);
    }

    /** A second cluster, restored into. */
    EmbeddedKafka target() {
        return cluster("target", TARGET_VARIABLE);
    }

    private EmbeddedKafka cluster(String name, String variable) {
        ExtensionContext r = root;
        if (r == null) {
            throw new IllegalStateException("register EmbeddedKafkaExtension on a static field with @RegisterExtension");
        }
        return r.getStore(NAMESPACE).computeIfAbsent(name, k -> EmbeddedKafka.start(name, variable),
                EmbeddedKafka.class);
    }
}
