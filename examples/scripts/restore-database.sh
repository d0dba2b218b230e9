#!/usr/bin/env bash
# The runbook's restore: restore-database.sh s3://BUCKET/PREFIX/database/db_backup_YYYYMMDD_HHMMSS.sql.gpg [NEW_DB]
#
# Restores that backup into a NEW database (default DB_NAME_restore_YYYYMMDD_HHMMSS) on DB_HOST, checking the
# backup while it streams and dropping the new database again if anything fails; then compares every table's row
# count with the backup's manifest. To restore over the live database instead (stop the application first):
#   restore-database.sh s3://.../db_backup_....sql.gpg --existing
# A local file (with its .sha256 and .manifest.json next to it) or a key in S3_BUCKET works in place of the URI.
#
#   DB_HOST DB_PORT DB_NAME DB_USER DB_PASSWORD ENCRYPTION_KEY_FILE AWS_REGION, AWS credentials (S3_ENDPOINT or
#   MINIO_ENDPOINT for S3-compatible stores); JIFFOO_BACKUP_JAR LOG_DIR (or LOG_FILE) QUIET JAVA_OPTS
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ $# -lt 1 || "$1" == -* ]]; then
    echo "usage: $0 s3://BUCKET/PREFIX/database/db_backup_YYYYMMDD_HHMMSS.sql.gpg [NEW_DB | --existing]" >&2
    exit 2
fi
backup="$1"
shift
if [[ $# -ge 1 && "$1" != -* ]]; then
    into="$1"
    shift
    set -- --into "$into" "$@"
fi
exec "$here/jiffoo-backup" restore database "$backup" "$@"
