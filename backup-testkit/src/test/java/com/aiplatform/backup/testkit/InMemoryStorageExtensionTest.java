package com.aiplatform.backup.testkit;

import com.aiplatform.backup.spi.ObjectUpload;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder.request;

/** Runs small sample test classes through the JUnit launcher and checks their outcome. */
class InMemoryStorageExtensionTest {
    /** The samples only run when started from here, never on their own. */
    private static volatile boolean samplesEnabled;
    private static final List<InMemoryStorageTarget> SEEN = new ArrayList<>();

    @BeforeEach
    void enableSamples() {
        samplesEnabled = true;
        SEEN.clear();
    }

    @AfterEach
    void disableSamples() {
        samplesEnabled = false;
    }

    @Test
    void failsATestThatLeaksAStreamAndNamesWhereItWasOpened() {
        TestExecutionSummary summary = run(LeakingSample.class);

        assertThat(summary.getTestsSucceededCount()).isEqualTo(1);
        assertThat(summary.getTestsFailedCount()).isEqualTo(1);
        Throwable failure = summary.getFailures().get(0).getException();
        assertThat(failure)
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("InputStream of 'leak/me'")
                .hasMessageContaining("leaksAStream");
    }

    @Test
    void givesEveryTestAFreshTargetByFieldAndByParameter() {
        TestExecutionSummary summary = run(ParameterSample.class);

        assertThat(summary.getTestsFailedCount()).isZero();
        assertThat(summary.getTestsSucceededCount()).isEqualTo(2);
        assertThat(SEEN).hasSize(2);
        assertThat(SEEN.get(0)).isNotSameAs(SEEN.get(1));
        assertThat(SEEN).allSatisfy(t -> assertThatTargetIsClosed(t));
    }

    private static void assertThatTargetIsClosed(InMemoryStorageTarget target) {
        assertThat(target.check()).extracting(p -> p.code()).containsExactly("closed");
    }

    private static TestExecutionSummary run(Class<?> testClass) {
        LauncherDiscoveryRequest request = request().selectors(selectClass(testClass)).build();
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        LauncherFactory.create().execute(request, listener);
        return listener.getSummary();
    }

    static class LeakingSample {
        @RegisterExtension
        final InMemoryStorageExtension storage = new InMemoryStorageExtension();

        @BeforeEach
        void onlyFromTheOuterTest() {
            Assumptions.assumeTrue(samplesEnabled, "sample run by InMemoryStorageExtensionTest only");
        }

        @Test
        void leaksAStream() throws Exception {
            storage.target().createIfAbsent("leak/me", new byte[]{1});
            InputStream in = storage.target().open("leak/me");
            assertThat(in.read()).isEqualTo(1);
        }

        @Test
        void closesEverything() throws Exception {
            try (ObjectUpload upload = storage.target().create("fine")) {
                upload.write(1);
                upload.commit();
            }
            try (InputStream in = storage.target().open("fine")) {
                assertThat(in.readAllBytes()).containsExactly(1);
            }
        }
    }

    @ExtendWith(InMemoryStorageExtension.class)
    static class ParameterSample {
        @BeforeEach
        void onlyFromTheOuterTest(InMemoryStorageTarget target) {
            Assumptions.assumeTrue(samplesEnabled, "sample run by InMemoryStorageExtensionTest only");
            assertThat(target.keys()).isEmpty();
        }

        @Test
        void first(InMemoryStorageTarget target) throws Exception {
            SEEN.add(target);
            assertThat(target.createIfAbsent("k", new byte[]{1})).isTrue();
        }

        @Test
        void second(InMemoryStorageTarget target) throws Exception {
            SEEN.add(target);
            assertThat(target.createIfAbsent("k", new byte[]{2})).isTrue();
        }
    }
}
