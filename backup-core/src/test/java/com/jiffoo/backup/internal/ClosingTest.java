package com.jiffoo.backup.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link Closing#closeAll}: every resource closed, the first failure thrown with the later ones suppressed. */
class ClosingTest {
    private final List<String> closed = new ArrayList<>();

    private Closeable ok(String name) {
        return () -> closed.add(name);
    }

    private Closeable failing(String name) {
        return () -> {
            closed.add(name);
            throw new IOException(name + " failed");
        };
    }

    @Test
    void closesEveryOneAndThrowsTheFirstFailureWithTheLaterOnesSuppressed() {
        List<Closeable> all = List.of(ok("a"), failing("b"), ok("c"), failing("d"));
        assertThatThrownBy(() -> Closing.closeAll(all, IOException.class, Closeable::close))
                .isInstanceOf(IOException.class)
                .hasMessage("b failed")
                .satisfies(e -> assertThat(e.getSuppressed())
                        .extracting(Throwable::getMessage)
                        .containsExactly("d failed"));
        assertThat(closed).containsExactly("a", "b", "c", "d");
    }

    @Test
    void nothingFailedNothingThrown() throws IOException {
        Closing.closeAll(List.of(ok("a"), ok("b")), IOException.class, Closeable::close);
        assertThat(closed).containsExactly("a", "b");
    }

    @Test
    void keepsUncheckedFailuresWhenAskedTo() {
        List<Closeable> all = List.of(failing("a"), failing("b"));
        assertThatThrownBy(() -> Closing.closeAll(all, RuntimeException.class, c -> {
                    try {
                        c.close();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }))
                .isInstanceOf(UncheckedIOException.class)
                .hasMessageContaining("a failed")
                .satisfies(e -> assertThat(e.getSuppressed()).hasSize(1));
        assertThat(closed).containsExactly("a", "b");
    }

    @Test
    void aFailureOfAnotherKindIsThrownAtOnce() {
        List<Closeable> all = List.of(
                ok("a"),
                () -> {
                    closed.add("b");
                    throw new IllegalStateException("b broke");
                },
                ok("c"));
        assertThatThrownBy(() -> Closing.closeAll(all, IOException.class, Closeable::close))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("b broke");
        assertThat(closed).containsExactly("a", "b");
    }
}
