#!/bin/bash
# Entrypoint of the MariaDB stand-in: what the mysql image's entrypoint does
# that the product's compose file relies on.
set -eu

if [ "${1:0:1}" = '-' ]; then
  set -- mariadbd "$@"
fi

datadir=/var/lib/mysql
socket=/run/mysqld/mysqld.sock

# sql_string VALUE: VALUE as the body of a '...' SQL string literal.
sql_string() {
  local v=${1//\\/\\\\}
  printf '%s' "${v//\'/\'\'}"
}

if [ "$1" = mariadbd ] && [ ! -d "$datadir/mysql" ]; then
  : "${MYSQL_ROOT_PASSWORD:?MYSQL_ROOT_PASSWORD must be set (the first start initializes the data directory)}"
  echo "entrypoint: initializing $datadir"
  mariadb-install-db --user=mysql --datadir="$datadir" --auth-root-authentication-method=normal \
    --skip-test-db >/dev/null
  # A temporary server on the socket only, so nothing (the healthcheck, the
  # bridge) connects before the init scripts have run.
  "$@" --skip-networking --socket="$socket" &
  pid=$!
  for _ in $(seq 1 120); do
    if mariadb-admin --socket="$socket" -uroot ping --silent >/dev/null 2>&1; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then echo "entrypoint: temporary server died" >&2; exit 1; fi
    sleep 0.5
  done
  pw=$(sql_string "$MYSQL_ROOT_PASSWORD")
  mariadb --socket="$socket" -uroot <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED BY '${pw}';
CREATE USER 'root'@'%' IDENTIFIED BY '${pw}';
GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
${MYSQL_DATABASE:+CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE//\`/\`\`}\`;}
SQL
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh)
        echo "entrypoint: running $f"
        if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
      *.sql)
        echo "entrypoint: running $f"
        mariadb --socket="$socket" -uroot -p"$MYSQL_ROOT_PASSWORD" ${MYSQL_DATABASE:+"$MYSQL_DATABASE"} <"$f" ;;
      *)
        if [ -e "$f" ]; then echo "entrypoint: ignoring $f"; fi ;;
    esac
  done
  mariadb-admin --socket="$socket" -uroot -p"$MYSQL_ROOT_PASSWORD" shutdown
  wait "$pid"
  echo "entrypoint: initialized"
fi

exec "$@"
