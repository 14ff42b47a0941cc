// Command iotdbtest runs the iotdbtest IoTDB wire-protocol TEST DOUBLE as a
// standalone process (for docker-compose / manual runs without a real
// IoTDB). It is not an IoTDB server: data lives in memory only.
//
//	iotdbtest --listen 127.0.0.1:6667 --dump /tmp/points.csv
//	go run github.com/mysql-iotdb-bridge/bridge/cmd/iotdbtest   (from any folder of the repository)
//
// SIGUSR1 writes the CSV dump (if --dump is set) without stopping;
// SIGTERM/SIGINT write it and exit.
package main

import (
	"log"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"

	"github.com/mysql-iotdb-bridge/bridge/internal/cli"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

var spec = cli.Spec{
	Name:    "iotdbtest",
	Summary: "run the IoTDB wire-protocol TEST DOUBLE (not an IoTDB server) as a process",
	Description: `iotdbtest speaks IoTDB's Thrift protocol well enough for the unmodified IoTDB Go
client and for the bridge: sessions, tablets, series, the tree and table models, SHOW and simple
SELECT queries. Its data lives in memory only. It is for demos, tests and docker-compose runs
without a real IoTDB, never a sink for real data (iotdbtest/README.md lists what it emulates).

From any folder of the repository: go run github.com/mysql-iotdb-bridge/bridge/cmd/iotdbtest.
SIGUSR1 writes the CSV dump (with --dump) without stopping; SIGTERM or SIGINT write it and exit.`,
	Examples: []cli.Example{
		{Command: "iotdbtest --listen 127.0.0.1:6667 --dump /tmp/points.csv", What: "listen where an IoTDB would, user root / root; dump every point at exit"},
		{Command: "iotdbtest --no-auto-create --precision us", What: "behave like a server with enable_auto_create_schema=false and timestamp_precision=us"},
		{Command: "iotdbtest --tls-cert server.pem --tls-key server-key.pem", What: "serve TLS only, like a server with enable_thrift_ssl=true (a plain client's connection is closed)"},
	},
	ExitCodes: []string{"0  stopped by SIGTERM or SIGINT", "1  could not listen", "2  a wrong command line"},
}

func main() {
	c := cli.New(spec)
	fs := c.Flags()
	var (
		listen    = fs.String("listen", "127.0.0.1:6667", "listen `ADDRESS` (host:port; port 0 picks a free one)")
		user      = fs.String("user", "root", "accepted user `NAME`")
		password  = fs.String("password", "root", "accepted `PASSWORD`")
		precision = fs.String("precision", "ms", "timestamp `PRECISION`: ms, us or ns")
		noAuto    = fs.Bool("no-auto-create", false, "emulate enable_auto_create_schema=false")
		noPartial = fs.Bool("no-partial-insert", false, "emulate enable_partial_insert=false")
		discard   = fs.Bool("discard", false, "validate and count writes but store no values (long benchmarks)")
		dump      = fs.String("dump", "", "write a CSV dump of all points to this `FILE` at exit and on SIGUSR1")
		tlsCert   = fs.String("tls-cert", "", "serve TLS (as IoTDB's enable_thrift_ssl) with this certificate `FILE` (PEM); with --tls-key")
		tlsKey    = fs.String("tls-key", "", "the private key `FILE` (PEM) of --tls-cert")
		tlsCA     = fs.String("tls-client-ca", "", "with --tls-cert: require client certificates signed by the CA in this `FILE` (PEM)")
	)
	if code, done := c.Parse(os.Args[1:]); done {
		os.Exit(code)
	}
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	defer startProfile()()
	if os.Getenv("GOGC") == "" {
		// The double's heap is its data (10^6 devices hold some 2 GB) and
		// it allocates per request: collecting at 3x the live heap instead
		// of 2x halves the collector's share of its CPU in the benchmarks.
		debug.SetGCPercent(200)
	}

	opts := iotdbtest.Options{
		Addr: *listen, User: *user, Password: *password, Precision: *precision,
		DisableAutoCreate: *noAuto, DisablePartialInsert: *noPartial, DiscardData: *discard,
	}
	if (*tlsCert == "") != (*tlsKey == "") || (*tlsCA != "" && *tlsCert == "") {
		log.Printf("iotdbtest: --tls-cert and --tls-key go together, and --tls-client-ca needs them")
		os.Exit(cli.ExitUsage)
	}
	if *tlsCert != "" {
		cfg, err := iotdbtest.ServerTLS(*tlsCert, *tlsKey, *tlsCA)
		if err != nil {
			log.Fatalf("iotdbtest: an IoTDB wire-protocol TEST DOUBLE, not an IoTDB server: %v", err)
		}
		opts.TLS = cfg
	}
	srv, err := iotdbtest.NewServer(opts)
	if err != nil {
		log.Fatalf("iotdbtest: an IoTDB wire-protocol TEST DOUBLE, not an IoTDB server: %v", err)
	}
	log.Printf("iotdbtest: an IoTDB wire-protocol TEST DOUBLE, not an IoTDB server; in-memory only, listening on %s (user %q, precision %s, auto-create %v, partial-insert %v, discard %v, tls %v, client certificates required %v)",
		srv.Addr(), *user, *precision, !*noAuto, !*noPartial, *discard, opts.TLS != nil, *tlsCA != "")

	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	for s := range sig {
		if s == syscall.SIGUSR1 {
			writeDump(srv, *dump)
			continue
		}
		log.Printf("iotdbtest: %v, shutting down", s)
		break
	}
	_ = srv.Close()
	writeDump(srv, *dump)
	st := srv.Stats()
	log.Printf("iotdbtest: stats: %+v", st)
}

func writeDump(srv *iotdbtest.Server, path string) {
	if path == "" {
		log.Printf("iotdbtest: %d points stored (no --dump file given)", srv.TotalPoints())
		return
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		log.Printf("iotdbtest: dump: %v", err)
		return
	}
	err = srv.DumpCSV(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		log.Printf("iotdbtest: dump: %v", err)
		return
	}
	log.Printf("iotdbtest: dumped %d points to %s", srv.TotalPoints(), path)
}

// startProfile writes a CPU profile of the double to $IOTDBTEST_CPUPROFILE
// when it is set (a switch for performance work on the double itself, like
// the bridge's BRIDGE_CPUPROFILE); the returned func stops it.
func startProfile() func() {
	path := os.Getenv("IOTDBTEST_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		log.Printf("iotdbtest: IOTDBTEST_CPUPROFILE: %v", err)
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}
