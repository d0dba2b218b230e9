package com.jiffoo.backup.postgres;

import com.jiffoo.backup.ConfigurationException;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A pg_dump/psql object-name pattern ({@code -n}, {@code -t}): {@code *} and {@code ?} are wildcards, unquoted
 * letters are folded to lower case, double quotes keep case and make {@code * ? .} literal, one unquoted dot splits
 * schema and name. Used to find which tables pg_dump dumps, to count their rows; pg_dump itself gets the pattern
 * verbatim.
 *
 * <p>Not supported (refused when configured): database-qualified patterns ({@code db.schema.table}).
 */
record PgNamePattern(String text, Pattern schema, Pattern name) {

    /** Parses a table pattern: {@code [schema.]name}; schema is null when unqualified. */
    static PgNamePattern table(String text) {
        return parse(text, true);
    }

    /** Parses a schema pattern: a single name. */
    static PgNamePattern schema(String text) {
        return parse(text, false);
    }

    /** True when a relation {@code schema.name} matches this (table) pattern. {@code visible}: in search_path. */
    boolean matchesTable(String schemaName, String relName, boolean visible) {
        if (schema == null) {
            return visible && name.matcher(relName).matches();
        }
        return schema.matcher(schemaName).matches() && name.matcher(relName).matches();
    }

    /** True when a schema name matches this (schema) pattern. */
    boolean matchesSchema(String schemaName) {
        return name.matcher(schemaName).matches();
    }

    private static PgNamePattern parse(String text, boolean qualified) {
        if (text == null || text.isEmpty()) {
            throw new ConfigurationException("An empty schema or table pattern was configured; give a name such as"
                    + " public or public.orders.");
        }
        StringBuilder current = new StringBuilder();
        String first = null;
        boolean quoted = false;
        int dots = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '"') {
                if (quoted && i + 1 < text.length() && text.charAt(i + 1) == '"') {
                    current.append(Pattern.quote("\""));
                    i++;
                } else {
                    quoted = !quoted;
                }
            } else if (quoted) {
                current.append(Pattern.quote(String.valueOf(c)));
            } else if (c == '.') {
                dots++;
                if (!qualified || dots > 1) {
                    throw new ConfigurationException("The pattern '" + text + "' has "
                            + (qualified
                                    ? "more than one dot; use schema.table (database-qualified patterns are not supported)"
                                    : "a dot; a schema pattern is a single name")
                            + ".");
                }
                first = current.toString();
                current.setLength(0);
            } else if (c == '*') {
                current.append(".*");
            } else if (c == '?') {
                current.append('.');
            } else {
                current.append(Pattern.quote(String.valueOf(c).toLowerCase(Locale.ROOT)));
            }
        }
        if (quoted) {
            throw new ConfigurationException("The pattern '" + text + "' has an unclosed double quote.");
        }
        Pattern schema = first == null ? null : Pattern.compile(first.isEmpty() ? ".*" : first, Pattern.DOTALL);
        String n = current.toString();
        return new PgNamePattern(text, schema, Pattern.compile(n.isEmpty() ? ".*" : n, Pattern.DOTALL));
    }
}
