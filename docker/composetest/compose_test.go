//go:build compose

package composetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/cdc"
)

// sensorRows is how many rows the test adds to the sample table (the init
// SQL adds 3).
const sensorRows = 20000

// TestCompose runs the users' flow with the product's compose file:
// servers up, `run --rm backfill`, `up -d cdc` (the hand-over), a crash of
// cdc, `down` and `up`, a table added in mappings/, and at every step the
// IoTDB stand-in compared with the source, exactly.
func TestCompose(t *testing.T) {
	cli := requireDocker(t)
	repo := repoRoot(t)
	begin := time.Now()
	buildImages(t, repo)
	s := newStack(t, cli, repo)
	ck := &tally{s: s, kept: map[string]map[int64]string{}}

	// --- The servers. ---
	s.mustCompose("up", "-d", "mysql", "iotdb")
	s.waitHealthy("mysql", 3*time.Minute)
	s.waitHealthy("iotdb", time.Minute)
	s.openDB()
	if n := s.count("SELECT COUNT(*) FROM sensor_readings"); n != 3 {
		t.Fatalf("the init SQL's sample rows: %d, want 3", n)
	}
	s.exec(fmt.Sprintf(`INSERT INTO sensor_readings (device_id, site, created_at, temperature, humidity, status)
		SELECT CONCAT('dev-', seq %% 40), CONCAT('plant_', CHAR(97 + seq %% 3)),
		       DATE_ADD('2024-02-01 00:00:00', INTERVAL seq * 1001000 MICROSECOND),
		       ROUND(20 + (seq %% 500) / 10, 1), IF(seq %% 7 = 0, NULL, 30 + seq %% 50),
		       ELT(1 + seq %% 3, 'ok', 'warn', 'fault')
		FROM seq_1_to_%d`, sensorRows))

	// --- cdc before any backfill: start: backfill refuses, the container
	// exits and is restarted, and it never turns healthy. ---
	s.mustCompose("up", "-d", "cdc")
	waitFor(t, "cdc restarted after refusing to start", 2*time.Minute, func() (bool, string) {
		c := s.inspect("cdc")
		return c.RestartCount >= 3, fmt.Sprintf("restarts %d, state %s", c.RestartCount, c.State.Status)
	})
	c := s.inspect("cdc")
	if c.health() == "healthy" {
		t.Fatalf("cdc that cannot start is %s", c.health())
	}
	if c.State.Health != nil {
		for _, l := range c.State.Health.Log {
			if l.ExitCode == 0 {
				t.Fatalf("a healthcheck of the cdc that cannot start passed at %s: %q", l.Start, l.Output)
			}
		}
	}
	if lg := s.logs("cdc"); !strings.Contains(lg, "run backfill first") {
		t.Fatalf("cdc's log does not say why it refuses:\n%s", tail(lg, 20))
	}
	t.Logf("cdc before backfill: %d restarts, health %q, never healthy", c.RestartCount, c.health())
	s.mustCompose("rm", "-s", "-f", "cdc")

	// --- `docker compose run --rm backfill`. ---
	out := s.mustCompose("run", "--rm", "backfill")
	total := sensorRows + 3
	if !strings.Contains(out, "sensor_readings") || !strings.Contains(out, strconv.Itoa(total)) {
		t.Fatalf("backfill exited 0 without a summary naming sensor_readings and %d rows:\n%s", total, tail(out, 30))
	}
	t.Logf("backfill summary:\n%s", summaryLines(out))
	s.compare("after backfill", s.expected("sensor_readings", ""))
	afterBackfill := s.standin()

	// --- The hand-over: changes made after the backfill, then cdc. ---
	want := ck.change(1, 50, 20, 10, 10)
	s.mustCompose("up", "-d", "cdc")
	c = s.waitHealthy("cdc", 2*time.Minute)
	waitFor(t, "/readyz 200", time.Minute, func() (bool, string) {
		code, body := s.readyz()
		return code == 200, fmt.Sprintf("%d %s", code, body)
	})
	ck.waitRows(want)
	ck.compareAll("after the hand-over")
	// The bridge reaches the servers by service name on the compose network.
	if lg := s.logs("cdc"); !strings.Contains(lg, `"mysql:3306"`) || !strings.Contains(lg, `"iotdb:6667"`) {
		t.Fatalf("cdc's log names no mysql:3306 and iotdb:6667:\n%s", tail(lg, 20))
	}
	// No second copy: IoTDB received exactly the changed rows' points.
	st := s.standin()
	if got := st.written() - afterBackfill.written(); got != int64(want.written) {
		t.Fatalf("hand-over: cdc wrote %d points, the changes since the backfill are %d points (a second copy, or a gap)", got, want.written)
	}
	if got := st.deleted() - afterBackfill.deleted(); got != int64(want.deleted) {
		t.Fatalf("hand-over: %d points deleted, want %d (humidity set to NULL)", got, want.deleted)
	}
	s.checkLoopback("mysql", "iotdb", "cdc")

	// --- A crash: the process dies (kill -9 from the host), the restart
	// policy starts it again, and it resumes from the checkpoint in the
	// bridge-state volume. (`docker kill` would not do: the engine counts it
	// as a manual stop and no restart policy applies.) ---
	ck.waitRows(ck.change(2, 30, 10, 5, 5))
	s.waitCheckpointed()
	before := s.inspect("cdc")
	beforeStats := s.standin()
	if err := syscall.Kill(before.State.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 cdc (pid %d): %v", before.State.Pid, err)
	}
	// The new process counts from zero: only the changes made from now on.
	ck.reset()
	want = ck.change(3, 40, 10, 5, 5)
	waitFor(t, "cdc restarted by its restart policy", time.Minute, func() (bool, string) {
		c := s.inspect("cdc")
		return c.RestartCount == before.RestartCount+1 && c.State.Running && c.State.Pid != before.State.Pid,
			fmt.Sprintf("restarts %d (was %d), state %s", c.RestartCount, before.RestartCount, c.State.Status)
	})
	if c := s.inspect("cdc"); c.ID != before.ID {
		t.Fatalf("cdc came back as a new container %s (was %s)", c.ID, before.ID)
	}
	s.waitHealthy("cdc", 2*time.Minute)
	if lg := s.logs("cdc"); strings.Count(lg, "resuming from the checkpoint") < 1 {
		t.Fatalf("the restarted cdc did not resume from its checkpoint:\n%s", tail(lg, 20))
	}
	// Nothing replayed from before the checkpoint.
	ck.waitRows(want)
	ck.exactRows(want)
	if got := s.standin().written() - beforeStats.written(); got != int64(want.written) {
		t.Fatalf("after the crash: %d points written, the changes since are %d (replayed from before the checkpoint?)", got, want.written)
	}
	ck.compareAll("after the crash")

	// --- `docker compose down` (volumes kept) and `up` again. ---
	ck.waitRows(ck.change(4, 25, 5, 5, 5))
	ids := map[string]string{}
	for _, svc := range []string{"mysql", "iotdb", "cdc"} {
		ids[svc] = s.containerID(svc)
	}
	pointsBefore := s.standin().TotalPoints
	s.mustCompose("down")
	for _, svc := range []string{"mysql", "iotdb", "cdc"} {
		if id := s.containerID(svc); id != "" {
			t.Fatalf("down left the %s container %s", svc, id)
		}
	}
	vols := run(t, "", nil, "docker", "volume", "ls", "-q", "--filter", "label=com.docker.compose.project="+s.project)
	for _, v := range []string{"mysql-data", "iotdb-data", "bridge-state"} {
		if !strings.Contains(vols, s.project+"_"+v) {
			t.Fatalf("down removed the volume %s: %s", v, vols)
		}
	}
	s.db.Close()
	s.mustCompose("up", "-d")
	for _, svc := range []string{"mysql", "iotdb", "cdc"} {
		s.waitHealthy(svc, 3*time.Minute)
		if id := s.containerID(svc); id == ids[svc] {
			t.Fatalf("up reused the %s container", svc)
		}
	}
	s.openDB()
	if st := s.standin(); st.LoadedPoints != pointsBefore {
		t.Fatalf("the IoTDB stand-in came back with %d points, had %d", st.LoadedPoints, pointsBefore)
	}
	upStats := s.standin()
	ck.reset()
	want = ck.change(5, 30, 10, 5, 5)
	ck.waitRows(want)
	ck.exactRows(want)
	if got := s.standin().written() - upStats.written(); got != int64(want.written) {
		t.Fatalf("after down and up: %d points written, the changes since are %d (replayed from the start?)", got, want.written)
	}
	ck.compareAll("after down and up")

	// --- A table added in mappings/ under the shipped start: backfill: cdc
	// streams it from its checkpoint on, and its history comes from
	// backfill, run while cdc is stopped so that cdc's replay from its
	// checkpoint lands after the copy (docker/mappings/README.md). ---
	s.exec(`CREATE TABLE machine_events (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		line VARCHAR(16) NOT NULL,
		happened_at DATETIME(3) NOT NULL,
		code INT NOT NULL,
		message VARCHAR(200) NULL)`,
		`INSERT INTO machine_events (line, happened_at, code, message)
		 SELECT CONCAT('line', seq % 4), DATE_ADD('2024-03-01', INTERVAL seq SECOND), seq % 97,
		        IF(seq % 11 = 0, NULL, CONCAT('event ', seq))
		 FROM seq_1_to_3000`)
	ck.waitRows(ck.change(6, 10, 5, 3, 3))
	s.addMapping("machine_events", `table: machine_events
device: "root.events.${line}"
time: {column: happened_at, zone: Europe/Berlin}
measurements:
  - {column: code}
  - {column: message}
on_delete: delete
`)
	s.mustCompose("stop", "cdc")
	// Changes while cdc is stopped: cdc replays them from its checkpoint.
	ck.reset()
	want = ck.change(7, 10, 5, 3, 3)
	s.exec(`UPDATE machine_events SET code = code + 1000 WHERE id BETWEEN 1 AND 10`)
	want.rows["machine_events"] = map[string]int{cdc.OutUpdateWritten: 10}
	want.written += 20 // code and message of ids 1-10
	preBackfill := s.standin()
	out = s.mustCompose("run", "--rm", "backfill")
	if !strings.Contains(out, "machine_events") || !strings.Contains(out, "3000") {
		t.Fatalf("backfill did not copy the added table:\n%s", tail(out, 30))
	}
	t.Logf("backfill summary for the added table:\n%s", summaryLines(out))
	events := s.expected("machine_events", "")
	postBackfill := s.standin()
	if got := postBackfill.written() - preBackfill.written(); got != int64(points(events)) {
		t.Fatalf("backfill wrote %d points, the added table has %d (was sensor_readings copied again?)", got, points(events))
	}
	s.mustCompose("start", "cdc")
	s.waitHealthy("cdc", 2*time.Minute)
	if lg := s.logs("cdc"); !strings.Contains(lg, "machine_events") {
		t.Fatalf("cdc's log does not mention the added table:\n%s", tail(lg, 20))
	}
	ck.waitRows(want)
	ck.exactRows(want)
	if got := s.standin().written() - postBackfill.written(); got != int64(want.written) {
		t.Fatalf("cdc after the backfill wrote %d points, the changes since its checkpoint are %d", got, want.written)
	}
	ck.tables = append(ck.tables, "machine_events")
	ck.compareAll("after the added table's backfill")

	// --- With start: initial (the config's other way), a table added later
	// is copied by cdc itself when it restarts: a snapshot, held long here
	// by a table lock, through which the healthcheck stays healthy. ---
	s.setStart("initial")
	s.exec(`CREATE TABLE machine_alarms (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		unit VARCHAR(16) NOT NULL,
		raised_at DATETIME(3) NOT NULL,
		level INT NOT NULL,
		note VARCHAR(100) NULL)`,
		`INSERT INTO machine_alarms (unit, raised_at, level, note)
		 SELECT CONCAT('unit', seq % 6), DATE_ADD('2024-04-01', INTERVAL seq * 3 SECOND), seq % 5,
		        IF(seq % 4 = 0, NULL, CONCAT('alarm ', seq))
		 FROM seq_1_to_2000`)
	s.addMapping("machine_alarms", `table: machine_alarms
device: "root.alarms.${unit}"
time: {column: raised_at, zone: UTC}
measurements:
  - {column: level}
  - {column: note}
on_delete: delete
`)
	lockCtx, cancelLock := bgContext()
	defer cancelLock()
	lock, err := s.db.Conn(lockCtx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(lockCtx, "LOCK TABLES machine_alarms WRITE"); err != nil {
		t.Fatal(err)
	}
	preSnap := s.standin()
	s.mustCompose("restart", "cdc")
	var snapStart time.Time
	waitFor(t, "cdc snapshotting machine_alarms", 2*time.Minute, func() (bool, string) {
		code, body := s.readyz()
		snap := metricSum(s.metrics(), cdc.MetricSnapshotting, nil)
		if code == 503 && snap == 1 && strings.Contains(body, "machine_alarms") {
			snapStart = time.Now()
			return true, ""
		}
		return false, fmt.Sprintf("/readyz %d %q, %s %v", code, strings.TrimSpace(body), cdc.MetricSnapshotting, snap)
	})
	waitFor(t, "two passing healthchecks during the snapshot", 2*time.Minute, func() (bool, string) {
		c := s.inspect("cdc")
		n := 0
		if c.State.Health != nil {
			for _, l := range c.State.Health.Log {
				if l.Start.After(snapStart) && l.ExitCode == 0 {
					n++
				}
			}
		}
		return n >= 2, fmt.Sprintf("%d passing checks since the snapshot began, health %s", n, c.health())
	})
	c = s.inspect("cdc")
	code, body := s.readyz()
	if c.health() != "healthy" || code != 503 || metricSum(s.metrics(), cdc.MetricSnapshotting, nil) != 1 {
		t.Fatalf("during the snapshot: health %s (want healthy), /readyz %d %q (want 503)", c.health(), code, body)
	}
	for _, l := range c.State.Health.Log {
		if l.Start.After(snapStart) && l.ExitCode != 0 {
			t.Fatalf("a healthcheck failed during the snapshot: %q", l.Output)
		}
	}
	t.Logf("snapshot held %s: health %s, /readyz %d %q", time.Since(snapStart).Round(time.Second), c.health(), code, strings.TrimSpace(body))
	if _, err := lock.ExecContext(lockCtx, "UNLOCK TABLES"); err != nil {
		t.Fatal(err)
	}
	lock.Close()
	waitFor(t, "/readyz 200 after the snapshot", 2*time.Minute, func() (bool, string) {
		code, body := s.readyz()
		return code == 200, fmt.Sprintf("%d %s", code, body)
	})
	alarms := s.expected("machine_alarms", "")
	if got := s.standin().written() - preSnap.written(); got != int64(points(alarms)) {
		t.Fatalf("the restart wrote %d points, the new table has %d (were other tables copied again?)", got, points(alarms))
	}
	ck.tables = append(ck.tables, "machine_alarms")
	ck.compareAll("after the new table's snapshot")

	// --- Every table streams: inserts, updates, deletes. ---
	ck.reset()
	want = ck.change(8, 10, 5, 3, 3)
	s.exec(`INSERT INTO machine_events (line, happened_at, code, message)
		SELECT CONCAT('line', seq % 4), DATE_ADD('2025-03-01', INTERVAL seq SECOND), seq, 'later' FROM seq_1_to_20`,
		`UPDATE machine_events SET code = code + 1000 WHERE id BETWEEN 21 AND 30`,
		`DELETE FROM machine_events WHERE id BETWEEN 101 AND 105`,
		`INSERT INTO machine_alarms (unit, raised_at, level, note)
		SELECT 'unit9', DATE_ADD('2025-04-01', INTERVAL seq SECOND), 9, NULL FROM seq_1_to_7`,
		`UPDATE machine_alarms SET note = 'acknowledged' WHERE id BETWEEN 1 AND 8`,
		`DELETE FROM machine_alarms WHERE id BETWEEN 201 AND 204`)
	want.rows["machine_events"] = map[string]int{cdc.OutInsertWritten: 20, cdc.OutUpdateWritten: 10, cdc.OutDeleteApplied: 5}
	want.rows["machine_alarms"] = map[string]int{cdc.OutInsertWritten: 7, cdc.OutUpdateWritten: 8, cdc.OutDeleteApplied: 4}
	ck.waitRows(want)
	ck.exactRows(want)
	ck.compareAll("end state")
	t.Logf("compose test done in %s (images included)", time.Since(begin).Round(time.Second))
}

// summaryLines is the backfill's summary (its non-JSON output lines).
func summaryLines(out string) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "{") && !strings.HasPrefix(l, "Creating") && !strings.HasPrefix(l, "Starting") {
			lines = append(lines, "  "+l)
		}
	}
	return strings.Join(lines, "\n")
}

// addMapping writes a mapping file into the project's mappings/ and names
// the table in config.yaml's mysql.tables, as docker/mappings/README.md says.
func (s *stack) addMapping(table, yaml string) {
	s.t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, "mappings", table+".yaml"), []byte(yaml), 0o644); err != nil {
		s.t.Fatal(err)
	}
	p := filepath.Join(s.dir, "config.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		s.t.Fatal(err)
	}
	const anchor = "  tables:\n"
	if !strings.Contains(string(b), anchor) {
		s.t.Fatalf("%s has no mysql.tables list to add %s to", p, table)
	}
	out := strings.Replace(string(b), anchor, anchor+"    - name: "+table+"\n", 1)
	if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.config() // it must load
}

// setStart sets cdc.start in the project's config.yaml.
func (s *stack) setStart(mode string) {
	s.t.Helper()
	p := filepath.Join(s.dir, "config.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		s.t.Fatal(err)
	}
	const shipped = "  start: backfill\n"
	if !strings.Contains(string(b), shipped) {
		s.t.Fatalf("%s does not set cdc.start: backfill", p)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), shipped, "  start: "+mode+"\n", 1)), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.config()
}

// checkLoopback fails unless every published port of the services binds to
// 127.0.0.1.
func (s *stack) checkLoopback(services ...string) {
	s.t.Helper()
	for _, svc := range services {
		c := s.inspect(svc)
		if len(c.NetworkSettings.Ports) == 0 {
			s.t.Fatalf("%s publishes no port", svc)
		}
		for port, bs := range c.NetworkSettings.Ports {
			for _, b := range bs {
				if b.HostIP != "127.0.0.1" {
					s.t.Fatalf("%s publishes %s on %q, want 127.0.0.1 only", svc, port, b.HostIP)
				}
			}
		}
	}
}

// change is what one round of source changes must produce.
type change struct {
	rows    map[string]map[string]int // table -> outcome -> rows
	written int                       // points IoTDB must receive
	deleted int                       // points IoTDB must delete
}

// tally drives the source changes of the sample table and what cdc must
// count for them.
type tally struct {
	s      *stack
	kept   map[string]map[int64]string // points of deleted rows (on_delete: ignore keeps them)
	tables []string                    // tables compared besides sensor_readings
	base   map[string]map[string]int   // counters of the running cdc before the current round
	total  map[string]map[string]int   // rounds since base
}

// change makes round k of changes on sensor_readings: ins inserts, upd
// updates, nul updates setting humidity to NULL, del deletes, each on its
// own rows.
func (ck *tally) change(k, ins, upd, nul, del int) change {
	s := ck.s
	s.t.Helper()
	lo := 1000 * k
	insFrom := fmt.Sprintf("2030-%02d-01", k)
	// Deleted rows stay in IoTDB (on_delete: ignore).
	delWhere := fmt.Sprintf("id BETWEEN %d AND %d", lo+401, lo+400+del)
	merge(ck.kept, s.expected("sensor_readings", delWhere))
	s.exec(fmt.Sprintf(`INSERT INTO sensor_readings (device_id, site, created_at, temperature, humidity, status)
		SELECT CONCAT('new-', seq %% 5), 'plant_z', DATE_ADD('%s', INTERVAL seq SECOND), seq / 4, IF(seq %% 3 = 0, NULL, seq), 'ok'
		FROM seq_1_to_%d`, insFrom, ins),
		fmt.Sprintf("UPDATE sensor_readings SET temperature = temperature + 100, status = 'fault' WHERE id BETWEEN %d AND %d", lo+1, lo+upd))
	// Only rows whose humidity is set: setting NULL to NULL changes nothing
	// (no binlog event).
	nulIDs := s.ids(fmt.Sprintf("SELECT id FROM sensor_readings WHERE id BETWEEN %d AND %d AND humidity IS NOT NULL", lo+201, lo+200+nul))
	cleared := len(nulIDs)
	changed := fmt.Sprintf("(created_at >= '%s' AND created_at < '%s' + INTERVAL 1 DAY) OR id BETWEEN %d AND %d",
		insFrom, insFrom, lo+1, lo+upd)
	if cleared > 0 {
		s.exec("UPDATE sensor_readings SET humidity = NULL WHERE id IN (" + nulIDs.list() + ")")
		changed += " OR id IN (" + nulIDs.list() + ")"
	}
	s.exec("DELETE FROM sensor_readings WHERE " + delWhere)
	w := change{
		rows: map[string]map[string]int{"sensor_readings": {
			cdc.OutInsertWritten: ins, cdc.OutUpdateWritten: upd + cleared,
			cdc.OutNullCleared: cleared, cdc.OutDeleteIgnored: del,
		}},
		written: points(s.expected("sensor_readings", changed)),
		deleted: cleared,
	}
	if ck.total == nil {
		ck.total = map[string]map[string]int{}
	}
	for tb, m := range w.rows {
		if ck.total[tb] == nil {
			ck.total[tb] = map[string]int{}
		}
		for o, n := range m {
			ck.total[tb][o] += n
		}
	}
	return w
}

// reset starts counting anew: a new cdc process counts from zero.
func (ck *tally) reset() { ck.total = nil }

// waitRows waits until the running cdc counted every round since reset
// (w's machine_events counts included).
func (ck *tally) waitRows(w change) {
	s := ck.s
	s.t.Helper()
	want := map[string]map[string]int{}
	for tb, m := range ck.total {
		want[tb] = m
	}
	for tb, m := range w.rows {
		if _, ok := want[tb]; !ok {
			want[tb] = m
		}
	}
	waitFor(s.t, "cdc applied the changes", 2*time.Minute, func() (bool, string) {
		ss := s.metrics()
		for tb, m := range want {
			for o, n := range m {
				if got := int(metricSum(ss, cdc.MetricRows, map[string]string{"table": tb, "outcome": o})); got < n {
					return false, fmt.Sprintf("%s{table=%s,outcome=%s} = %d, want %d", cdc.MetricRows, tb, o, got, n)
				}
			}
		}
		return true, ""
	})
}

// exactRows fails unless the running cdc counted exactly the rounds since
// reset: no outcome more (nothing replayed).
func (ck *tally) exactRows(w change) {
	s := ck.s
	s.t.Helper()
	ss := s.metrics()
	want := map[string]map[string]int{}
	for tb, m := range ck.total {
		want[tb] = m
	}
	for tb, m := range w.rows {
		if _, ok := want[tb]; !ok {
			want[tb] = m
		}
	}
	for _, smp := range ss {
		if smp.name != cdc.MetricRows {
			continue
		}
		tb, o := smp.labels["table"], smp.labels["outcome"]
		if int(smp.value) != want[tb][o] {
			s.t.Fatalf("%s{table=%s,outcome=%s} = %v, want exactly %d (the changes since cdc started)", cdc.MetricRows, tb, o, smp.value, want[tb][o])
		}
	}
}

// compareAll compares IoTDB with every table's source rows (and the kept
// points of deleted sample rows).
func (ck *tally) compareAll(what string) {
	s := ck.s
	s.t.Helper()
	want := merge(map[string]map[int64]string{}, ck.kept)
	merge(want, s.expected("sensor_readings", ""))
	for _, tb := range ck.tables {
		merge(want, s.expected(tb, ""))
	}
	s.compare(what, want)
}
