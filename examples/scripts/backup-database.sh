#!/usr/bin/env bash
# The runbook's database backup: pg_dump of DB_NAME, encrypted with ENCRYPTION_KEY_FILE, streamed to S3_BUCKET
# (or BACKUP_DIR) as database/db_backup_YYYYMMDD_HHMMSS.sql.gpg, then backups older than RETENTION_DAYS (30)
# are pruned. Cron: 0 2 * * *.
#
#   DB_HOST DB_PORT DB_NAME DB_USER DB_PASSWORD ENCRYPTION_KEY_FILE S3_BUCKET (or BACKUP_DIR) AWS_REGION
#   AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the instance role) RETENTION_DAYS
#   JIFFOO_BACKUP_JAR LOG_DIR (or LOG_FILE) QUIET JAVA_OPTS (see ./jiffoo-backup)
#
# Extra arguments go to `backup database` (e.g. --compression-level 1).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

"$here/jiffoo-backup" backup database "$@"
"$here/jiffoo-backup" prune --kind database
