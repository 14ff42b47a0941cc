// Command iotdbtest runs the iotdbtest IoTDB wire-protocol TEST DOUBLE as a
// standalone process (for docker-compose / manual runs without a real
// IoTDB). It is not an IoTDB server: data lives in memory only.
//
//	iotdbtest --listen 127.0.0.1:6667 --dump /tmp/points.csv
//
// SIGUSR1 writes the CSV dump (if --dump is set) without stopping;
// SIGTERM/SIGINT write it and exit.
package main

import (
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

func main() {
	var (
		listen    = flag.String("listen", "127.0.0.1:6667", "listen address")
		user      = flag.String("user", "root", "accepted user name")
		password  = flag.String("password", "root", "accepted password")
		precision = flag.String("precision", "ms", "timestamp precision: ms, us or ns")
		noAuto    = flag.Bool("no-auto-create", false, "emulate enable_auto_create_schema=false")
		noPartial = flag.Bool("no-partial-insert", false, "emulate enable_partial_insert=false")
		discard   = flag.Bool("discard", false, "validate and count writes but store no values (long benchmarks)")
		dump      = flag.String("dump", "", "write a CSV dump of all points to this file at exit and on SIGUSR1")
	)
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)

	srv, err := iotdbtest.NewServer(iotdbtest.Options{
		Addr: *listen, User: *user, Password: *password, Precision: *precision,
		DisableAutoCreate: *noAuto, DisablePartialInsert: *noPartial, DiscardData: *discard,
	})
	if err != nil {
		log.Fatalf("iotdbtest: an IoTDB wire-protocol TEST DOUBLE, not an IoTDB server: %v", err)
	}
	log.Printf("iotdbtest: an IoTDB wire-protocol TEST DOUBLE, not an IoTDB server; in-memory only, listening on %s (user %q, precision %s, auto-create %v, partial-insert %v, discard %v)",
		srv.Addr(), *user, *precision, !*noAuto, !*noPartial, *discard)

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
