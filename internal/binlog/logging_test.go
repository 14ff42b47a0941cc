package binlog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/rs/zerolog"
)

// TestGoMySQLLogsNoSecrets: go-mysql logs its syncer config, password
// included, when a syncer is created; our handler must drop it in both log
// formats and keep the rest of the line.
func TestGoMySQLLogsNoSecrets(t *testing.T) {
	for _, console := range []bool{false, true} {
		var buf bytes.Buffer
		var w = zerolog.Logger(zerolog.New(&buf))
		if console {
			w = zerolog.New(zerolog.ConsoleWriter{Out: &buf, NoColor: true})
		}
		log := slog.New(quietHandler{zerolog.NewSlogHandler(w)})
		cfg := replication.BinlogSyncerConfig{ServerID: 5401, User: "bridge", Password: "hunter2-secret"}
		log.Info("create BinlogSyncer", slog.Any("config", cfg), slog.String("flavor", "mariadb"))
		log.With(slog.String("password", "hunter2-secret")).Warn("reconnecting", slog.Int("attempt", 2))
		out := buf.String()
		if strings.Contains(out, "hunter2-secret") || strings.Contains(out, "marshaling error") {
			t.Fatalf("console=%v: secret or encoding error in log output:\n%s", console, out)
		}
		if !strings.Contains(out, "create BinlogSyncer") || !strings.Contains(out, "mariadb") || !strings.Contains(out, "attempt") {
			t.Fatalf("console=%v: log lines lost:\n%s", console, out)
		}
	}
}
