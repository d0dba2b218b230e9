package com.jiffoo.backup.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.IntegrityException;
import java.io.IOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Reads and writes {@link BackupManifest} as JSON. Not public API. */
public final class ManifestJson {
    private static final ObjectMapper MAPPER = BoundedJson.mapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final TypeReference<LinkedHashMap<String, Object>> MAP = new TypeReference<>() {};

    private ManifestJson() {}

    /** The manifest as pretty-printed UTF-8 JSON. */
    public static byte[] write(BackupManifest m) {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("formatVersion", m.formatVersion());
        root.put("id", m.id());
        root.put("kind", m.kind());
        root.put("startedAt", m.startedAt().toString());
        root.put("completedAt", m.completedAt().toString());
        ObjectNode source = root.putObject("source");
        source.put("description", m.source());
        source.set("facts", MAPPER.valueToTree(m.sourceFacts()));
        root.set("transforms", MAPPER.valueToTree(m.transforms()));
        root.put("encrypted", m.encrypted());
        ObjectNode object = root.putObject("object");
        object.put("key", m.objectKey());
        object.put("size", m.objectSize());
        object.put("sha256", m.objectSha256());
        ObjectNode plain = root.putObject("plaintext");
        plain.put("size", m.plaintextSize());
        plain.put("sha256", m.plaintextSha256());
        root.put("libraryVersion", m.libraryVersion());
        root.put("host", m.host());
        try {
            return MAPPER.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise manifest of " + m.objectKey(), e);
        }
    }

    /** Parses a manifest, throwing {@link IntegrityException} with the key and what is wrong. */
    public static BackupManifest read(byte[] json, String key) {
        JsonNode root;
        try {
            root = MAPPER.readTree(json);
        } catch (IOException e) {
            throw garbled(
                    key,
                    "it is not valid JSON ("
                            + (e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()) + ")",
                    e);
        }
        if (root == null || !root.isObject()) {
            throw garbled(key, "it is not a JSON object", null);
        }
        try {
            int version = field(root, "formatVersion").asInt(-1);
            if (version < 1 || version > BackupManifest.FORMAT_VERSION) {
                throw garbled(
                        key,
                        "its format version " + field(root, "formatVersion")
                                + " is not one this library reads (1.." + BackupManifest.FORMAT_VERSION
                                + "); use a newer jiffoo-backup",
                        null);
            }
            JsonNode source = root.path("source");
            JsonNode object = field(root, "object");
            JsonNode plain = field(root, "plaintext");
            List<Map<String, Object>> transforms = new ArrayList<>();
            for (JsonNode t : root.path("transforms")) {
                transforms.add(MAPPER.convertValue(t, MAP));
            }
            Map<String, Object> facts = source.has("facts") ? MAPPER.convertValue(source.get("facts"), MAP) : Map.of();
            return BackupManifest.builder()
                    .formatVersion(version)
                    .id(text(root, "id"))
                    .kind(text(root, "kind"))
                    .startedAt(Instant.parse(text(root, "startedAt")))
                    .completedAt(Instant.parse(text(root, "completedAt")))
                    .source(source.path("description").asText(""))
                    .sourceFacts(facts)
                    .transforms(transforms)
                    .object(text(object, "key"), field(object, "size").asLong(-1), text(object, "sha256"))
                    .plaintext(field(plain, "size").asLong(-1), text(plain, "sha256"))
                    .libraryVersion(root.path("libraryVersion").asText(null))
                    .host(root.path("host").asText(null))
                    .build();
        } catch (IntegrityException e) {
            throw e;
        } catch (DateTimeParseException | IllegalArgumentException e) {
            throw garbled(key, e.getMessage(), e);
        }
    }

    private static JsonNode field(JsonNode node, String name) {
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) {
            throw new IllegalArgumentException("field '" + name + "' is missing");
        }
        return v;
    }

    private static String text(JsonNode node, String name) {
        return field(node, name).asText();
    }

    private static IntegrityException garbled(String key, String why, Throwable cause) {
        return new IntegrityException(
                "The manifest " + key + " cannot be read: " + why
                        + ". Without a valid manifest the backup cannot be trusted; restore another backup, or recover"
                        + " this one by hand with gpg and sha256sum (see docs/runbook-files.md).",
                key,
                null,
                cause);
    }
}
