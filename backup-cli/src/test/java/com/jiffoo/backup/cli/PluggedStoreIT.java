package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.jiffoo.backup.testutil.ScriptedSink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A store scheme added by a module on the class path, here this test module's {@link ScriptedStoreProvider}: the
 * real launcher (its jar, unchanged) backs up to {@code scripted:file:/dir}, lists it, and restores by the URI it
 * printed; a scheme no module provides is refused naming the known ones.
 */
class PluggedStoreIT {
    @TempDir
    Path dir;

    @Test
    void theLauncherUsesAStoreSchemeFromTheClassPath() throws Exception {
        Path store = Files.createDirectories(dir.resolve("store"));
        Path source = Files.createDirectories(dir.resolve("uploads"));
        Files.writeString(source.resolve("a.txt"), "plugged in".repeat(100));
        Path key = dir.resolve("backup.key");
        assertThat(run(Map.of(), "keygen", key.toString()).exitCode()).isZero();
        Map<String, String> env =
                new HashMap<>(Map.of("SOURCE_DIR", source.toString(), "ENCRYPTION_KEY_FILE", key.toString()));
        String scripted = "scripted:file:" + store;

        Jar.Run backup = run(env, "backup", "files", "--store", scripted);
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        Jar.Run list = run(env, "list", "--json", "--store", scripted);
        assertThat(list.exitCode()).as(list.toString()).isZero();
        JsonNode row = list.json().get("backups").get(0);
        String uri = row.get("uri").asText();
        assertThat(uri).startsWith(scripted + "/files/files_backup_").endsWith(".tar.gz.gpg");
        assertThat(Files.isRegularFile(store.resolve(row.get("key").asText() + ".manifest.json")))
                .isTrue();

        Path target = dir.resolve("restored");
        Jar.Run restore = run(env, "restore", "files", uri, "--target", target.toString());
        assertThat(restore.exitCode()).as(restore.toString()).isZero();
        assertThat(Files.readString(target.resolve("a.txt"))).isEqualTo("plugged in".repeat(100));

        Jar.Run unknown = run(env, "list", "--store", "nosuch://bucket/prefix");
        assertThat(unknown.exitCode()).as(unknown.toString()).isEqualTo(2);
        assertThat(unknown.stderr()).contains("'nosuch:'", "file", "minio", "s3", "scripted");
    }

    /** The jar with this module's test classes (and so the provider) and the ScriptedSink on the class path. */
    private Jar.Run run(Map<String, String> env, String... args) throws Exception {
        String classPath = String.join(
                java.io.File.pathSeparator,
                Jar.path().toString(),
                Path.of("target/test-classes").toAbsolutePath().toString(),
                Path.of(ScriptedSink.class
                                .getProtectionDomain()
                                .getCodeSource()
                                .getLocation()
                                .toURI())
                        .toString());
        List<String> command =
                new ArrayList<>(List.of(Jar.javaBinary(), "-cp", classPath, "com.jiffoo.backup.cli.Main"));
        command.addAll(List.of(args));
        return Jar.exec(dir, env, command);
    }
}
