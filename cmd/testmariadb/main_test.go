package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/source"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
)

// TestIntegrationBannerMySQLBlock: the mysql: block the banner prints,
// pasted into a configuration as it is, loads and connects as the bridge
// user.
func TestIntegrationBannerMySQLBlock(t *testing.T) {
	m := testenv.StartMariaDB(t)
	var out bytes.Buffer
	printBanner(&out, m, true)
	banner := out.String()
	i := strings.Index(banner, "\nmysql:\n")
	if i < 0 {
		t.Fatalf("no mysql: block in the banner:\n%s", banner)
	}
	block := banner[i+1:]
	cfg, err := config.Parse([]byte(block+`iotdb:
  nodes: ["127.0.0.1:6667"]
  mappings:
    - table: t
      device: "root.x.${d}"
      time: {column: ts}
      measurements: [{column: v}]
`), "pasted.yaml")
	if err != nil {
		t.Fatalf("the pasted block does not load: %v\n%s", err, block)
	}
	if cfg.MySQL.User != m.BridgeUser || cfg.MySQL.Password != m.BridgePassword || cfg.MySQL.Port != m.Port {
		t.Errorf("loaded %v", cfg.MySQL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := source.Open(ctx, cfg.MySQL, 1)
	if err != nil {
		t.Fatalf("connecting with the pasted block: %v", err)
	}
	defer db.Close()
	var user string
	if err := db.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&user); err != nil || !strings.HasPrefix(user, m.BridgeUser+"@") {
		t.Errorf("connected as %q (%v), want the bridge user", user, err)
	}
}
