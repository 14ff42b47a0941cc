package binlog_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
)

// Two streams with one server_id kick each other off (the server drops
// the older one, or refuses the newcomer): one of them must end with
// ErrDuplicateServerID instead of reconnecting for ever.
func TestIntegrationDuplicateServerID(t *testing.T) {
	e := startEnv(t)
	e.exec(t, sensorDDL)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	type result struct {
		who int
		err error
	}
	done := make(chan result, 2)
	from := e.current(t)
	for who := range 2 {
		cfg := e.config(t)
		cfg.Reconnect.MaxAttempts = 0 // only the classification may end a stream
		s := binlog.New(cfg)
		go func() { done <- result{who, s.Run(ctx, from, newCollector())} }()
		time.Sleep(500 * time.Millisecond) // the first registers before the second connects
	}
	r := <-done
	cancel()
	other := <-done
	if !errors.Is(r.err, binlog.ErrDuplicateServerID) || !strings.Contains(r.err.Error(), "set a unique mysql.server_id") {
		t.Fatalf("stream %d on server_id 5401 ended with %v, want ErrDuplicateServerID (the other: %v)", r.who, r.err, other.err)
	}
	t.Logf("stream %d: %v", r.who, r.err)
}
