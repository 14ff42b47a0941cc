package binlog

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	driver "github.com/go-sql-driver/mysql"
)

const (
	uuidA = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	uuidB = "8c2f4bb0-1b1d-11ef-9a4b-0242ac120002"
)

func TestPositionStringParse(t *testing.T) {
	cases := []struct {
		p    Position
		text string
	}{
		{Position{File: "binlog.000003", Pos: 154}, "binlog.000003:154"},
		{Position{File: "mysql-bin.000012", Pos: 4, GTID: "0-1-42"}, "mysql-bin.000012:4 gtid=0-1-42"},
		{Position{GTID: "0-1-42,1-2-7"}, "gtid=0-1-42,1-2-7"},
		{Position{File: "binlog.000001", Pos: 4294967295, GTID: uuidA + ":1-5:7"}, "binlog.000001:4294967295 gtid=" + uuidA + ":1-5:7"},
		{Position{GTID: uuidA + ":1-5," + uuidB + ":1-3"}, "gtid=" + uuidA + ":1-5," + uuidB + ":1-3"},
		{Position{File: "host:name-bin.000001", Pos: 10}, "host:name-bin.000001:10"},
		{Position{}, "(none)"},
	}
	for _, c := range cases {
		if got := c.p.String(); got != c.text {
			t.Errorf("%#v.String() = %q, want %q", c.p, got, c.text)
		}
		back, err := ParsePosition(c.text)
		if err != nil {
			t.Errorf("ParsePosition(%q): %v", c.text, err)
			continue
		}
		if back != c.p {
			t.Errorf("ParsePosition(%q) = %#v, want %#v", c.text, back, c.p)
		}
	}
	for _, bad := range []string{"binlog.000001", "binlog.000001:", ":4", "binlog.000001:x", "binlog.000001:99999999999", "gtid="} {
		if p, err := ParsePosition(bad); err == nil {
			t.Errorf("ParsePosition(%q) = %#v, want an error", bad, p)
		}
	}
}

func TestPositionCompare(t *testing.T) {
	a := Position{File: "binlog.000009", Pos: 500}
	b := Position{File: "binlog.000010", Pos: 4}
	c := Position{File: "binlog.000010", Pos: 900}
	if a.Compare(b) != -1 || b.Compare(a) != 1 || b.Compare(c) != -1 || c.Compare(c) != 0 {
		t.Fatalf("Compare order wrong: %d %d %d %d", a.Compare(b), b.Compare(a), b.Compare(c), c.Compare(c))
	}
	// Numeric, not lexical: 000100 > 000099 and 1000000 > 999999.
	if (Position{File: "b.1000000"}).Compare(Position{File: "b.999999"}) != 1 {
		t.Fatal("numeric extension compared lexically")
	}
	// No numeric extension: no panic (go-mysql would panic), lexical order.
	if (Position{File: "odd"}).Compare(Position{File: "odd.x"}) == 0 {
		t.Fatal("odd names compared equal")
	}
}

func TestGTIDParseBothFlavors(t *testing.T) {
	maria := []struct{ in, want string }{
		{"0-1-42", "0-1-42"},
		{"1-2-7,0-1-42", "0-1-42,1-2-7"},
		{" 0-1-42 ,\n1-2-7 ", "0-1-42,1-2-7"},
		{"", ""},
	}
	for _, c := range maria {
		got, err := NormalizeGTID(FlavorMariaDB, c.in)
		if err != nil || got != c.want {
			t.Errorf("NormalizeGTID(mariadb, %q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	mysql := []struct{ in, want string }{
		{uuidA + ":1-5", uuidA + ":1-5"},
		{uuidA + ":1-3:4-5", uuidA + ":1-5"},
		{uuidA + ":1-5,\n" + uuidB + ":1-3", uuidA + ":1-5," + uuidB + ":1-3"},
		{uuidB + ":1-3," + uuidA + ":1-5", uuidA + ":1-5," + uuidB + ":1-3"},
		{uuidA + ":7", uuidA + ":7"},
	}
	for _, c := range mysql {
		got, err := NormalizeGTID(FlavorMySQL, c.in)
		if err != nil || got != c.want {
			t.Errorf("NormalizeGTID(mysql, %q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []struct{ flavor, s string }{
		{FlavorMariaDB, "0-1"},
		{FlavorMariaDB, "a-b-c"},
		{FlavorMariaDB, uuidA + ":1-5"},
		{FlavorMySQL, "0-1-42"},
		{FlavorMySQL, "not-a-uuid:1-5"},
		{"postgres", "0-1-2"},
	} {
		if _, err := ParseGTIDSet(bad.flavor, bad.s); err == nil {
			t.Errorf("ParseGTIDSet(%s, %q): no error", bad.flavor, bad.s)
		}
	}
	if f := GuessGTIDFlavor("0-1-42,1-2-3"); f != FlavorMariaDB {
		t.Errorf("GuessGTIDFlavor(mariadb) = %q", f)
	}
	if f := GuessGTIDFlavor(uuidA + ":1-5"); f != FlavorMySQL {
		t.Errorf("GuessGTIDFlavor(mysql) = %q", f)
	}
	if f := GuessGTIDFlavor("nonsense"); f != "" {
		t.Errorf("GuessGTIDFlavor(nonsense) = %q", f)
	}
}

func TestClassifyErrors(t *testing.T) {
	from := Position{File: "binlog.000001", Pos: 4}
	purged := &gomysql.MyError{Code: 1236, State: "HY000",
		Message: "Could not find first log file name in binary log index file"}
	perm, err := streamFailure(fmt.Errorf("wrapped: %w", purged), from)
	if !perm || !errors.Is(err, ErrBinlogPurged) {
		t.Fatalf("file purged: permanent=%v err=%v", perm, err)
	}
	for _, want := range []string{"binlog.000001", "start: initial", "cdc --reset", "on_purged: resnapshot"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("purged error %q lacks %q", err, want)
		}
	}
	var pe *PurgedError
	if !errors.As(err, &pe) || pe.From != from {
		t.Fatalf("not a *PurgedError naming the position: %#v", err)
	}

	gfrom := Position{GTID: "0-1-5"}
	for _, msg := range []string{
		"Could not find GTID state requested by slave in any binlog files. Probably the slave state is too old and required binlog files have been purged.",
		"Cannot replicate because the source purged required binary logs. Replicate the missing transactions from elsewhere",
	} {
		perm, err := streamFailure(&gomysql.MyError{Code: 1236, Message: msg}, gfrom)
		if !perm || !errors.Is(err, ErrBinlogPurged) || !strings.Contains(err.Error(), "0-1-5") {
			t.Errorf("gtid purged %q: permanent=%v err=%v", msg, perm, err)
		}
	}
	// Other 1236: permanent, not purged.
	perm, err = streamFailure(&gomysql.MyError{Code: 1236, Message: "Error: connecting slave requested to start from GTID 0-1-900, which is not in the master's binlog"}, gfrom)
	if !perm || errors.Is(err, ErrBinlogPurged) || !strings.Contains(err.Error(), "never had") || !strings.Contains(err.Error(), "cdc --reset") {
		t.Errorf("gtid ahead: permanent=%v err=%v; want a remedy", perm, err)
	}
	perm, err = streamFailure(&gomysql.MyError{Code: 1236, Message: "Slave has more GTIDs than the master has, using the master's SERVER_UUID."},
		Position{GTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77"})
	if !perm || !strings.Contains(err.Error(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77 holds transactions this server never had") {
		t.Errorf("mysql gtid ahead: permanent=%v err=%v; want a remedy", perm, err)
	}
	// A position inside an event: permanent, with what to do.
	perm, err = streamFailure(&gomysql.MyError{Code: 1236, Message: "binlog truncated in the middle of event; consider out of disk space on master; " +
		"the first event 'binlog.000001' at 4, the last event read from './binlog.000001' at 126, the last byte read from './binlog.000001' at 150."},
		Position{File: "binlog.000001", Pos: 130})
	if !perm || !strings.Contains(err.Error(), "offset 130 is not the start of an event in binlog.000001") ||
		!strings.Contains(err.Error(), "SHOW BINLOG EVENTS IN 'binlog.000001'") {
		t.Errorf("position inside an event: permanent=%v err=%v; want a remedy", perm, err)
	}
	// A 1236 the classifier does not know keeps the server's words only.
	if _, err := streamFailure(&gomysql.MyError{Code: 1236, Message: "something new"}, from); strings.Contains(err.Error(), "cdc --reset") {
		t.Errorf("unknown 1236 got a made-up remedy: %v", err)
	}
	// Access denied (either driver): permanent.
	if perm, _ := streamFailure(&driver.MySQLError{Number: 1045, Message: "Access denied"}, from); !perm {
		t.Error("1045 not permanent")
	}
	if perm, _ := streamFailure(&gomysql.MyError{Code: 1227, Message: "need REPLICATION SLAVE"}, from); !perm {
		t.Error("1227 not permanent")
	}
	// Connection loss and server shutdown: retried.
	for _, e := range []error{
		errors.New("connection was bad"),
		&gomysql.MyError{Code: 1927, Message: "Connection was killed"},
		&gomysql.MyError{Code: 1053, Message: "Server shutdown in progress"},
	} {
		if perm, _ := streamFailure(e, from); perm {
			t.Errorf("%v classified permanent", e)
		}
	}
}

func TestClassifyQuery(t *testing.T) {
	cases := map[string]queryKind{
		"BEGIN":                            queryBegin,
		"  begin ":                         queryBegin,
		"XA START X'31',X'',1":             queryBegin,
		"SAVEPOINT `sp1`":                  queryInside,
		"ROLLBACK TO `sp1`":                queryInside,
		"XA END X'31',X'',1":               queryInside,
		"COMMIT":                           queryCommit,
		"ROLLBACK":                         queryCommit,
		"XA COMMIT X'31',X'',1":            queryCommit,
		"XA ROLLBACK X'31',X'',1":          queryCommit,
		"CREATE TABLE t (id INT)":          queryOther,
		"ALTER TABLE t ADD c INT":          queryOther,
		"BEGINNING_TABLE_DDL_IS_NOT_BEGIN": queryOther,
		"COMMITTED_LOG (x int)":            queryOther,
		"/* c */ DROP TABLE t":             queryOther,
	}
	for q, want := range cases {
		if got := classifyQuery(q); got != want {
			t.Errorf("classifyQuery(%q) = %d, want %d", q, got, want)
		}
	}
}

func TestParseGrants(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		ok    bool
		warn  bool
	}{
		{"mariadb 10.11 bridge", []string{
			"GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `bridge`@`127.0.0.1` IDENTIFIED BY PASSWORD '*ABC'",
		}, true, false},
		{"mysql 8 bridge, select on one db", []string{
			"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `bridge`@`%`",
			"GRANT SELECT ON `factory`.* TO `bridge`@`%`",
		}, true, false},
		{"root", []string{
			"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION",
			"GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION",
		}, true, false},
		{"column select only, no replication", []string{
			"GRANT USAGE ON *.* TO `u`@`%`",
			"GRANT SELECT (a, b), INSERT ON `db`.`t` TO `u`@`%`",
		}, false, false},
		{"replication slave on a db does not count", []string{
			"GRANT SELECT ON *.* TO `u`@`%`",
			"GRANT REPLICATION SLAVE ON `db`.* TO `u`@`%`",
		}, false, false},
		{"missing but roles granted", []string{
			"GRANT SELECT ON *.* TO `u`@`%`",
			"GRANT `cdc_role` TO `u`@`%`",
		}, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch := evalGrants(c.lines)
			if ch.OK != c.ok || ch.Warning != c.warn {
				t.Fatalf("evalGrants = %+v, want ok=%v warn=%v", ch, c.ok, c.warn)
			}
		})
	}
	g := ParseGrants([]string{"GRANT SELECT (a, b), INSERT ON `db`.`t` TO `u`@`%`"})
	if len(g.Select) != 1 || g.Select[0] != "`db`.`t`" || g.ReplicationSlave {
		t.Fatalf("ParseGrants column privilege: %+v", g)
	}
}
