package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ConfigurationException;
import java.io.ByteArrayOutputStream;
import java.sql.Connection;
import java.sql.ResultSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A real PostgreSQL 16 server with only pg_dump 15 installed: the source must say what to install. */
class PostgresSourceNewerServerTest {
    private static ThrowawayCluster pg16;

    @BeforeAll
    static void startServer() throws Exception {
        pg16 = ThrowawayCluster.postgres16();
    }

    @AfterAll
    static void stopServer() throws Exception {
        if (pg16 != null) {
            pg16.close();
        }
    }

    @Test
    void olderPgDumpThanTheServerFailsWithWhatToInstall() throws Exception {
        try (Connection c = pg16.connect();
                ResultSet r = c.createStatement().executeQuery("SELECT current_setting('server_version_num')::int")) {
            r.next();
            assertThat(r.getInt(1) / 10000).isEqualTo(16);
        }
        PostgresSource source = PostgresSource.builder(pg16.connection()).build();
        ByteArrayOutputStream out = new ByteArrayOutputStream();

        assertThatThrownBy(() -> source.writeTo(out))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("pg_dump 15 cannot dump a PostgreSQL 16 server")
                .hasMessageContaining(
                        "install postgresql-client-16 (apt.postgresql.org) or put a pg_dump >= 16 on" + " PATH");
        assertThat(out.size()).isZero();
        assertThat(ChildProcesses.pgDumps()).isEmpty();
    }
}
