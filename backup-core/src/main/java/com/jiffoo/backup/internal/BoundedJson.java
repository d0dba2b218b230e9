package com.jiffoo.backup.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The JSON reader for what comes from a store (manifests, verification records, monitor reports): its limits are far
 * above anything this library writes and far below what would cost memory or stack. Not public API.
 */
public final class BoundedJson {
    /** The largest JSON document read: 1 MiB. A manifest is about 1 KiB. */
    public static final int MAX_DOCUMENT_BYTES = 1 << 20;
    /** Nesting depth (a manifest is 4 deep, plus its facts). */
    static final int MAX_DEPTH = 32;
    /** One string value: 64 KiB (paths are at most 4 KiB). */
    static final int MAX_STRING = 64 * 1024;
    /** One field name: 1 KiB. */
    static final int MAX_NAME = 1024;
    /** One number, in characters. */
    static final int MAX_NUMBER = 64;

    private static final StreamReadConstraints LIMITS = StreamReadConstraints.builder()
            .maxDocumentLength(MAX_DOCUMENT_BYTES)
            .maxNestingDepth(MAX_DEPTH)
            .maxStringLength(MAX_STRING)
            .maxNameLength(MAX_NAME)
            .maxNumberLength(MAX_NUMBER)
            .build();

    private BoundedJson() {}

    /** A new mapper whose parser has these limits; a document beyond them fails with Jackson's message naming the limit. */
    public static ObjectMapper mapper() {
        return new ObjectMapper(
                JsonFactory.builder().streamReadConstraints(LIMITS).build());
    }
}
