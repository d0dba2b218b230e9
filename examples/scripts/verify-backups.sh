#!/usr/bin/env bash
# The runbook's daily check: deep-verifies the newest database and files backups (re-reads them, checks the
# SHA-256s, decrypts with ENCRYPTION_KEY_FILE, and has pg_restore / tar read the content), then lists the store.
# Exits non-zero when a backup is missing (8), damaged (5) or cannot be decrypted (6). Cron: 0 5 * * *.
#
#   ENCRYPTION_KEY_FILE S3_BUCKET (or BACKUP_DIR) AWS_REGION, AWS credentials; JIFFOO_BACKUP_JAR LOG_DIR (or LOG_FILE) QUIET JAVA_OPTS
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

"$here/jiffoo-backup" verify --deep --latest "$@"
"$here/jiffoo-backup" list
