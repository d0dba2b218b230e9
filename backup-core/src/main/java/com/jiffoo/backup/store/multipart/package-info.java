/**
 * One multipart engine for every S3-like store: {@link com.jiffoo.backup.store.multipart.ObjectStore} is the handful
 * of S3 requests a store module implements with its client, and
 * {@link com.jiffoo.backup.store.multipart.ObjectStoreSink} is the sink built on it once — part sizes, the memory
 * bound, retries, write-once, the lost-answer rule and the error messages.
 */
package com.jiffoo.backup.store.multipart;
