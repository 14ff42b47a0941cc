package wire

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

// unreachableConfig writes a configuration whose MySQL and IoTDB accept
// nothing (port 1), one mapped table, and tail (more sections); it returns
// its path.
func unreachableConfig(t *testing.T, tail string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	cfg := `mysql: {host: 127.0.0.1, port: 1, user: bridge, database: factory, server_id: 5401, tables: [{name: readings}]}
iotdb:
  nodes: ["127.0.0.1:1"]
  mappings:
    - {table: readings, device: "root.factory.${dev}", time: {column: ts}, measurements: [{column: temp}]}
` + tail
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// endpointConfig writes a configuration whose backfill, cdc and sync serve
// on the given addresses ("" for none).
func endpointConfig(t *testing.T, backfillAddr, cdcAddr, syncAddr string) string {
	t.Helper()
	return unreachableConfig(t, fmt.Sprintf("backfill: {listen: %q}\nmetrics: {listen: %q}\nsync: {listen: %q}\n", backfillAddr, cdcAddr, syncAddr))
}

// --status asks the binary's own endpoint: its key, or --metrics-listen;
// an address of every interface is asked on loopback.
func TestStatusAsksTheBinarysEndpoint(t *testing.T) {
	serve := func(body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/status" {
				http.NotFound(w, r)
				return
			}
			fmt.Fprintln(w, body)
		}))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	bf, cdc, sync, other := serve(`{"phase": "copying"}`), serve(`{"phase": "streaming"}`), serve(`{"phase": "waiting"}`), serve(`{"phase": "other"}`)
	port := bf[strings.LastIndexByte(bf, ':'):]
	path := endpointConfig(t, "0.0.0.0"+port, cdc, sync)
	for _, c := range []struct {
		e            Endpoint
		flag, answer string
	}{
		{BackfillEndpoint, "", "copying"},
		{CDCEndpoint, "", "streaming"},
		{SyncEndpoint, "", "waiting"},
		{SyncEndpoint, other, "other"},
	} {
		var out, errb bytes.Buffer
		if code := Status(c.e, path, c.flag, &out, &errb); code != ExitOK || !strings.Contains(out.String(), c.answer) {
			t.Errorf("%s --status (flag %q): exit %d, out %q, err %q; want the answer of %s", c.e.Binary, c.flag, code, out.String(), errb.String(), c.answer)
		}
	}
	// No address: a usage error naming the key; nothing there: exit 1.
	var out, errb bytes.Buffer
	if code := Status(BackfillEndpoint, endpointConfig(t, "", cdc, sync), "", &out, &errb); code != ExitUsage || !strings.Contains(errb.String(), "backfill.listen is empty") {
		t.Errorf("no backfill.listen: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := Status(CDCEndpoint, path, "127.0.0.1:1", &out, &errb); code != ExitFailed || !strings.Contains(errb.String(), "no cdc answered at http://127.0.0.1:1/status") {
		t.Errorf("nothing at the address: exit %d, %q", code, errb.String())
	}
}

// --metrics-listen replaces the binary's own key only; off clears it; a
// wrong address is refused.
func TestMetricsListenFlag(t *testing.T) {
	for _, c := range []struct {
		e          Endpoint
		flag, want string
	}{
		{BackfillEndpoint, "", ""},
		{BackfillEndpoint, ":10668", ":10668"},
		{CDCEndpoint, "off", ""},
		{CDCEndpoint, "", config.DefaultMetricsListen},
		{SyncEndpoint, "", "127.0.0.1:7"},
		{SyncEndpoint, "127.0.0.1:0", "127.0.0.1:0"},
	} {
		before := config.Config{Metrics: config.Metrics{Listen: config.DefaultMetricsListen}, Sync: config.Sync{Listen: "127.0.0.1:7"}}
		cfg := before
		if err := c.e.apply(&cfg, c.flag); err != nil {
			t.Fatalf("%s %q: %v", c.e.Key, c.flag, err)
		}
		if got := c.e.Listen(&cfg); got != c.want {
			t.Errorf("%s with --metrics-listen %q: %q, want %q", c.e.Key, c.flag, got, c.want)
		}
		for _, o := range []Endpoint{BackfillEndpoint, CDCEndpoint, SyncEndpoint} {
			if o != c.e && o.Listen(&cfg) != o.Listen(&before) {
				t.Errorf("--metrics-listen for %s changed %s", c.e.Key, o.Key)
			}
		}
	}
	if err := BackfillEndpoint.apply(&config.Config{}, "localhost"); err == nil || !strings.Contains(err.Error(), `--metrics-listen: "localhost" is not host:port`) {
		t.Errorf("a wrong address: %v", err)
	}
}
