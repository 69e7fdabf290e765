package com.aiplatform.backup.cli;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** The Kafka demo source without a broker: when it skips (and says why), and how it compares records. */
class KafkaDemoSourceTest {
    @TempDir
    Path tmp;

    @Test
    void thisBuildWroteTheBrokerClassPath() {
        assertThat(new KafkaDemoSource().unavailable()).isEmpty();
    }

    @Test
    void skipsWhenTheClassPathFileIsMissing() {
        Optional<String> reason = new KafkaDemoSource(name -> null).unavailable();
        assertThat(reason).hasValueSatisfying(r -> assertThat(r)
                .contains("kafka-broker.classpath", "Maven build").doesNotContain("\n"));
    }

    @Test
    void skipsWhenTheJarsAreNotOnThisMachine() throws IOException {
        Path present = Files.writeString(tmp.resolve("kafka-clients-4.1.1.jar"), "");
        Path gone = tmp.resolve("elsewhere").resolve("kafka_2.13-4.1.1.jar");
        Files.writeString(tmp.resolve("kafka-broker.classpath"), gone + File.pathSeparator + present,
                StandardCharsets.UTF_8);
        Files.writeString(tmp.resolve("kafka-broker-shared.classpath"), present.toString(), StandardCharsets.UTF_8);
        Optional<String> reason = new KafkaDemoSource(this::file).unavailable();
        assertThat(reason).hasValueSatisfying(r -> assertThat(r)
                .contains("not on this machine", "1 of 3 missing", gone.toString()).doesNotContain("\n"));
    }

    @Test
    void skipsWhenTheClassPathNamesNoBroker() throws IOException {
        Path present = Files.writeString(tmp.resolve("kafka-clients-4.1.1.jar"), "");
        Files.writeString(tmp.resolve("kafka-broker.classpath"), present.toString(), StandardCharsets.UTF_8);
        Files.writeString(tmp.resolve("kafka-broker-shared.classpath"), "", StandardCharsets.UTF_8);
        assertThat(new KafkaDemoSource(this::file).unavailable()).hasValueSatisfying(r -> assertThat(r)
                .contains("no kafka_2.13 jar"));
    }

    @Test
    void recordsCompareByteExactIncludingNullsAndHeaderOrder() {
        ConsumerRecord<byte[], byte[]> r = record(bytes(0, 255), bytes(1), 1000,
                header("tag", "a"), header("tag", "b"), new RecordHeader("replay-of", null));
        assertThat(KafkaDemoSource.recordDifferences(r, record(bytes(0, 255), bytes(1), 1000,
                header("tag", "a"), header("tag", "b"), new RecordHeader("replay-of", null)))).isEmpty();

        assertThat(KafkaDemoSource.recordDifferences(record(null, null, 1), record(new byte[0], null, 1)))
                .containsExactly("key");
        assertThat(KafkaDemoSource.recordDifferences(record(null, null, 1), record(null, new byte[0], 1)))
                .containsExactly("value");
        assertThat(KafkaDemoSource.recordDifferences(r, record(bytes(0, 255), bytes(1), 1000,
                header("tag", "b"), header("tag", "a"), new RecordHeader("replay-of", null))))
                .containsExactly("headers");
        assertThat(KafkaDemoSource.recordDifferences(r, record(bytes(0, 255), bytes(1), 1000,
                header("tag", "a"), header("tag", "b"), new RecordHeader("replay-of", new byte[0]))))
                .containsExactly("headers");
        assertThat(KafkaDemoSource.recordDifferences(r, record(bytes(0, 255), bytes(1), 1000,
                header("tag", "a"), header("tag", "b")))).containsExactly("headers");
        assertThat(KafkaDemoSource.recordDifferences(r, record(bytes(0, 254), bytes(2), 1001,
                header("tag", "a"), header("tag", "b"), new RecordHeader("replay-of", null))))
                .containsExactly("key", "value", "timestamp");
    }

    private URL file(String name) {
        Path file = tmp.resolve(name);
        try {
            return Files.exists(file) ? file.toUri().toURL() : null;
        } catch (MalformedURLException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static ConsumerRecord<byte[], byte[]> record(byte[] key, byte[] value, long timestamp, Header... headers) {
        return new ConsumerRecord<>("t", 0, 0, timestamp, TimestampType.CREATE_TIME, key == null ? -1 : key.length,
                value == null ? -1 : value.length, key, value, new RecordHeaders(headers), Optional.empty());
    }

    private static Header header(String key, String value) {
        return new RecordHeader(key, value.getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }
}
