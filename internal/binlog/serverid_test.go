package binlog

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
)

// Another replica with our server_id: permanent, with a message that says
// what to change, in every shape the servers send it.
func TestClassifyDuplicateServerID(t *testing.T) {
	from := Position{File: "binlog.000001", Pos: 4}
	for _, e := range []error{
		// MariaDB 10.11, to the newcomer (as go-mysql returns it).
		&gomysql.MyError{Code: 4052, State: "HY000", Message: "A slave with the same server_uuid/server_id is already connected; " +
			"the first event '.' at 0, the last event read from 'binlog.000001' at 504, the last byte read from 'binlog.000001' at 902."},
		// MariaDB, to the replica dropped for the newcomer.
		fmt.Errorf("wrapped: %w", &gomysql.MyError{Code: 4052, State: "HY000",
			Message: "A slave with the same server_uuid/server_id as this slave has connected to the master"}),
		// As a plain error text.
		errors.New("ERROR 4052 (HY000): A slave with the same server_uuid/server_id is already connected"),
		// MySQL 8.0 / 5.7.
		&gomysql.MyError{Code: 1236, State: "HY000", Message: "A replica with the same server_uuid/server_id as this replica has connected to the source; " +
			"the first event 'binlog.000002' at 126, the last event read from './binlog.000002' at 126, the last byte read from './binlog.000002' at 126."},
		&gomysql.MyError{Code: 1236, State: "HY000", Message: "A slave with the same server_uuid/server_id as this slave has connected to the master; " +
			"the first event 'mysql-bin.000001' at 4, the last event read from './mysql-bin.000001' at 154"},
	} {
		perm, err := streamFailure(e, from)
		if !perm || !errors.Is(err, ErrDuplicateServerID) || errors.Is(err, ErrBinlogPurged) {
			t.Errorf("%v: permanent=%v err=%v", e, perm, err)
			continue
		}
		for _, want := range []string{"another replica uses this bridge's server_id", "set a unique mysql.server_id", "same server_uuid/server_id"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q lacks %q", err, want)
			}
		}
	}
	// Other 1236s stay what they were.
	perm, err := streamFailure(&gomysql.MyError{Code: 1236, Message: "Could not find first log file name in binary log index file"}, from)
	if !perm || !errors.Is(err, ErrBinlogPurged) || errors.Is(err, ErrDuplicateServerID) {
		t.Errorf("purged: permanent=%v err=%v", perm, err)
	}
}
