/**
 * Code shared by this project's modules that is not public API: it may change in any release. Applications use the
 * types of {@code com.jiffoo.backup} and its other sub-packages.
 */
package com.jiffoo.backup.internal;
