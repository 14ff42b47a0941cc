package binlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
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

// goMySQLLines logs through log what go-mysql logs: a real BinlogSyncer
// created and closed (its "create BinlogSyncer" line carries the config,
// password included), then the other calls of its syncer as it makes them
// (same messages, levels and attribute keys: "GTID set", "GTID Set", "last
// read GTID", camelCase keys). It returns the level each message must be
// logged at.
func goMySQLLines(t *testing.T, log *slog.Logger) map[string]string {
	t.Helper()
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{ServerID: 5401, Flavor: "mariadb",
		User: "bridge", Password: "hunter2-secret", Logger: log})
	syncer.Close()
	gset, err := mysql.ParseGTIDSet(mysql.MariaDBFlavor, "0-1-16")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("begin to sync binlog from GTID set", slog.Any("GTID set", gset))
	log.Info("begin to re-sync", slog.String("GTID Set", "0-1-16"), slog.String("last read GTID", "0-1-17"))
	log.Debug("MariaDB dynamic LogPos calculation", slog.String("eventType", "WriteRowsEventV1"), slog.Uint64("logPos", 4711))
	log.Warn("could not set read deadline, closing connection to unblock reader", slog.Any("error", errors.New("use of closed network connection")))
	log.Error("retry sync err, will retry", slog.Any("error", errors.New("EOF")), slog.Int("retryCount", 2), slog.Int("maxAttempts", 5))
	log.With(slog.String("master file", "binlog.000002")).Error("kill connection", slog.Any("error", errors.New("gone")), slog.Int64("id", 7))
	return map[string]string{
		"create BinlogSyncer":                  "debug",
		"syncer is closing...":                 "debug",
		"syncer is closed":                     "debug",
		"begin to sync binlog from GTID set":   "debug",
		"begin to re-sync":                     "debug",
		"MariaDB dynamic LogPos calculation":   "debug",
		"could not set read deadline, closing": "warn",
		"retry sync err, will retry":           "error",
		"kill connection":                      "error",
	}
}

// jsonKeys decodes one JSON object token by token (encoding/json's
// Unmarshal silently keeps the last of duplicate keys) and returns its
// top-level members; a duplicate key at any depth is an error, and every
// key at any depth is passed to visit.
func jsonKeys(line []byte, visit func(key string)) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	top := map[string]any{}
	var value func(depth int, into map[string]any, key string) error
	value = func(depth int, into map[string]any, key string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch d := tok.(type) {
		case json.Delim:
			switch d {
			case '{':
				seen := map[string]bool{}
				for dec.More() {
					kt, err := dec.Token()
					if err != nil {
						return err
					}
					k := kt.(string)
					if seen[k] {
						return fmt.Errorf("duplicate key %q", k)
					}
					seen[k] = true
					visit(k)
					var sub map[string]any
					if depth == 0 {
						sub = top
					}
					if err := value(depth+1, sub, k); err != nil {
						return err
					}
				}
			case '[':
				for dec.More() {
					if err := value(depth+1, nil, ""); err != nil {
						return err
					}
				}
			}
			if _, err := dec.Token(); err != nil { // the closing delimiter
				return err
			}
			if into != nil {
				into[key] = "(" + string(d) + ")"
			}
		default:
			if into != nil {
				into[key] = tok
			}
		}
		return nil
	}
	if err := value(0, nil, ""); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the object")
	}
	return top, nil
}

func TestJSONKeysDetectsDuplicates(t *testing.T) {
	for _, bad := range []string{`{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `{"a":[{"c":1,"c":1}]}`} {
		if _, err := jsonKeys([]byte(bad), func(string) {}); err == nil {
			t.Errorf("%s: duplicate not detected", bad)
		}
	}
	m, err := jsonKeys([]byte(`{"a":1,"b":{"a":2},"c":[{"a":3}],"d":"x"}`), func(string) {})
	if err != nil || m["d"] != "x" || len(m) != 4 {
		t.Errorf("valid object: %v %v", m, err)
	}
}

var snakeKey = regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)

// TestGoMySQLLogLinesAreCleanJSON: each go-mysql line is one JSON object
// with no duplicate key (Elasticsearch and Loki reject those), exactly one
// "component" (go-mysql), snake_case attribute keys without spaces, and
// go-mysql's INFO chatter at debug (warnings and errors kept).
func TestGoMySQLLogLinesAreCleanJSON(t *testing.T) {
	var buf bytes.Buffer
	// As the binaries build it (internal/process.NewLogger), at debug.
	base := zerolog.New(&buf).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	want := goMySQLLines(t, goMySQLLogger(base))
	got := map[string]string{}
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var bad []string
		m, err := jsonKeys(line, func(k string) {
			if strings.ContainsAny(k, " \t") {
				bad = append(bad, fmt.Sprintf("key %q has a space", k))
			}
		})
		if err != nil {
			t.Errorf("%v in %s", err, line)
			continue
		}
		for k := range m {
			if !snakeKey.MatchString(k) {
				bad = append(bad, fmt.Sprintf("key %q is not snake_case", k))
			}
		}
		if m["component"] != "go-mysql" {
			bad = append(bad, fmt.Sprintf("component %v, want go-mysql", m["component"]))
		}
		if bytes.Contains(line, []byte("hunter2-secret")) {
			bad = append(bad, "the password is logged")
		}
		for _, b := range bad {
			t.Errorf("%s in %s", b, line)
		}
		msg, _ := m["message"].(string)
		lvl, _ := m["level"].(string)
		for w := range want {
			if strings.HasPrefix(msg, w) {
				got[w] = lvl
			}
		}
	}
	for msg, lvl := range want {
		if got[msg] != lvl {
			t.Errorf("%q logged at %q, want %q", msg, got[msg], lvl)
		}
	}
	var missing []string
	for _, k := range []string{"gtid_set", "last_read_gtid", "max_attempts", "retry_count", "event_type", "master_file"} {
		if !strings.Contains(buf.String(), `"`+k+`":`) {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		t.Errorf("no keys %v in the output:\n%s", missing, buf.String())
	}
}

// TestGoMySQLInfoHiddenAtInfoLevel: at log.level info only go-mysql's
// warnings and errors show.
func TestGoMySQLInfoHiddenAtInfoLevel(t *testing.T) {
	var buf bytes.Buffer
	base := zerolog.New(&buf).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	log := goMySQLLogger(base)
	if log.Enabled(context.Background(), slog.LevelInfo) {
		t.Error("go-mysql's INFO is enabled at log.level info")
	}
	if !log.Enabled(context.Background(), slog.LevelWarn) || !log.Enabled(context.Background(), slog.LevelError) {
		t.Error("go-mysql's WARN or ERROR is disabled at log.level info")
	}
	want := goMySQLLines(t, log)
	var n int
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		msg, _ := m["message"].(string)
		for w, lvl := range want {
			if strings.HasPrefix(msg, w) {
				n++
				if lvl == "debug" {
					t.Errorf("go-mysql INFO line shown at log.level info: %s", line)
				}
			}
		}
	}
	if n != 3 {
		t.Errorf("%d go-mysql lines at log.level info, want its 3 warnings and errors:\n%s", n, buf.String())
	}
}

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"gtid_set": "gtid_set", "GTID set": "gtid_set", "GTID Set": "gtid_set", "GTIDSet": "gtid_set",
		"last read GTID": "last_read_gtid", "maxAttempts": "max_attempts", "nextLogName": "next_log_name",
		"target  file": "target_file", "a.b-c": "a_b_c", " x ": "x", "logPos2": "log_pos2", "v2Name": "v2_name",
		"__x__": "__x__", " ": "attr", "": "", "größe": "größe", "ÜberKey": "über_key",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestGoMySQLKeysNeverRepeat: attribute keys that would repeat a field of
// the line, or each other once rewritten, get a suffix; groups too.
func TestGoMySQLKeysNeverRepeat(t *testing.T) {
	var buf bytes.Buffer
	log := goMySQLLogger(zerolog.New(&buf).With().Timestamp().Logger())
	log.With(slog.String("component", "x")).Warn("w", slog.String("GTID set", "a"), slog.String("GTID Set", "b"),
		slog.String("level", "l"), slog.String("message", "m"), slog.String("time", "t"),
		slog.Group("Grp", slog.String("a B", "1"), slog.String("a_b", "2"), slog.String("password", "hunter2-secret")))
	line := bytes.TrimSpace(buf.Bytes())
	m, err := jsonKeys(line, func(k string) {
		if strings.Contains(k, " ") {
			t.Errorf("key %q has a space", k)
		}
	})
	if err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	for k, v := range map[string]any{"component": "go-mysql", "go_mysql_component": "x", "gtid_set": "a", "gtid_set_2": "b",
		"level": "warn", "go_mysql_level": "l", "message": "w", "go_mysql_message": "m", "go_mysql_time": "t",
		"grp.a_b": "1", "grp.a_b_2": "2"} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v in %s", k, m[k], v, line)
		}
	}
	if bytes.Contains(line, []byte("hunter2")) {
		t.Errorf("password in a group logged: %s", line)
	}
}
