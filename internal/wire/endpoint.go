package wire

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/cli"
)

// The HTTP endpoint of the serving binaries (backfill, cdc, sync): where it
// listens, the --status flag that asks it, and the image's healthcheck.

// Endpoint names a binary's HTTP endpoint setting.
type Endpoint struct {
	Binary string // backfill, cdc, sync
	Key    string // its configuration key: backfill.listen, metrics.listen, sync.listen
}

// The endpoints of the binaries.
var (
	BackfillEndpoint = Endpoint{"backfill", "backfill.listen"}
	CDCEndpoint      = Endpoint{"cdc", "metrics.listen"}
	SyncEndpoint     = Endpoint{"sync", "sync.listen"}
)

func (e Endpoint) field(cfg *config.Config) *string {
	switch e.Key {
	case BackfillEndpoint.Key:
		return &cfg.Backfill.Listen
	case SyncEndpoint.Key:
		return &cfg.Sync.Listen
	}
	return &cfg.Metrics.Listen
}

// apply puts --metrics-listen (flag; "" when not given) into the key: an
// address, or cli.ListenOff for none. A wrong address is a command-line
// error, found before anything connects.
func (e Endpoint) apply(cfg *config.Config, flag string) error {
	switch flag {
	case "":
		return nil
	case cli.ListenOff:
		*e.field(cfg) = ""
		return nil
	}
	if err := config.CheckListen(flag); err != nil {
		return fmt.Errorf("--metrics-listen: %w", err)
	}
	*e.field(cfg) = flag
	return nil
}

// Listen is the address the binary serves on with cfg ("" for none).
func (e Endpoint) Listen(cfg *config.Config) string { return *e.field(cfg) }

// listenError is the message for an address the endpoint cannot take:
// most often another bridge process serves there.
func (e Endpoint) listenError(addr string, err error) string {
	return fmt.Sprintf("%s: cannot serve on %s (%s of the configuration): %v; another process (a cdc, sync or backfill on this host?) "+
		"may be serving there: give this one its own address with --metrics-listen HOST:PORT, or --metrics-listen %s",
		e.Binary, addr, e.Key, err, cli.ListenOff)
}

// Status is --status: it asks the running binary of the configuration at
// path for /status (on its endpoint, after --metrics-listen; an address of
// every interface is asked on loopback) and prints the answer. 0 when it
// answered, 1 when nothing answered, 2 for a configuration without an
// address.
func Status(e Endpoint, path, listenFlag string, stdout, stderr io.Writer) int {
	prefix := e.Binary + ": "
	cfg, code := loadConfigFlags(path, "", "", stderr, prefix)
	if cfg == nil {
		return code
	}
	if err := e.apply(cfg, listenFlag); err != nil {
		fmt.Fprintln(stderr, prefix+err.Error())
		return ExitUsage
	}
	addr := e.Listen(cfg)
	if addr == "" {
		fmt.Fprintf(stderr, "%s--status: %s is empty in %s (the status is served there)\n", prefix, e.Key, path)
		return ExitUsage
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		fmt.Fprintf(stderr, "%s--status: %s %q: %v\n", prefix, e.Key, addr, err)
		return ExitUsage
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(host, port) + "/status"
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintf(stderr, "%s--status: no %s answered at %s: %v\n", prefix, e.Binary, url, err)
		return ExitFailed
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "%s--status: %s answered %s\n", prefix, url, resp.Status)
		return ExitFailed
	}
	_, _ = io.Copy(stdout, io.LimitReader(resp.Body, 4<<20))
	return ExitOK
}

// Healthcheck GETs url and returns ExitOK on 200: the image's HEALTHCHECK
// (the image has no curl).
func Healthcheck(url string, stderr io.Writer) int {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(stderr, "unhealthy:", err)
		return ExitFailed
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(stderr, "unhealthy:", resp.Status)
		return ExitFailed
	}
	return ExitOK
}
