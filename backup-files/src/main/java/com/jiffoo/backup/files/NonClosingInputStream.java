package com.jiffoo.backup.files;

import java.io.FilterInputStream;
import java.io.InputStream;

/** Passes reads through; {@code close()} does nothing, so the caller's stream stays open. */
final class NonClosingInputStream extends FilterInputStream {

    NonClosingInputStream(InputStream in) {
        super(in);
    }

    @Override
    public void close() {
        // the caller owns the stream
    }
}
