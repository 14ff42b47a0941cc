package cdc

import (
	"context"
	"crypto/tls"
	"database/sql"
	"strings"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/internal/bridge"
)

// openSource opens the database/sql pool used for schemas, positions and
// snapshots (the shared wiring: UTC sessions with parseTime, as the mapping
// package expects of the SQL path) and the TLS configuration of the binlog
// connection.
func openSource(ctx context.Context, c config.MySQL, poolSize int) (*sql.DB, *tls.Config, error) {
	t, err := bridge.TLSConfig(c)
	if err != nil {
		return nil, nil, err
	}
	db, err := bridge.OpenMySQL(ctx, c, poolSize)
	if err != nil {
		return nil, nil, err
	}
	return db, t, nil
}

// resolveFlavor returns the configured flavor or asks the server.
func resolveFlavor(ctx context.Context, db *sql.DB, configured string) (string, error) {
	switch strings.ToLower(configured) {
	case binlog.FlavorMySQL:
		return binlog.FlavorMySQL, nil
	case binlog.FlavorMariaDB:
		return binlog.FlavorMariaDB, nil
	}
	return binlog.DetectFlavor(ctx, db)
}
