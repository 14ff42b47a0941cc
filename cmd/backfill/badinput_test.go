package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// tripwire is a TCP listener that counts the connections made to it: a
// configuration error must be reported before anything is dialled.
type tripwire struct {
	ln    net.Listener
	count atomic.Int64
}

func newTripwire(t *testing.T) *tripwire {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tw := &tripwire{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tw.count.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return tw
}

func (tw *tripwire) port() string { return strconv.Itoa(tw.ln.Addr().(*net.TCPAddr).Port) }

// badConfigs are the files of testdata/bad that the configuration alone
// shows to be wrong (each is testdata/ok.yaml with one thing wrong).
var badConfigs = []struct{ file, msg string }{
	{"unknown_key.yaml", `testdata/bad/unknown_key.yaml:22: backfill.page_size: unknown field; known fields: readers, writers, page_rows, queue, state, shutdown_timeout, listen`},
	{"bad_template.yaml", "testdata/bad/bad_template.yaml:16: iotdb.mappings[0].device: \"root.bf.pump-1.${dev}\": node \"pump-1\" is not a legal IoTDB node name (letters, digits, _; not a number): backquote it, as `pump-1`"},
	{"bad_type.yaml", `testdata/bad/bad_type.yaml:19: iotdb.mappings[0].measurements[0].type: "REAL" is not an IoTDB type (BOOLEAN, INT32, INT64, FLOAT, DOUBLE, TEXT, STRING, BLOB, DATE, TIMESTAMP)`},
	{"bad_zone.yaml", `testdata/bad/bad_zone.yaml:17: iotdb.mappings[0].time.zone: "Mars/Olympus_Mons" is not a known IANA time zone (e.g. UTC, Europe/Berlin)`},
}

// TestBadConfigExitsBeforeConnecting: a configuration error is reported with
// file:line and field path, exit 2, before anything is dialled (both servers
// point at a listener that counts connections). No server is needed.
func TestBadConfigExitsBeforeConnecting(t *testing.T) {
	tw := newTripwire(t)
	dir := t.TempDir()
	t.Setenv("BF_MYSQL_PORT", tw.port())
	t.Setenv("BF_IOTDB_PORT", tw.port())
	t.Setenv("BF_MYSQL_USER", "bridge")
	t.Setenv("BF_MYSQL_PASSWORD", "secret")
	t.Setenv("BF_DIR", dir)
	check := func(t *testing.T, path, want string) {
		t.Helper()
		r := runCmd(t, context.Background(), flags{config: path})
		if r.code != exitUsage || r.stderr != want || r.stdout != "" {
			t.Errorf("exit %d\nstderr: %q\nstdout: %q\nwant exit 2 and stderr %q", r.code, r.stderr, r.stdout, want)
		}
		if n := tw.count.Load(); n != 0 {
			t.Errorf("%d connections were made before the configuration error was reported", n)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("files written before the configuration error was reported: %v", entries)
		}
	}
	for _, c := range badConfigs {
		t.Run(c.file, func(t *testing.T) {
			check(t, filepath.Join("testdata", "bad", c.file), c.msg+"\n")
		})
	}
	t.Run("unreadable file", func(t *testing.T) {
		path := t.TempDir() // a directory: unreadable as a file, even for root
		check(t, path, path+": cannot read: is a directory\n")
	})
	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.yaml")
		check(t, path, path+": cannot read: no such file or directory\n")
	})
	// Every file of the catalogue is covered here or below.
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, c := range badConfigs {
		covered[c.file] = true
	}
	for _, c := range compileErrors {
		covered[c.file] = true
	}
	for _, f := range files {
		if !covered[filepath.Base(f)] {
			t.Errorf("%s is not checked by any test", f)
		}
	}
}

// TestMetricsListenBeforeConnecting: a --metrics-listen that is not an
// address, and one another process holds, exit 2 before MySQL or IoTDB is
// dialled; the second names the flag that gives this backfill its own.
func TestMetricsListenBeforeConnecting(t *testing.T) {
	tw := newTripwire(t)
	t.Setenv("BF_MYSQL_PORT", tw.port())
	t.Setenv("BF_IOTDB_PORT", tw.port())
	t.Setenv("BF_MYSQL_USER", "bridge")
	t.Setenv("BF_MYSQL_PASSWORD", "secret")
	t.Setenv("BF_DIR", t.TempDir())
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, c := range []struct{ listen, want string }{
		{"nonsense", `backfill: --metrics-listen: "nonsense" is not host:port` + "\n"},
		{"127.0.0.1:70000", `backfill: --metrics-listen: "127.0.0.1:70000": port must be a number from 1 to 65535` + "\n"},
		{taken.Addr().String(), "backfill: cannot serve on " + taken.Addr().String() + " (backfill.listen of the configuration): "},
	} {
		r := runCmd(t, context.Background(), flags{config: filepath.Join("testdata", "ok.yaml"), listen: c.listen})
		if r.code != exitUsage || !strings.HasPrefix(r.stderr, c.want) {
			t.Errorf("--metrics-listen %s: exit %d, stderr %q; want 2 and %q", c.listen, r.code, r.stderr, c.want)
		}
		if n := tw.count.Load(); n != 0 {
			t.Errorf("--metrics-listen %s: %d connections made before the error", c.listen, n)
		}
	}
	r := runCmd(t, context.Background(), flags{config: filepath.Join("testdata", "ok.yaml"), listen: taken.Addr().String()})
	if !strings.Contains(r.stderr, "--metrics-listen HOST:PORT") || !strings.Contains(r.stderr, "--metrics-listen off") {
		t.Errorf("the address-in-use error does not say how to choose another: %q", r.stderr)
	}
}

// compileErrors are the files of testdata/bad that only the live schema
// shows to be wrong: found when the mappings are compiled, after connecting.
var compileErrors = []struct{ file, msg string }{
	{"missing_table.yaml", "testdata/bad/missing_table.yaml:15: mapping for table nope: table factory.nope does not exist (or the user cannot see it)"},
	{"missing_column.yaml", `mapping testdata/bad/missing_column.yaml:19 (table readings): measurement column "humidty" does not exist in factory.readings; its columns: id, dev, ts, temperature`},
	{"incompatible_type.yaml", "mapping testdata/bad/incompatible_type.yaml:15 (table readings): measurement dev (column dev): type INT32 cannot hold a text column (dev) without loss; see mapping/TYPES.md for the allowed pairs"},
}

// TestIntegrationBadInput: mappings that disagree with the live schema exit
// 1 with the mapping's file:line and write nothing; testdata/ok.yaml, the
// same file without the mistake, copies the table.
func TestIntegrationBadInput(t *testing.T) {
	h := newHarness(t, iotdbtest.Options{})
	h.exec(
		"CREATE TABLE readings (id INT PRIMARY KEY, dev VARCHAR(16) NOT NULL, ts DATETIME(3) NOT NULL, temperature DOUBLE)",
		"INSERT INTO readings SELECT seq, CONCAT('d', seq % 3), '2024-01-01' + INTERVAL seq SECOND, seq / 4 FROM seq_1_to_500",
	)
	t.Setenv("BF_MYSQL_USER", h.my.BridgeUser)
	t.Setenv("BF_MYSQL_PASSWORD", h.my.BridgePassword)
	t.Setenv("BF_DIR", h.dir)
	t.Setenv("BF_MYSQL_PORT", strconv.Itoa(h.my.Port))
	t.Setenv("BF_IOTDB_PORT", strconv.Itoa(h.iot.Port()))

	for _, c := range compileErrors {
		t.Run(c.file, func(t *testing.T) {
			r := h.run(flags{config: filepath.Join("testdata", "bad", c.file)})
			var got string
			for _, line := range strings.Split(r.stderr, "\n") {
				if strings.HasPrefix(line, "backfill failed: ") {
					got = strings.TrimPrefix(line, "backfill failed: ")
				}
			}
			if r.code != exitFailed || got != c.msg {
				t.Errorf("exit %d, message %q\nwant exit 1, message %q\nstderr:\n%s", r.code, got, c.msg, r.stderr)
			}
			if n := h.iot.TotalPoints(); n != 0 || len(h.iot.Series()) != 0 {
				t.Errorf("IoTDB holds %d points in %d series after a compile error", n, len(h.iot.Series()))
			}
			for _, f := range []string{h.statePath(), h.dirtyPath()} {
				if _, err := os.Stat(f); !os.IsNotExist(err) {
					t.Errorf("%s exists after a failed start (%v)", f, err)
				}
			}
		})
	}

	t.Run("ok.yaml", func(t *testing.T) {
		r := h.run(flags{config: filepath.Join("testdata", "ok.yaml")})
		mustSucceed(t, r)
		rows, err := h.root.Query("SELECT CONCAT('root.bf.', dev, '.temperature'), ts, temperature FROM readings")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		want := points{}
		for rows.Next() {
			var s string
			var ts time.Time
			var v float64
			if err := rows.Scan(&s, &ts, &v); err != nil {
				t.Fatal(err)
			}
			want.add(s, ts.UnixMilli(), v)
		}
		if err := rows.Err(); err != nil || want.count() != 500 {
			t.Fatalf("source: %d rows, %v", want.count(), err)
		}
		comparePoints(t, "ok.yaml", want, storedPoints(h.iot, "root.bf."))
	})
}
