package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The warm-up loads the JDBC driver for the commands that connect to a database, and only for them. */
class WarmUpTest {

    @Test
    void databaseCommandsWarmTheDriver() {
        assertThat(WarmUp.classesFor(RestoreCommands.class, "restore", "database", "--latest"))
                .contains("org.postgresql.Driver");
        assertThat(WarmUp.classesFor(BackupCommands.class, "--quiet", "backup", "database"))
                .contains("org.postgresql.Driver");
        assertThat(WarmUp.classesFor(RestoreCommands.class, "restore", "pitr", "--start"))
                .contains("org.postgresql.Driver");
    }

    @Test
    void otherCommandsWarmNothing() {
        assertThat(WarmUp.classesFor(RestoreCommands.class, "restore", "files", "--latest"))
                .isEmpty();
        assertThat(WarmUp.classesFor(ListCommand.class, "list")).isEmpty();
        assertThat(WarmUp.classesFor(KeygenCommand.class, "keygen", "database")).isEmpty();
        assertThat(WarmUp.classesFor(null, "--help")).isEmpty();
    }

    @Test
    void everyClassItNamesExistsInTheDriver() throws ClassNotFoundException {
        // a renamed class would make the warm-up silently useless: it must fail here instead
        for (String name : WarmUp.classesFor(RestoreCommands.class, "restore", "database")) {
            assertThat(Class.forName(name, false, WarmUpTest.class.getClassLoader()))
                    .as(name)
                    .isNotNull();
        }
    }
}
