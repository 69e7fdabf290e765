package com.aiplatform.backup.cli;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** A child run under {@link ExitWithParent} ends when its parent does, also when the parent is killed. */
class ExitWithParentTest {
    private static final long WAIT_SECONDS = 20;

    /** A child that would run forever on its own. */
    static final class Sleeper {
        public static void main(String[] args) throws InterruptedException {
            Thread.sleep(Long.MAX_VALUE);
        }
    }

    /** A parent that starts a {@link Sleeper} under {@link ExitWithParent}, prints its pid and waits to be killed. */
    static final class Parent {
        public static void main(String[] args) throws Exception {
            Process child = new ProcessBuilder(childCommand()).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            System.out.println(child.pid());
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE);
        }
    }

    static List<String> childCommand() {
        return List.of(java(), "-cp", System.getProperty("java.class.path"), ExitWithParent.class.getName(),
                Sleeper.class.getName());
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    @Test
    void theChildRunsWhileItsInputIsOpenAndEndsWhenItCloses() throws Exception {
        Process child = new ProcessBuilder(childCommand()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            assertThat(child.waitFor(2, TimeUnit.SECONDS)).as("the child ended while its parent was alive").isFalse();
            child.getOutputStream().close();
            assertThat(child.waitFor(WAIT_SECONDS, TimeUnit.SECONDS))
                    .as("the child outlived the end of its standard input").isTrue();
        } finally {
            child.destroyForcibly();
        }
    }

    @Test
    void theChildEndsWhenItsParentIsKilled() throws Exception {
        Process parent = new ProcessBuilder(java(), "-cp", System.getProperty("java.class.path"),
                Parent.class.getName()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        Optional<ProcessHandle> child = Optional.empty();
        try {
            String pid = new BufferedReader(new InputStreamReader(parent.getInputStream(), StandardCharsets.US_ASCII))
                    .readLine();
            assertThat(pid).as("the parent printed its child's pid").isNotNull().matches("\\d+");
            child = ProcessHandle.of(Long.parseLong(pid));
            assertThat(child).as("the child runs").isPresent();
            assertThat(child.get().isAlive()).isTrue();

            parent.destroyForcibly(); // SIGKILL: the parent runs no shutdown hook
            assertThat(parent.waitFor(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();

            ProcessHandle orphan = child.get();
            assertThat(orphan.onExit().completeOnTimeout(null, WAIT_SECONDS, TimeUnit.SECONDS).get())
                    .as("the child outlived its killed parent by %d s", WAIT_SECONDS).isNotNull();
            assertThat(orphan.isAlive()).isFalse();
        } finally {
            parent.destroyForcibly();
            child.ifPresent(ProcessHandle::destroyForcibly);
        }
    }
}
