package com.jiffoo.backup.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * README.md and docs/*.md point only at files of this repository that exist: a clone on its own has every page
 * they name (a link to {@code ../shared/DESIGN.md} led out of the repository).
 */
class DocsLinksTest {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    /** A markdown link's target, or a path in backquotes that leaves its directory ({@code `../x.md`}). */
    private static final Pattern REFERENCE = Pattern.compile("\\]\\(([^)\\s#]+)(#[^)]*)?\\)|`(\\.\\./[^`\\s]+)`");

    @Test
    void everyRelativeLinkInTheDocsNamesAFileOfTheRepository() throws Exception {
        List<Path> pages = new ArrayList<>(List.of(ROOT.resolve("README.md")));
        try (Stream<Path> docs = Files.list(ROOT.resolve("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(pages::add);
        }
        List<String> broken = new ArrayList<>();
        for (Path page : pages) {
            Matcher m = REFERENCE.matcher(Files.readString(page));
            while (m.find()) {
                String target = m.group(1) != null ? m.group(1) : m.group(3);
                if (target.matches("^[a-z]+:.*")) {
                    continue; // https:, mailto:
                }
                Path resolved = page.getParent().resolve(target).normalize();
                if (!resolved.startsWith(ROOT) || !Files.exists(resolved)) {
                    broken.add(ROOT.relativize(page) + " -> " + target);
                }
            }
        }
        assertThat(broken).isEmpty();
    }
}
