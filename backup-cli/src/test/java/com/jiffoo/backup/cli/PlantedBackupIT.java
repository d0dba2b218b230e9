package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An attacker who can write to the store but holds no key plants a backup the way one would: GNU tar, sha256sum and
 * a manifest copied from a real one and edited as text. The launcher refuses it everywhere (issue 11), and backups
 * written before signing are refused unless allowed explicitly.
 */
class PlantedBackupIT {
    @TempDir
    Path dir;

    private Path store;
    private Map<String, String> env;
    private JsonNode real;

    @BeforeEach
    void backUp() throws Exception {
        Path uploads = Files.createDirectories(dir.resolve("uploads"));
        Files.writeString(uploads.resolve("invoice.pdf"), "the real invoice".repeat(100));
        store = Files.createDirectories(dir.resolve("store"));
        Path key = dir.resolve("backup.key");
        assertThat(Jar.run(dir, Map.of(), "keygen", key.toString()).exitCode()).isZero();
        env = new HashMap<>(Map.of(
                "SOURCE_DIR",
                uploads.toString(),
                "BACKUP_DIR",
                store.toString(),
                "ENCRYPTION_KEY_FILE",
                key.toString()));
        Jar.Run b = Jar.run(dir, env, "backup", "files", "--json");
        assertThat(b.exitCode()).as(b.toString()).isZero();
        real = b.json();
    }

    /** What an attacker does with tar, sha256sum and a text editor; returns the planted object's key. */
    private String plant() throws Exception {
        Path evil = Files.createDirectories(dir.resolve("evil"));
        Files.writeString(evil.resolve("index.php"), "<?php system($_GET['c']); ?>");
        String id = "files_backup_20991231_235959";
        String key = "files/" + id + ".tar.gz";
        Path data = store.resolve(key);
        assertThat(Jar.exec(dir, Map.of(), List.of("tar", "czf", data.toString(), "-C", evil.toString(), "."))
                        .exitCode())
                .isZero();
        String sum = Jar.exec(store.resolve("files"), Map.of(), List.of("sha256sum", id + ".tar.gz"))
                .stdout();
        Files.writeString(store.resolve(key + ".sha256"), sum);
        String realKey = real.get("key").asText();
        String hex = sum.substring(0, 64);
        String manifest = Files.readString(store.resolve(realKey + ".manifest.json"))
                .replace(realKey, key)
                .replace(real.get("id").asText(), id)
                .replace(
                        real.get("completedAt").asText(),
                        java.time.Instant.parse(real.get("completedAt").asText())
                                .plusSeconds(3600)
                                .toString())
                .replace(real.get("sha256").asText(), hex)
                .replaceAll("\"sha256\" : \"[0-9a-f]{64}\"", "\"sha256\" : \"" + hex + "\"")
                .replaceAll("\"size\" : [0-9]+", "\"size\" : " + Files.size(data))
                .replaceAll("(?s)\"transforms\" : \\[.*?\\],", "\"transforms\" : [ ],")
                .replace("\"encrypted\" : true", "\"encrypted\" : false");
        Files.writeString(store.resolve(key + ".manifest.json"), manifest);
        return key;
    }

    @Test
    void aPlantedPlainTarGzIsRefusedByVerifyListRestoreAndTheMonitor() throws Exception {
        String planted = plant();

        Jar.Run verify = Jar.run(dir, env, "verify", "--deep", "--latest", "--json");
        assertThat(verify.exitCode()).as(verify.toString()).isEqualTo(5);
        assertThat(verify.json().get("message").asText())
                .contains(planted + ".manifest.json")
                .contains("not authenticated")
                .contains(real.get("key").asText());
        Jar.Run list = Jar.run(dir, env, "list", "--check");
        assertThat(list.exitCode()).as(list.toString()).isEqualTo(5);
        assertThat(list.stdout()).contains("REFUSED");
        assertThat(list.stderr())
                .contains(planted + ".manifest.json")
                .contains(real.get("key").asText());

        Path target = dir.resolve("restored");
        Jar.Run latest = Jar.run(dir, env, "restore", "files", "--latest", "--target", target.toString());
        assertThat(latest.exitCode()).as(latest.toString()).isEqualTo(5);
        Jar.Run named = Jar.run(dir, env, "restore", "files", planted, "--target", target.toString());
        assertThat(named.exitCode()).as(named.toString()).isEqualTo(5);
        assertThat(named.stderr()).contains("not authenticated");
        assertThat(target).doesNotExist();
        // allowing unauthenticated backups does not allow a plaintext one where a key is configured
        Jar.Run loose = Jar.run(
                dir, env, "restore", "files", planted, "--target", target.toString(), "--allow-unauthenticated");
        assertThat(loose.exitCode()).as(loose.toString()).isEqualTo(5);
        assertThat(loose.stderr()).contains("not encrypted");
        assertThat(target).doesNotExist();

        Jar.Run monitor = Jar.run(dir, env, "monitor", "--kind", "files", "--no-alert");
        assertThat(monitor.exitCode()).as(monitor.toString()).isEqualTo(10);
        assertThat(monitor.stdout()).contains(planted + ".manifest.json").contains("cannot be trusted");

        // the real backup, named, still restores
        Jar.Run ok = Jar.run(dir, env, "restore", "files", real.get("key").asText(), "--target", target.toString());
        assertThat(ok.exitCode()).as(ok.toString()).isZero();
        assertThat(target.resolve("invoice.pdf")).exists();
        assertThat(target.resolve("index.php")).doesNotExist();
    }

    @Test
    void aBackupWithoutSignatureIsRefusedUnlessAllowedAndThenShownAsUnauthenticated() throws Exception {
        // what a backup written before signing looks like: no .manifest.json.sig
        Files.delete(store.resolve(real.get("key").asText() + ".manifest.json.sig"));
        Path target = dir.resolve("restored");
        Jar.Run refused = Jar.run(dir, env, "restore", "files", "--latest", "--target", target.toString());
        assertThat(refused.exitCode()).as(refused.toString()).isEqualTo(5);
        assertThat(refused.stderr()).contains("no signature").contains("--allow-unauthenticated");
        assertThat(target).doesNotExist();

        Jar.Run list = Jar.run(dir, env, "list", "--allow-unauthenticated");
        assertThat(list.exitCode()).as(list.toString()).isZero();
        assertThat(list.stdout()).contains("(UNAUTHENTICATED)");
        Jar.Run allowed = Jar.run(
                dir, env, "restore", "files", "--latest", "--target", target.toString(), "--allow-unauthenticated");
        assertThat(allowed.exitCode()).as(allowed.toString()).isZero();
        assertThat(target.resolve("invoice.pdf")).exists();
    }

    @Test
    void readingTheStoreWithoutAnyKeyIsRefusedRatherThanTrusted() {
        Map<String, String> noKey = new HashMap<>(env);
        noKey.remove("ENCRYPTION_KEY_FILE");
        Jar.Run list = Jar.run(dir, noKey, "list");
        assertThat(list.exitCode()).as(list.toString()).isEqualTo(2);
        assertThat(list.stderr()).contains("ENCRYPTION_SIGNER_PUBLIC_KEY_FILE").contains("--allow-unauthenticated");
    }
}
