package com.jiffoo.backup.cli;

import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Help;
import picocli.CommandLine.Help.Ansi.Text;
import picocli.CommandLine.Help.Column;
import picocli.CommandLine.Help.TextTable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code --help} that wraps descriptions at spaces only. picocli wraps at every break the JDK's line
 * {@code BreakIterator} allows, which splits {@code s3://bucket/…} after the colon and {@code x.sql.gpg} after a dot;
 * an operator copies those from the help. A word longer than the column is still cut (nothing else fits).
 *
 * <pre>{@code commandLine.setHelpFactory(UsageHelp::new);}</pre>
 */
final class UsageHelp extends Help {

    UsageHelp(CommandSpec spec, ColorScheme scheme) {
        super(spec, scheme);
    }

    @Override
    public Layout createDefaultLayout(
            List<OptionSpec> options, List<PositionalParamSpec> positionals, ColorScheme scheme) {
        Layout layout = super.createDefaultLayout(options, positionals, scheme);
        return new Layout(
                scheme, new WordTable(scheme, layout.textTable()), layout.optionRenderer(), layout.parameterRenderer());
    }

    /** The command's description, wrapped at spaces (picocli's own {@code join} is not overridable). */
    @Override
    public String description(Object... params) {
        return join(commandSpec().usageMessage().description(), params);
    }

    /** The footer (the settings), wrapped at spaces. */
    @Override
    public String footer(Object... params) {
        return join(commandSpec().usageMessage().footer(), params);
    }

    private String join(String[] values, Object... params) {
        TextTable table = new WordTable(
                colorScheme(),
                TextTable.forColumnWidths(
                        colorScheme(), commandSpec().usageMessage().width()));
        table.indentWrappedLines = 0;
        for (String value : values) {
            for (Text line : colorScheme().text(format(value, params)).splitLines()) {
                table.addRowValues(line);
            }
        }
        return table.toString();
    }

    /** The list of commands: each one's names and the first line of its header, else of its description. */
    @Override
    public String commandList(Map<String, Help> subcommands) {
        if (subcommands.isEmpty()) {
            return "";
        }
        int width = commandSpec().usageMessage().width();
        int names = Math.min(
                subcommands.keySet().stream().mapToInt(String::length).max().orElse(0), width / 2);
        TextTable table = new WordTable(
                colorScheme(),
                TextTable.forColumns(
                        colorScheme(),
                        new Column(names + 2, 2, Column.Overflow.SPAN),
                        new Column(width - (names + 2), 2, Column.Overflow.WRAP)));
        for (Help help : subcommands.values()) {
            CommandLine.Model.UsageMessageSpec usage = help.commandSpec().usageMessage();
            String first = usage.header().length > 0
                    ? usage.header()[0]
                    : usage.description().length > 0 ? usage.description()[0] : "";
            Text[] lines = colorScheme().text(format(first)).splitLines();
            for (int i = 0; i < lines.length; i++) {
                table.addRowValues(
                        i == 0 ? help.commandNamesText(", ") : colorScheme().text(""), lines[i]);
            }
        }
        return table.toString();
    }

    /** {@code value} formatted as picocli formats help text ({@code %n}), or as it is when it is no format. */
    private static String format(String value, Object... params) {
        try {
            return String.format(value, params);
        } catch (java.util.IllegalFormatException e) {
            return value;
        }
    }

    /** A text table whose wrapping columns break lines at spaces. */
    static final class WordTable extends TextTable {
        WordTable(ColorScheme scheme, TextTable like) {
            super(scheme, copy(like.columns()));
            indentWrappedLines = like.indentWrappedLines;
            setAdjustLineBreaksForWideCJKCharacters(like.isAdjustLineBreaksForWideCJKCharacters());
        }

        private static Column[] copy(Column[] columns) {
            Column[] out = new Column[columns.length];
            for (int i = 0; i < columns.length; i++) {
                out[i] = new Column(columns[i].width, columns[i].indent, columns[i].overflow);
            }
            return out;
        }

        @Override
        public Cell putValue(int row, int col, Text value) {
            Column column = columns()[col];
            if (column.overflow != Column.Overflow.WRAP || value == null) {
                return super.putValue(row, col, value);
            }
            int indent = column.indent;
            List<int[]> lines =
                    wrap(value.plainString(), column.width - indent, column.width - indent - indentWrappedLines);
            Cell cell = null;
            try {
                for (int i = 0; i < lines.size(); i++) {
                    if (i > 0) {
                        addEmptyRow();
                        row++;
                        column.indent = indent + indentWrappedLines;
                    }
                    cell = super.putValue(row, col, value.substring(lines.get(i)[0], lines.get(i)[1]));
                }
            } finally {
                column.indent = indent;
            }
            return cell == null ? super.putValue(row, col, value) : cell;
        }
    }

    /**
     * Where {@code text} is cut into lines of at most {@code first} characters, then {@code rest}: at spaces (which
     * are dropped at the cut), a word longer than a line on its own lines.
     *
     * @return each line's start and end in {@code text}
     */
    static List<int[]> wrap(String text, int first, int rest) {
        List<int[]> lines = new java.util.ArrayList<>();
        int start = 0;
        int n = text.length();
        while (start < n) {
            int width = Math.max(1, lines.isEmpty() ? first : rest);
            if (n - start <= width) {
                lines.add(new int[] {start, n});
                break;
            }
            int cut = text.lastIndexOf(' ', start + width);
            int end = cut > start ? cut : start + width; // else one word longer than a line: cut it
            lines.add(new int[] {start, end});
            start = end;
            while (start < n && text.charAt(start) == ' ') {
                start++;
            }
        }
        return lines;
    }

    /** Installs this help on {@code cl} and its subcommands. */
    static CommandLine install(CommandLine cl) {
        cl.setHelpFactory(UsageHelp::new); // picocli sets it on this command only
        cl.getSubcommands().values().forEach(UsageHelp::install);
        return cl;
    }
}
