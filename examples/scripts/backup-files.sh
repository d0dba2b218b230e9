#!/usr/bin/env bash
# The runbook's file backup: a tar of SOURCE_DIR (the uploads), encrypted with ENCRYPTION_KEY_FILE, streamed to
# S3_BUCKET (or BACKUP_DIR) as files/files_backup_YYYYMMDD_HHMMSS.tar.gz.gpg, then backups older than
# RETENTION_DAYS (30) are pruned. Cron: 0 3 * * *.
#
#   SOURCE_DIR ENCRYPTION_KEY_FILE S3_BUCKET (or BACKUP_DIR) AWS_REGION, AWS credentials, RETENTION_DAYS
#   JIFFOO_BACKUP_JAR LOG_DIR (or LOG_FILE) QUIET JAVA_OPTS (see ./jiffoo-backup)
#
# Extra arguments go to `backup files` (e.g. --compression zstd).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

"$here/jiffoo-backup" backup files "$@"
"$here/jiffoo-backup" prune --kind files
