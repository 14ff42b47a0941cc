// Command cdc tails the source's row binlog and applies every committed
// change of the mapped tables to IoTDB, forever, resuming from its
// checkpoint after a restart.
//
//	cdc --config FILE [--log-format json|console]
//	cdc --config FILE --check          preflight, mappings and IoTDB: a PASS/FAIL table
//	cdc --healthcheck URL              GET URL, exit 0 on 200 (docker HEALTHCHECK; no curl in the image)
//
// SIGTERM/SIGINT stop reading, flush, save the checkpoint and exit 0.
//
// Exit codes: 0 stopped cleanly (or --check passed, or healthy); 1 a fatal
// error (one line on stderr: preflight, purged binlog, broken mapping after
// a schema change, dirty-row policy) or --check failed; 2 the configuration
// or the command line is wrong (nothing was connected).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/bridge"
	"github.com/mysql-iotdb-bridge/bridge/internal/cdc"
)

const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

type flags struct {
	config      string
	check       bool
	healthcheck string
	logFormat   string
}

func main() {
	var f flags
	fs := flag.NewFlagSet("cdc", flag.ContinueOnError)
	fs.StringVar(&f.config, "config", "config.yaml", "configuration file")
	fs.BoolVar(&f.check, "check", false, "check the configuration, the source (binlog settings, privileges, server_id, checkpoint), the mappings and IoTDB; print a PASS/FAIL table and exit 0 or 1")
	fs.StringVar(&f.healthcheck, "healthcheck", "", "GET this URL (e.g. http://127.0.0.1:9464/healthz) and exit 0 on 200, else 1")
	fs.StringVar(&f.logFormat, "log-format", "", "json | console (default: log.format from the config)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(exitUsage)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "cdc: unexpected arguments %q\n", fs.Args())
		os.Exit(exitUsage)
	}
	if f.healthcheck != "" {
		os.Exit(healthcheck(f.healthcheck, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	bridge.TuneGC(128 << 20)
	stopProfile := bridge.StartProfile()
	code := run(ctx, f, os.Stdout, os.Stderr)
	stopProfile()
	os.Exit(code)
}

func run(ctx context.Context, f flags, stdout, stderr io.Writer) int {
	if f.logFormat != "" && f.logFormat != "json" && f.logFormat != "console" {
		fmt.Fprintf(stderr, "cdc: --log-format %q: want json or console\n", f.logFormat)
		return exitUsage
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	log := bridge.NewLogger(cfg.Log, f.logFormat, stderr)
	eng, err := cdc.New(cdc.Options{Config: cfg, Log: log})
	if err != nil {
		fmt.Fprintln(stderr, errorLine(err))
		return exitUsage
	}
	if f.check {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		checks, ok := eng.Check(cctx)
		cdc.PrintChecks(stdout, checks)
		if !ok {
			return exitFailed
		}
		return exitOK
	}
	log.Info().Str("config", cfg.Path).Int("tables", len(cfg.IoTDB.Mappings)).Str("start", cfg.CDC.Start.String()).
		Str("checkpoint", cfg.CDC.Checkpoint.Path).Msg("cdc starting")
	if err := eng.Run(ctx); err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return exitOK // stopped during startup
		}
		fmt.Fprintln(stderr, errorLine(err))
		return exitFailed
	}
	return exitOK
}

// healthcheck GETs url: the image's HEALTHCHECK (distroless has no curl).
func healthcheck(url string, stderr io.Writer) int {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(stderr, "unhealthy:", err)
		return exitFailed
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(stderr, "unhealthy:", resp.Status)
		return exitFailed
	}
	return exitOK
}

// errorLine is the one line printed for a fatal error, prefixed "cdc: " once
// (engine errors may already carry it).
func errorLine(err error) string {
	msg := err.Error()
	if !strings.HasPrefix(msg, "cdc: ") {
		msg = "cdc: " + msg
	}
	return msg
}
