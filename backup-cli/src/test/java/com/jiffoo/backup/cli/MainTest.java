package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.HelpCommand;

/** The command tree a run builds: only the command its arguments name, the whole tree when it cannot tell. */
class MainTest {

    @Test
    void namesAgreeWithTheCommandsAnnotations() {
        List<String> annotated = Main.COMMANDS.stream()
                .filter(c -> c != HelpCommand.class)
                .map(c -> c.getAnnotation(CommandLine.Command.class).name())
                .toList();
        assertThat(Main.NAMES).isEqualTo(annotated);
        assertThat(Main.commandLine().getSubcommands().keySet()).containsAll(Main.NAMES);
    }

    @Test
    void aRunBuildsOnlyTheCommandItNames() {
        assertThat(Main.commandsFor("backup", "database", "--quiet")).containsExactly(BackupCommands.class);
        assertThat(Main.commandsFor("--verbose", "--config", "/etc/jiffoo/backup.properties", "restore", "files"))
                .containsExactly(RestoreCommands.class);
        assertThat(Main.commandsFor("--version")).isEmpty();
    }

    @Test
    void helpAndUnknownArgumentsGetTheWholeTree() {
        assertThat(Main.commandsFor()).isEqualTo(Main.COMMANDS);
        assertThat(Main.commandsFor("--help")).isEqualTo(Main.COMMANDS);
        assertThat(Main.commandsFor("help", "backup")).isEqualTo(Main.COMMANDS);
        assertThat(Main.commandsFor("-h", "list")).isEqualTo(Main.COMMANDS);
        assertThat(Main.commandsFor("--help")).isEqualTo(Main.COMMANDS);
        assertThat(Main.commandsFor("bogus")).isEqualTo(Main.COMMANDS);
        assertThat(Main.commandsFor("--", "list")).isEqualTo(Main.COMMANDS);
    }

    /** A command built alone that fails to parse is reported by the whole tree: the same exit code as before. */
    @Test
    void aUsageErrorOfALoneCommandIsReportedByTheWholeTree() {
        assertThat(Main.run("backup", "databse")).isEqualTo(2);
        assertThat(Main.run("list", "--no-such-option")).isEqualTo(2);
    }
}
