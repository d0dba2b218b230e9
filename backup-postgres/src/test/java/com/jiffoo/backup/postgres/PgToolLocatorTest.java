package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ConfigurationException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PgToolLocatorTest {
    @TempDir
    Path dir;

    @Test
    void systemLocatorFindsTheInstalledPgDumpAndSkipsDebiansWrapper() {
        List<PgTool> found = PgToolLocator.system().candidates("pg_dump");
        assertThat(found).isNotEmpty();
        assertThat(found)
                .noneMatch(t -> t.path().toString().equals("/usr/bin/pg_dump")
                        && t.path().toAbsolutePath().toString().contains("pg_wrapper"));
        PgTool t = PgToolLocator.system().locate("pg_dump", 15);
        assertThat(t.major()).isEqualTo(15);
        assertThat(t.path().toString()).isEqualTo("/usr/lib/postgresql/15/bin/pg_dump");
        assertThat(t.version()).startsWith("15.");
    }

    @Test
    void locatesTheOtherToolsToo() {
        assertThat(PgToolLocator.system().locate("pg_restore", 15).major()).isEqualTo(15);
        assertThat(PgToolLocator.system().locate("psql", 14).major()).isEqualTo(15);
    }

    @Test
    void anEmptyDirectoryMeansNotInstalledAndSaysWhichPackage() {
        assertThatThrownBy(() -> PgToolLocator.inDirectory(dir).locate("pg_dump", 15))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("pg_dump was not found")
                .hasMessageContaining(dir.toString())
                .hasMessageContaining("install the Debian package postgresql-client (or postgresql-client-15");
    }

    @Test
    void onlyOlderVersionsMeansInstallTheServersMajor() {
        assertThatThrownBy(() -> PgToolLocator.system().locate("pg_dump", 16))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("pg_dump 15 cannot dump a PostgreSQL 16 server")
                .hasMessageContaining(
                        "install postgresql-client-16 (apt.postgresql.org) or put a pg_dump >= 16 on" + " PATH");
    }

    @Test
    void picksTheHighestVersionAtLeastTheServers() throws Exception {
        Path old = fakeTool("old", "pg_dump (PostgreSQL) 14.9");
        Path newer = fakeTool("newer", "pg_dump (PostgreSQL) 17.2 (Debian 17.2-1)");
        Path newest = fakeTool("newest", "pg_dump (PostgreSQL) 17.5");
        PgTool t = PgToolLocator.inDirectories(List.of(old, newer, newest)).locate("pg_dump", 15);
        assertThat(t.path()).isEqualTo(newest.resolve("pg_dump"));
        assertThat(t.version()).isEqualTo("17.5");
    }

    @Test
    void ignoresCopiesWhoseVersionCannotBeRead() throws Exception {
        Path broken = fakeTool("broken", "something else");
        assertThatThrownBy(() -> PgToolLocator.inDirectory(broken).locate("pg_dump", 15))
                .hasMessageContaining("was not found");
    }

    @Test
    void parsesOldAndNewVersionLines() {
        Path p = Path.of("/x/pg_dump");
        assertThat(PgToolLocator.parse("pg_dump", p, "pg_dump (PostgreSQL) 9.6.24"))
                .isEqualTo(new PgTool("pg_dump", p, "9.6.24", 9, 24));
        assertThat(PgToolLocator.parse("pg_dump", p, "pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"))
                .isEqualTo(new PgTool("pg_dump", p, "15.14", 15, 14));
        assertThat(PgToolLocator.parse("pg_dump", p, "nope")).isNull();
    }

    private Path fakeTool(String name, String versionLine) throws Exception {
        Path d = Files.createDirectories(dir.resolve(name));
        Path f = d.resolve("pg_dump");
        Files.writeString(f, "#!/bin/sh\necho '" + versionLine + "'\n");
        f.toFile().setExecutable(true);
        return d;
    }
}
