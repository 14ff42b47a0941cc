#!/bin/bash
# Runs once, on the first start of the mysql container (docker-entrypoint-initdb.d).
# Creates the least-privilege user the bridge connects as:
#   SELECT              backfill scans and information_schema
#   REPLICATION SLAVE   binlog dump (cdc)
#   REPLICATION CLIENT  SHOW BINARY LOG STATUS / SHOW BINARY LOGS (cdc positions, preflight)
set -euo pipefail
mysql --protocol=socket -uroot -p"${MYSQL_ROOT_PASSWORD}" <<SQL
CREATE USER IF NOT EXISTS 'bridge'@'%' IDENTIFIED BY '${BRIDGE_PASSWORD}';
GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'bridge'@'%';
SQL
