package testenv

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Unit tests: no server.

func TestDecide(t *testing.T) {
	missing := fmt.Errorf("testenv: %w: mariadbd is not on PATH", errNoMariaDB)
	tests := []struct {
		name     string
		short    bool
		ci       bool
		findErr  error
		want     decision
		contains string
	}{
		{"local, installed", false, false, nil, decideRun, ""},
		{"local, -short", true, false, nil, decideSkip, "-short"},
		{"local, -short, missing", true, false, missing, decideSkip, "-short"},
		{"local, missing: loud skip", false, false, missing, decideSkip, "!!! SKIPPING MariaDB INTEGRATION TEST"},
		{"CI, installed", false, true, nil, decideRun, ""},
		{"CI, missing: fail", false, true, missing, decideFail, "CI=true"},
		{"CI, -short does not skip", true, true, nil, decideRun, ""},
		{"CI, -short, missing: fail", true, true, missing, decideFail, "mariadbd is not on PATH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := decide(tt.short, tt.ci, tt.findErr)
			if got != tt.want {
				t.Errorf("decide(short=%v, ci=%v, %v) = %v, want %v", tt.short, tt.ci, tt.findErr, got, tt.want)
			}
			if !strings.Contains(msg, tt.contains) {
				t.Errorf("message %q does not contain %q", msg, tt.contains)
			}
		})
	}
}

func TestInCI(t *testing.T) {
	for env, want := range map[string]bool{"true": true, "1": true, "": false, "false": false, "yes": false} {
		t.Setenv("CI", env)
		if got := inCI(); got != want {
			t.Errorf("CI=%q: inCI() = %v, want %v", env, got, want)
		}
	}
}

func TestDSN(t *testing.T) {
	m := &MariaDB{Host: "127.0.0.1", Port: 40123}
	dsn := m.DSN("bridge", "pw", "factory")
	want := "bridge:pw@tcp(127.0.0.1:40123)/factory?parseTime=true&loc=UTC&time_zone=%27%2B00%3A00%27&timeout=10s"
	if dsn != want {
		t.Fatalf("DSN = %q, want %q", dsn, want)
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.User != "bridge" || cfg.Passwd != "pw" || cfg.Addr != "127.0.0.1:40123" || cfg.DBName != "factory" ||
		!cfg.ParseTime || cfg.Loc != time.UTC || cfg.Timeout != 10*time.Second {
		t.Errorf("parsed DSN = %+v", cfg)
	}
	if tz, _ := url.QueryUnescape(cfg.Params["time_zone"]); tz != "'+00:00'" && cfg.Params["time_zone"] != "'+00:00'" {
		t.Errorf("time_zone param = %q, want '+00:00'", cfg.Params["time_zone"])
	}
}

func TestOptionsDefaults(t *testing.T) {
	o, err := Options{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.ServerID != 1 || o.Database != "factory" || o.Port != 0 || o.DataDir != "" {
		t.Errorf("defaults = %+v", o)
	}
	if _, err := (Options{Port: 3306}).withDefaults(); err == nil || !strings.Contains(err.Error(), "3306") {
		t.Errorf("port 3306: err = %v, want refusal", err)
	}
}

func TestStaleDirPID(t *testing.T) {
	tests := []struct {
		name string
		pid  int
		ok   bool
	}{
		{"bridge-mariadb-run-1234-987654", 1234, true},
		{"bridge-mariadb-tmpl-tmp-77-1", 77, true},
		{"bridge-mariadb-tmpl-cdd5c5c5de7be256", 0, false}, // finished template: shared, never stale
		{"bridge-mariadb-run-x-1", 0, false},
		{"bridge-mariadb-run-12", 0, false},
		{"bridge-bench-778774681", 0, false},
	}
	for _, tt := range tests {
		pid, ok := staleDirPID(tt.name)
		if pid != tt.pid || ok != tt.ok {
			t.Errorf("staleDirPID(%q) = %d, %v; want %d, %v", tt.name, pid, ok, tt.pid, tt.ok)
		}
	}
}

func TestQuoteIdent(t *testing.T) {
	for in, want := range map[string]string{"t": "`t`", "db.t": "`db`.`t`", "we`ird": "`we``ird`"} {
		if got := quoteIdent(in); got != want {
			t.Errorf("quoteIdent(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLogTail(t *testing.T) {
	p := t.TempDir() + "/log"
	if err := os.WriteFile(p, []byte("a\nb\nc\nd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := logTail(p, 0, 2); got != "c\nd" {
		t.Errorf("logTail = %q", got)
	}
	if got := logTail(p, 4, 10); got != "c\nd" { // after offset 4 ("a\nb\n")
		t.Errorf("logTail from offset = %q", got)
	}
	if got := logTail(p+"-missing", 0, 2); !strings.Contains(got, "cannot read") {
		t.Errorf("logTail missing = %q", got)
	}
}

func TestFindBinariesError(t *testing.T) {
	_, err := lookBinary("TESTENV_NO_SUCH_ENV", "no-such-mariadbd-binary", "/nonexistent/mariadbd")
	if !errors.Is(err, errNoMariaDB) {
		t.Fatalf("err = %v, want errNoMariaDB", err)
	}
	if !strings.Contains(err.Error(), "apt-get install mariadb-server") {
		t.Errorf("err %q does not say how to install", err)
	}
}
