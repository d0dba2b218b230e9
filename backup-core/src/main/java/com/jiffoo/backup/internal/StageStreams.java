package com.jiffoo.backup.internal;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.ErrorCode;
import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** Stream wrappers that tag failures with the pipeline step they come from. Not public API. */
public final class StageStreams {
    private StageStreams() {}

    /** Tags I/O failures of {@code out} with {@code stage}. {@link BackupException}s pass unchanged. */
    public static OutputStream output(OutputStream out, String stage, ErrorCode code) {
        return new FilterOutputStream(out) {
            @Override
            public void write(int b) throws IOException {
                try {
                    out.write(b);
                } catch (IOException e) {
                    throw StageFailure.tag(stage, code, e);
                }
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                try {
                    out.write(b, off, len);
                } catch (IOException e) {
                    throw StageFailure.tag(stage, code, e);
                }
            }

            @Override
            public void flush() throws IOException {
                try {
                    out.flush();
                } catch (IOException e) {
                    throw StageFailure.tag(stage, code, e);
                }
            }

            @Override
            public void close() throws IOException {
                try {
                    out.close();
                } catch (IOException e) {
                    throw StageFailure.tag(stage, code, e);
                }
            }
        };
    }

    /** Tags I/O failures of {@code in} with {@code stage}. {@link BackupException}s pass unchanged. */
    public static InputStream input(InputStream in, String stage, ErrorCode code) {
        return new FilterInputStream(in) {
            @Override
            public int read() throws IOException {
                try {
                    return in.read();
                } catch (IOException e) {
                    throw StageFailure.tag(stage, code, e);
                }
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                try {
                    return in.read(b, off, len);
                } catch (IOException e) {
                    throw StageFailure.tag(stage, code, e);
                }
            }

            @Override
            public long skip(long n) throws IOException {
                try {
                    return in.skip(n);
                } catch (IOException e) {
                    throw StageFailure.tag(stage, code, e);
                }
            }
        };
    }

    /** Tags a failure of {@code stage} that happened outside a stream call (e.g. while opening a decoder). */
    public static IOException failure(String stage, ErrorCode code, IOException e) {
        return StageFailure.tag(stage, code, e);
    }

    /** A view of {@code out} whose {@code close()} only flushes, so a sink output can be committed afterwards. */
    public static OutputStream closeShield(OutputStream out) {
        return new FilterOutputStream(out) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                out.flush();
            }
        };
    }

    /** A view of {@code in} whose {@code close()} does nothing. */
    public static InputStream closeShield(InputStream in) {
        return new FilterInputStream(in) {
            @Override
            public void close() {}
        };
    }
}
