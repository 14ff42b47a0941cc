// Command standin is the IoTDB stand-in of the compose test: the iotdbtest
// IoTDB wire-protocol TEST DOUBLE (not an IoTDB server) packaged for a
// container, with the two things a container needs that the in-process
// double does not have:
//
//   - persistence: at SIGTERM/SIGINT it writes every tree-model series
//     (database, type, alignment, points) to <state>/iotdbtest-state.json and
//     loads that file at the next start, so `docker compose down` and `up`
//     keep the data in the iotdb-data volume as a real IoTDB does;
//   - an inspection endpoint on --inspect (HTTP): GET /healthz (200 once the
//     state is loaded), GET /stats (the double's counters, and the counters
//     the load itself caused), GET /series (every series with its points).
//
// --probe URL GETs URL and exits 0 on 200: the container healthcheck (the
// image has no shell).
//
// It lives beside the compose test, is built into an image labelled as a
// test double, and is never part of the product.
package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// stateFile is the file name under --state.
const stateFile = "iotdbtest-state.json"

// stateVersion is the format of the state file.
const stateVersion = 1

// state is the persisted content: tree-model databases and series.
type state struct {
	Version   int           `json:"version"`
	Databases []string      `json:"databases"`
	Series    []savedSeries `json:"series"`
}

type savedSeries struct {
	Path    string   `json:"path"`
	Type    string   `json:"type"`
	Aligned bool     `json:"aligned"`
	Points  []jPoint `json:"points"`
}

// jPoint is one point: Value in its JSON form (numbers, strings, base64
// for BLOB, yyyymmdd for DATE).
type jPoint struct {
	Time  int64 `json:"t"`
	Value any   `json:"v"`
}

var typeNames = map[client.TSDataType]string{
	client.BOOLEAN: "BOOLEAN", client.INT32: "INT32", client.INT64: "INT64", client.FLOAT: "FLOAT",
	client.DOUBLE: "DOUBLE", client.TEXT: "TEXT", client.TIMESTAMP: "TIMESTAMP", client.DATE: "DATE",
	client.BLOB: "BLOB", client.STRING: "STRING",
}

func typeByName(s string) (client.TSDataType, bool) {
	for t, n := range typeNames {
		if n == s {
			return t, true
		}
	}
	return 0, false
}

func main() {
	var (
		listen   = flag.String("listen", "0.0.0.0:6667", "IoTDB RPC listen address")
		inspect  = flag.String("inspect", "0.0.0.0:6680", "inspection HTTP listen address (/healthz, /stats, /series)")
		stateDir = flag.String("state", "/iotdb/data", "folder of the state file (loaded at start, written at SIGTERM)")
		user     = flag.String("user", "root", "accepted user name")
		password = flag.String("password", "root", "accepted password")
		probe    = flag.String("probe", "", "GET this URL and exit 0 on 200, else 1 (container healthcheck)")
	)
	flag.Parse()
	if *probe != "" {
		os.Exit(probeURL(*probe))
	}
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.Printf("standin: the iotdbtest IoTDB wire-protocol TEST DOUBLE, not an IoTDB server (compose test stand-in)")

	srv, err := iotdbtest.NewServer(iotdbtest.Options{Addr: *listen, User: *user, Password: *password})
	if err != nil {
		log.Fatalf("standin: %v", err)
	}
	s := &standin{srv: srv, user: *user, password: *password, path: filepath.Join(*stateDir, stateFile)}
	ln, err := net.Listen("tcp", *inspect)
	if err != nil {
		log.Fatalf("standin: inspect: %v", err)
	}
	go func() { _ = http.Serve(ln, s.handler()) }()

	if err := s.load(); err != nil {
		log.Fatalf("standin: loading %s: %v", s.path, err)
	}
	log.Printf("standin: serving IoTDB RPC on %s, inspection on %s", srv.Addr(), ln.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	log.Printf("standin: %v, saving and shutting down", <-sig)
	_ = srv.Close()
	if err := s.save(); err != nil {
		log.Fatalf("standin: saving %s: %v", s.path, err)
	}
	st := srv.Stats()
	log.Printf("standin: saved %d points to %s; stats: %+v", srv.TotalPoints(), s.path, st)
}

type standin struct {
	srv            *iotdbtest.Server
	user, password string
	path           string

	mu       sync.Mutex
	loaded   bool
	loadStat iotdbtest.Stats // the counters right after the load
	loadedN  int64
}

func (s *standin) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		ok := s.loaded
		s.mu.Unlock()
		if !ok {
			http.Error(w, "loading state", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		out := map[string]any{"stats": s.srv.Stats(), "load": s.loadStat, "loaded_points": s.loadedN, "loaded": s.loaded,
			"total_points": s.srv.TotalPoints()}
		s.mu.Unlock()
		writeJSON(w, out)
	})
	mux.HandleFunc("/series", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.snapshot())
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	if err := enc.Encode(v); err != nil {
		log.Printf("standin: encoding: %v", err)
	}
}

// snapshot is the double's tree content in the state file's form.
func (s *standin) snapshot() state {
	st := state{Version: stateVersion, Databases: s.srv.Databases()}
	for _, si := range s.srv.Series() {
		ss := savedSeries{Path: si.Path, Type: typeNames[si.Type], Aligned: si.Aligned, Points: []jPoint{}}
		for _, p := range s.srv.Points(si.Path) {
			ss.Points = append(ss.Points, jPoint{Time: p.Time, Value: p.Value})
		}
		st.Series = append(st.Series, ss)
	}
	return st
}

// save writes the state file atomically (temp file, fsync, rename).
func (s *standin) save() error {
	b, err := json.Marshal(s.snapshot())
	if err != nil {
		return err
	}
	tmp := s.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, s.path)
}

// load reads the state file (if any) and writes its content into the
// double through the IoTDB client, as any client would.
func (s *standin) load() error {
	defer func() {
		s.mu.Lock()
		s.loaded, s.loadStat = true, s.srv.Stats()
		s.mu.Unlock()
	}()
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		log.Printf("standin: no state file %s: starting empty", s.path)
		return nil
	}
	if err != nil {
		return err
	}
	var st state
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&st); err != nil {
		return fmt.Errorf("corrupt state file: %w", err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("state file version %d, want %d", st.Version, stateVersion)
	}
	sess := client.NewSession(&client.Config{Host: "127.0.0.1", Port: strconv.Itoa(s.port()), UserName: s.user, Password: s.password})
	if err := sess.Open(false, 10000); err != nil {
		return err
	}
	defer sess.Close()
	for _, db := range st.Databases {
		if err := sess.ExecuteNonQueryStatement("CREATE DATABASE " + db); err != nil {
			return fmt.Errorf("CREATE DATABASE %s: %w", db, err)
		}
	}
	// Schema first (series whose points were all deleted keep their type),
	// one statement per device.
	type dev struct {
		aligned bool
		names   []string
		types   []string
	}
	devs := map[string]*dev{}
	var order []string
	for _, ss := range st.Series {
		d, m := splitLast(ss.Path)
		v := devs[d]
		if v == nil {
			v = &dev{aligned: ss.Aligned}
			devs[d] = v
			order = append(order, d)
		}
		v.names = append(v.names, m)
		v.types = append(v.types, ss.Type)
	}
	for _, d := range order {
		v := devs[d]
		if v.aligned {
			cols := make([]string, len(v.names))
			for i := range v.names {
				cols[i] = v.names[i] + " " + v.types[i]
			}
			if err := sess.ExecuteNonQueryStatement("CREATE ALIGNED TIMESERIES " + d + "(" + strings.Join(cols, ", ") + ")"); err != nil {
				return fmt.Errorf("creating %s: %w", d, err)
			}
			continue
		}
		for i := range v.names {
			if err := sess.ExecuteNonQueryStatement("CREATE TIMESERIES " + d + "." + v.names[i] + " WITH DATATYPE=" + v.types[i]); err != nil {
				return fmt.Errorf("creating %s.%s: %w", d, v.names[i], err)
			}
		}
	}
	var n int64
	for _, ss := range st.Series {
		if len(ss.Points) == 0 {
			continue
		}
		t, ok := typeByName(ss.Type)
		if !ok {
			return fmt.Errorf("%s: unknown type %q", ss.Path, ss.Type)
		}
		d, m := splitLast(ss.Path)
		tab, err := client.NewTablet(d, []*client.MeasurementSchema{{Measurement: m, DataType: t}}, len(ss.Points))
		if err != nil {
			return err
		}
		sort.Slice(ss.Points, func(i, j int) bool { return ss.Points[i].Time < ss.Points[j].Time })
		for i, p := range ss.Points {
			v, err := fromJSON(t, p.Value)
			if err != nil {
				return fmt.Errorf("%s at %d: %w", ss.Path, p.Time, err)
			}
			tab.SetTimestamp(p.Time, i)
			if err := tab.SetValueAt(v, 0, i); err != nil {
				return fmt.Errorf("%s at %d: %w", ss.Path, p.Time, err)
			}
			tab.RowSize++
		}
		if ss.Aligned {
			err = sess.InsertAlignedTablet(tab, true)
		} else {
			err = sess.InsertTablet(tab, true)
		}
		if err != nil {
			return fmt.Errorf("writing %s: %w", ss.Path, err)
		}
		n += int64(len(ss.Points))
	}
	s.mu.Lock()
	s.loadedN = n
	s.mu.Unlock()
	log.Printf("standin: loaded %d points of %d series from %s", n, len(st.Series), s.path)
	return nil
}

func (s *standin) port() int { return s.srv.Port() }

// splitLast splits a series path into device and measurement at the last
// dot outside backquotes.
func splitLast(path string) (string, string) {
	inQuote, last := false, -1
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case '`':
			inQuote = !inQuote
		case '.':
			if !inQuote {
				last = i
			}
		}
	}
	if last < 0 {
		return path, ""
	}
	return path[:last], path[last+1:]
}

// fromJSON converts a decoded JSON value (json.Number, string, bool) to
// the value the tablet takes for type t.
func fromJSON(t client.TSDataType, v any) (any, error) {
	num := func() (json.Number, error) {
		n, ok := v.(json.Number)
		if !ok {
			return "", fmt.Errorf("want a number, got %T", v)
		}
		return n, nil
	}
	switch t {
	case client.BOOLEAN:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("want a boolean, got %T", v)
		}
		return b, nil
	case client.INT32:
		n, err := num()
		if err != nil {
			return nil, err
		}
		i, err := strconv.ParseInt(n.String(), 10, 32)
		return int32(i), err
	case client.INT64, client.TIMESTAMP:
		n, err := num()
		if err != nil {
			return nil, err
		}
		return strconv.ParseInt(n.String(), 10, 64)
	case client.FLOAT:
		n, err := num()
		if err != nil {
			return nil, err
		}
		f, err := strconv.ParseFloat(n.String(), 64)
		return float32(f), err
	case client.DOUBLE:
		n, err := num()
		if err != nil {
			return nil, err
		}
		return strconv.ParseFloat(n.String(), 64)
	case client.TEXT, client.STRING:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a string, got %T", v)
		}
		return s, nil
	case client.BLOB:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want base64 text, got %T", v)
		}
		return base64.StdEncoding.DecodeString(s)
	case client.DATE:
		n, err := num()
		if err != nil {
			return nil, err
		}
		ymd, err := strconv.Atoi(n.String())
		if err != nil {
			return nil, err
		}
		return time.Date(ymd/10000, time.Month(ymd/100%100), ymd%100, 0, 0, 0, 0, time.UTC), nil
	}
	return nil, fmt.Errorf("unsupported type %d", t)
}

func probeURL(url string) int {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "unhealthy:", err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "unhealthy:", resp.Status)
		return 1
	}
	return 0
}
