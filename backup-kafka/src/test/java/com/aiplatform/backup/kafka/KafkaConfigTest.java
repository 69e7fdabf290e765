package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.Secret;
import com.aiplatform.backup.spi.BackupProvider;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.Settings;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class KafkaConfigTest {
    private final KafkaBackupProvider provider = new KafkaBackupProvider();

    private static Settings settings(Object... keyValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", "kafka");
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put((String) keyValues[i], keyValues[i + 1]);
        }
        return new Settings("sources[events]", m);
    }

    @Test
    void parsesTheIssuesConfigShape() {
        KafkaConfig c = provider.parseConfig("events", settings("bootstrap-servers", "127.0.0.1:9092",
                "topics", List.of("data-ingestion", "audit-.*"), "consumer-groups", "all"));
        assertThat(c.bootstrapServers()).isEqualTo("127.0.0.1:9092");
        assertThat(c.topics()).containsExactly("data-ingestion", "audit-.*");
        assertThat(c.allConsumerGroups()).isTrue();
        assertThat(c.isolation()).isEqualTo(KafkaConfig.Isolation.READ_COMMITTED);
        assertThat(c.connectTimeout()).isEqualTo(Duration.ofSeconds(15));
        TopicSelection s = new TopicSelection(c.topics());
        assertThat(s.select(List.of("data-ingestion", "audit-1", "audit", "__consumer_offsets", "other")))
                .containsExactly("audit-1", "data-ingestion");
        assertThat(s.unknownNames(List.of("audit-1"))).containsExactly("data-ingestion");
    }

    @Test
    void parsesEveryField() {
        KafkaConfig c = provider.parseConfig("events", settings("bootstrap-servers", "a:1,b:2", "topics", "t",
                "consumer-groups", List.of("g1", "g2"), "isolation", "read_uncommitted", "connect-timeout", "5s",
                "request-timeout", "2m", "partition-concurrency", 8,
                "client-properties", Map.of("security.protocol", "SASL_SSL", "sasl.mechanism", "SCRAM-SHA-512"),
                "secret-properties-env", Map.of("sasl.jaas.config", "KAFKA_JAAS")));
        assertThat(c.allConsumerGroups()).isFalse();
        assertThat(c.consumerGroups()).containsExactly("g1", "g2");
        assertThat(c.isolation()).isEqualTo(KafkaConfig.Isolation.READ_UNCOMMITTED);
        assertThat(c.requestTimeout()).isEqualTo(Duration.ofMinutes(2));
        assertThat(c.partitionConcurrency()).isEqualTo(8);
        assertThat(c.clientProperties()).containsEntry("security.protocol", "SASL_SSL");
        assertThat(c.secretProperties().get("sasl.jaas.config").origin()).contains("KAFKA_JAAS");
        assertThat(provider.parseConfig("e", settings("bootstrap-servers", "a:1", "topics", "t",
                "consumer-groups", "none")).consumerGroups()).isEmpty();
    }

    @Test
    void errorsNameTheField() {
        assertThatThrownBy(() -> provider.parseConfig("e", settings("topics", "t")))
                .hasMessageContaining("sources[events].bootstrap-servers");
        assertThatThrownBy(() -> provider.parseConfig("e", settings("bootstrap-servers", "a:1")))
                .hasMessageContaining("sources[events].topics");
        assertThatThrownBy(() -> provider.parseConfig("e", settings("bootstrap-servers", "a:1", "topics", "t",
                "topicz", "x"))).hasMessageContaining("unknown field sources[events].topicz");
        assertThatThrownBy(() -> provider.parseConfig("e", settings("bootstrap-servers", "a:1", "topics", "t",
                "isolation", "serializable"))).hasMessageContaining("sources[events].isolation")
                .hasMessageContaining("read_committed, read_uncommitted");
        assertThatThrownBy(() -> provider.parseConfig("e", settings("bootstrap-servers", "a:1", "topics", "t",
                "consumer-groups", "some"))).hasMessageContaining("sources[events].consumer-groups");
        assertThatThrownBy(() -> provider.parseConfig("e", settings("bootstrap-servers", "nohost", "topics", "t")))
                .hasMessageContaining("sources[events]").hasMessageContaining("'nohost' is not host:port");
        assertThatThrownBy(() -> provider.parseConfig("e", settings("bootstrap-servers", "a:1", "topics", "bad[")))
                .hasMessageContaining("'bad[' is neither a topic name nor a valid regular expression");
        assertThatThrownBy(() -> provider.parseConfig("e", settings("bootstrap-servers", "a:1", "topics", "t",
                "partition-concurrency", 0))).hasMessageContaining("sources[events].partition-concurrency");
        assertThatThrownBy(() -> provider.parseConfig("e", settings("bootstrap-servers", "a:1", "topics", "t",
                "connect-timeout", "soon"))).hasMessageContaining("sources[events].connect-timeout");
    }

    @Test
    void secretsAreNeverPlainPropertiesAndNeverPrinted() {
        assertThatThrownBy(() -> provider.parseConfig("e", settings("bootstrap-servers", "a:1", "topics", "t",
                "client-properties", Map.of("ssl.keystore.password", "hunter2"))))
                .hasMessageContaining("client-properties.ssl.keystore.password holds a secret")
                .hasMessageNotContaining("hunter2");
        assertThatThrownBy(() -> KafkaConfig.builder("e").bootstrapServers("a:1").topic("t")
                .clientProperty("bootstrap.servers", "b:2").build()).hasMessageContaining("use bootstrap-servers");
        KafkaConfig c = KafkaConfig.builder("e").bootstrapServers("a:1").topic("t")
                .secretProperty("sasl.jaas.config", Secret.of("org.apache...ScramLoginModule password=\"hunter2\";"))
                .build();
        assertThat(c.toString()).contains("sasl.jaas.config").doesNotContain("hunter2");
    }

    @Test
    void restoreOptionsAreCheckedWhenTheSessionOpens() {
        KafkaConfig c = KafkaConfig.builder("e").bootstrapServers("a:1").topic("t").build();
        assertThatThrownBy(() -> provider.openRestore(c, new RestoreOptions(Optional.empty(), false,
                Map.of("replication-factor", "zero")))).hasMessageContaining("option replication-factor");
        assertThatThrownBy(() -> provider.openRestore(c, new RestoreOptions(Optional.empty(), false,
                Map.of("rename.t", "bad name")))).hasMessageContaining("option rename.t");
        assertThatThrownBy(() -> provider.openRestore(c, new RestoreOptions(Optional.empty(), false,
                Map.of("allow-non-empty", "yes")))).hasMessageContaining("option allow-non-empty must be true or false");
        assertThatThrownBy(() -> provider.openRestore(c, new RestoreOptions(Optional.empty(), false,
                Map.of("append-chain", "true")))).as("the engine's option, never the provider's")
                .hasMessageContaining("unknown Kafka restore option 'append-chain'");
        assertThatThrownBy(() -> provider.openRestore(c, new RestoreOptions(Optional.empty(), false,
                Map.of("target-bootstrap-servers", "nowhere")))).hasMessageContaining("option target-bootstrap-servers");
    }

    @Test
    void foundByServiceLoader() {
        assertThat(ServiceLoader.load(BackupProvider.class).stream().map(ServiceLoader.Provider::type))
                .contains(KafkaBackupProvider.class);
    }
}
