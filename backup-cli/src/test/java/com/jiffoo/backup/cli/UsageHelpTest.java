package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code --help} at 80 columns breaks lines between words only, so that URIs and file names can be copied. */
class UsageHelpTest {

    /**
     * Every word of every description, footer and exit code appears whole in the help of every command (none is cut
     * at a '.' or ':', none is left out).
     */
    @Test
    void everyCommandsHelpBreaksLinesBetweenWordsOnly() {
        List<CommandLine> all = new ArrayList<>();
        collect(Main.commandLine(), all);
        assertThat(all).hasSizeGreaterThan(10);
        for (CommandLine cl : all) {
            cl.setUsageHelpWidth(80);
            String help = cl.getUsageMessage(CommandLine.Help.Ansi.OFF);
            Set<String> shown = new HashSet<>(Arrays.asList(help.split("\\s+")));
            CommandSpec spec = cl.getCommandSpec();
            List<String> texts =
                    new ArrayList<>(Arrays.asList(spec.usageMessage().description()));
            texts.addAll(Arrays.asList(spec.usageMessage().footer()));
            texts.addAll(spec.usageMessage().exitCodeList().values());
            for (ArgSpec arg : spec.args()) {
                if (!arg.hidden()) {
                    texts.addAll(Arrays.asList(arg.description()));
                }
            }
            for (CommandLine sub : cl.getSubcommands().values()) {
                // the list of commands shows the first line of each one's header, else of its description
                CommandLine.Model.UsageMessageSpec usage = sub.getCommandSpec().usageMessage();
                if (!usage.hidden()) {
                    texts.add(usage.header().length > 0 ? usage.header()[0] : usage.description()[0]);
                }
            }
            for (String text : texts) {
                for (String word : text.split("\\s+")) {
                    if (!word.isEmpty() && !word.contains("%") && word.length() <= 46) {
                        assertThat(shown)
                                .as("'%s' in the help of `%s`:%n%s", word, spec.qualifiedName(), help)
                                .contains(word);
                    }
                }
            }
            assertThat(help.lines()).as(spec.qualifiedName()).allMatch(l -> l.length() <= 80);
        }
    }

    @Test
    void wrapCutsAtSpacesAndOnlyCutsAWordLongerThanALine() {
        String text = "the s3://bucket/prefix/database/db_backup_x.sql.gpg key";
        assertThat(lines(text, 20, 18))
                .containsExactly("the", "s3://bucket/prefix", "/database/db_backu", "p_x.sql.gpg key");
        assertThat(lines("one two three", 7, 7)).containsExactly("one two", "three");
        assertThat(lines("short", 80, 78)).containsExactly("short");
    }

    private static List<String> lines(String text, int first, int rest) {
        return UsageHelp.wrap(text, first, rest).stream()
                .map(r -> text.substring(r[0], r[1]))
                .toList();
    }

    private static void collect(CommandLine cl, List<CommandLine> out) {
        out.add(cl);
        cl.getSubcommands().values().forEach(sub -> collect(sub, out));
    }
}
