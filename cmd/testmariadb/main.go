// Command testmariadb runs a throwaway MariaDB (the test/demo stand-in for a
// production MySQL) until Ctrl-C or SIGTERM, then removes it.
//
//	testmariadb [--port N] [--datadir DIR] [--database NAME] [--server-id N] [-v]
//
// It prints the root and bridge DSNs, a mariadb client command line and a
// mysql: block for the bridge's configuration. The
// server is private: 127.0.0.1 only, a free port unless -port is given, data
// in a temporary directory unless -datadir is given (then kept for the next
// run). If this process is killed, the server dies with it (Linux).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/cli"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testmariadb:", err)
		os.Exit(1)
	}
}

var spec = cli.Spec{
	Name:    "testmariadb",
	Summary: "run a throwaway MariaDB (the test and demo stand-in for a production MySQL) until Ctrl-C",
	Description: `It starts Debian's mariadbd on 127.0.0.1 with the binlog settings cdc needs
(log_bin, binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL), creates a database
and a least-privilege bridge user, and prints the DSNs, a client command line and a mysql: block
to paste into a bridge configuration. Data lives in a temporary folder (removed at exit) unless
--datadir is given. If this process is killed, the server dies with it (Linux).

From any folder of the repository: go run github.com/mysql-iotdb-bridge/bridge/cmd/testmariadb.`,
	Examples: []cli.Example{
		{Command: "testmariadb", What: "a server on a free port, data removed at exit"},
		{Command: "testmariadb --port 3307 --datadir /tmp/mdb --database plant", What: "a fixed port and a data folder kept for the next run"},
	},
	ExitCodes: []string{"0  stopped by Ctrl-C or SIGTERM and cleaned up", "1  the server could not start or died", "2  a wrong command line"},
}

func run() error {
	var o testenv.Options
	var serverID uint
	var verbose bool
	c := cli.New(spec)
	fs := c.Flags()
	fs.IntVar(&o.Port, "port", 0, "TCP `PORT` on 127.0.0.1 (default: a free port; 3306 is refused)")
	fs.StringVar(&o.DataDir, "datadir", "", "data `FOLDER` to create or reuse, kept on exit (default: a temporary one, removed on exit)")
	fs.StringVar(&o.Database, "database", "factory", "database to create")
	fs.UintVar(&serverID, "server-id", 1, "server_id of the MariaDB server")
	fs.BoolVar(&verbose, "v", false, "copy the server's error log to stderr")
	if code, done := c.Parse(os.Args[1:]); done {
		os.Exit(code)
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
	fmt.Fprintf(w, "\nfor the bridge's configuration file:\n\n%s", mysqlBlock(m))
}

// mysqlBlock is the mysql: section of a bridge configuration for m, ready
// to paste: the least-privilege bridge user, TLS off (the server has none).
func mysqlBlock(m *testenv.MariaDB) string {
	return fmt.Sprintf(`mysql:
  host: %s
  port: %d
  user: %s
  password: %s
  database: %s
  tls: disabled          # this throwaway server has no TLS
  server_id: 5401        # cdc's replica id; the server's own is %d
`, m.Host, m.Port, yamlString(m.BridgeUser), yamlString(m.BridgePassword), yamlString(m.Database), m.ServerID)
}

// yamlString quotes s as a YAML double-quoted scalar, with $ doubled so the
// bridge's ${VAR} expansion leaves it as it is.
func yamlString(s string) string {
	b, _ := json.Marshal(strings.ReplaceAll(s, "$", "$$"))
	return string(b)
}
