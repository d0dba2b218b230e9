#!/usr/bin/env bash
# The runbook's restore: restore-database.sh s3://BUCKET/PREFIX/database/db_backup_YYYYMMDD_HHMMSS.sql.gpg [NEW_DB]
#
# Restores that backup into the database DB_NAME on DB_HOST — into a test environment:
#   DB_HOST=test-db DB_NAME=jiffoo_test_db restore-database.sh s3://jiffoo-backups/prod/database/db_backup_….sql.gpg
# A DB_NAME that does not exist is created, the backup checked while it streams, and the database dropped again if
# anything fails; then every table's row count is compared with the backup's manifest. A DB_NAME that exists is
# refused (exit 2, untouched). To restore into another, new database instead, name it: ... [NEW_DB]. To restore over
# the existing DB_NAME (the live database: stop the application first):
#   restore-database.sh s3://.../db_backup_....sql.gpg --existing
# The URI is the "uri" of `jiffoo-backup list --json`; a local file (with its .sha256, .manifest.json and
# .manifest.json.sig next to it) or a key in S3_BUCKET (the BACKUP column of `list`) works in its place.
#
#   DB_HOST DB_PORT DB_NAME DB_USER DB_PASSWORD ENCRYPTION_KEY_FILE AWS_REGION, AWS credentials (S3_ENDPOINT or
#   MINIO_ENDPOINT for S3-compatible stores); JIFFOO_BACKUP_JAR LOG_DIR (or LOG_FILE) QUIET JAVA_OPTS
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ $# -lt 1 || "$1" == -* ]]; then
    echo "usage: [DB_NAME=db] $0 s3://BUCKET/PREFIX/database/db_backup_YYYYMMDD_HHMMSS.sql.gpg [NEW_DB | --existing]" >&2
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
