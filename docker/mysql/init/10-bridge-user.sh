#!/bin/bash
# Runs once, on the first start of the mysql container (docker-entrypoint-initdb.d).
# Creates the least-privilege user the bridge connects as:
#   SELECT              backfill scans and information_schema
#   REPLICATION SLAVE   binlog dump (cdc)
#   REPLICATION CLIENT  SHOW BINARY LOG STATUS / SHOW BINARY LOGS (cdc positions, preflight)
#                       (on MariaDB 10.5+ an alias of BINLOG MONITOR)
# The password is BRIDGE_PASSWORD, quoted for SQL, so any character works.
# The work happens in a subshell: the entrypoint may source this file, and
# its shell options stay as they were.
(
  set -eu
  : "${BRIDGE_PASSWORD:?is not set (docker-compose.yml passes it to the mysql service)}"
  pw=${BRIDGE_PASSWORD//\\/\\\\}
  pw=${pw//\'/\'\'}
  mysql --protocol=socket -uroot -p"${MYSQL_ROOT_PASSWORD}" <<SQL
CREATE USER IF NOT EXISTS 'bridge'@'%' IDENTIFIED BY '${pw}';
GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'bridge'@'%';
SQL
)
