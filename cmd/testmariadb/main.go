// Command testmariadb runs a throwaway MariaDB (the test/demo stand-in for a
// production MySQL) until Ctrl-C or SIGTERM, then removes it.
//
//	testmariadb [-port N] [-datadir DIR] [-database NAME] [-server-id N] [-v]
//
// It prints the root and bridge DSNs and a mariadb client command line. The
// server is private: 127.0.0.1 only, a free port unless -port is given, data
// in a temporary directory unless -datadir is given (then kept for the next
// run). If this process is killed, the server dies with it (Linux).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testmariadb:", err)
		os.Exit(1)
	}
}

func run() error {
	var o testenv.Options
	var serverID uint
	var verbose bool
	flag.IntVar(&o.Port, "port", 0, "TCP port on 127.0.0.1 (default: a free port; 3306 is refused)")
	flag.StringVar(&o.DataDir, "datadir", "", "data directory to create or reuse, kept on exit (default: a temporary one, removed on exit)")
	flag.StringVar(&o.Database, "database", "factory", "database to create")
	flag.UintVar(&serverID, "server-id", 1, "server_id of the MariaDB server")
	flag.BoolVar(&verbose, "v", false, "copy the server's error log to stderr")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	o.ServerID = uint32(serverID)
	if verbose {
		o.Log = os.Stderr
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	m, err := testenv.Start(startCtx, o)
	cancel()
	if err != nil {
		return err
	}
	printBanner(os.Stdout, m, o.DataDir == "")

	select {
	case <-ctx.Done():
		fmt.Println("stopping MariaDB...")
	case <-m.Done():
		_ = m.Stop()
		return fmt.Errorf("mariadbd exited unexpectedly; last lines of its log:\n%s", m.ErrorLogTail(20))
	}
	if err := m.Stop(); err != nil {
		return err
	}
	fmt.Println("stopped and cleaned up")
	return nil
}

func printBanner(w io.Writer, m *testenv.MariaDB, tempData bool) {
	fmt.Fprintf(w, "throwaway MariaDB (test/demo stand-in) ready in %.2fs\n", m.StartupTime.Seconds())
	fmt.Fprintf(w, "  root DSN:   %s\n", m.RootDSN())
	fmt.Fprintf(w, "  bridge DSN: %s\n", m.BridgeDSN())
	fmt.Fprintf(w, "  client:     %s\n", m.ClientCommand())
	fmt.Fprintf(w, "  TCP client: mariadb --no-defaults -h %s -P %d -u %s -p%s %s\n", m.Host, m.Port, m.RootUser, m.RootPassword, m.Database)
	where := "kept on exit"
	if tempData {
		where = "removed on exit"
	}
	fmt.Fprintf(w, "  data dir:   %s (%s)\n", m.DataDir, where)
	fmt.Fprintf(w, "  pid %d; Ctrl-C or SIGTERM stops it\n", m.PID())
}
