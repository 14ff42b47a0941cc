package iotdbsink

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

// ProbeResult is what Probe learned: whether IoTDB would take a run's
// writes, found without writing anything.
type ProbeResult struct {
	Nodes        []string
	User         string
	Model        string
	CreateSchema bool

	// Err is why no session could be opened (unreachable, wrong password);
	// nothing below is known then.
	Err error
	// Precision is the server's timestamp precision.
	Precision string
	// Databases are the databases the mappings write to, in the order
	// asked, and whether each exists. ListErr is why SHOW DATABASES failed
	// (then no database is known).
	Databases []ProbeDatabase
	ListErr   error
	// Privileges is one line about the user's privileges; WriteDenied is
	// set when they were read and hold no write privilege.
	Privileges  string
	WriteDenied bool
}

// ProbeDatabase is one database a mapping writes to.
type ProbeDatabase struct {
	Name   string
	Exists bool
}

// probeRetry bounds how long a dry run waits for an unreachable IoTDB.
var probeRetry = config.Retry{Initial: 100 * time.Millisecond, Max: time.Second, Elapsed: 10 * time.Second}

// Probe opens one session with cfg's address and credentials, exactly as a
// run does (a wrong password fails here, as it would at the start of a
// run), and asks the server, with statements that change nothing, for its
// timestamp precision, the databases (SHOW DATABASES) and the user's
// privileges (LIST PRIVILEGES OF USER, except for root, which holds every
// privilege). Nothing is created, not even with create_schema. Unreachable
// nodes are retried for at most 10 s.
func Probe(ctx context.Context, cfg config.IoTDB, log zerolog.Logger, databases []string) *ProbeResult {
	p := &ProbeResult{Nodes: cfg.Nodes, User: cfg.User, Model: cfg.Model, CreateSchema: cfg.CreateSchema}
	c := cfg
	// The session a run opens (the table model's names its database, as a
	// run's does), but CreateSchema false: Open creates no database.
	c.Sessions, c.CreateSchema, c.Retry = 1, false, probeRetry
	s, err := New(c, log)
	if err == nil {
		err = s.Open(ctx)
		defer s.Close()
	}
	if err != nil {
		p.Err = err
		return p
	}
	p.Precision = s.Precision()
	timeout := s.cfg.WriteTimeout
	existing := map[string]bool{}
	p.ListErr = s.withSession(ctx, "showDatabases", func(sess *session) error {
		return sess.query(ctx, timeout, "SHOW DATABASES", []string{"Database"}, func(v []string) { existing[v[0]] = true })
	})
	if p.ListErr == nil {
		for _, db := range databases {
			p.Databases = append(p.Databases, ProbeDatabase{Name: db, Exists: existing[db]})
		}
	}
	if cfg.User == config.DefaultIoTDBUser {
		p.Privileges = "root holds every privilege"
		return p
	}
	var privs []string
	stmt := "LIST PRIVILEGES OF USER " + sqlIdent(cfg.User)
	err = s.withSession(ctx, "listPrivileges", func(sess *session) error {
		return sess.query(ctx, timeout, stmt, []string{"Privileges"}, func(v []string) {
			for _, x := range strings.FieldsFunc(v[0], func(r rune) bool { return r == ',' || r == ' ' }) {
				if !slices.Contains(privs, x) {
					privs = append(privs, x)
				}
			}
		})
	})
	switch {
	case err != nil:
		p.Privileges = fmt.Sprintf("not checked (%s failed: %v); the first write will tell", stmt, err)
	case !slices.ContainsFunc(privs, isWritePrivilege):
		p.WriteDenied = true
		p.Privileges = fmt.Sprintf("%s holds no write privilege (%s): GRANT WRITE_DATA (and WRITE_SCHEMA for create_schema) to it",
			cfg.User, strings.Join(privs, ", "))
	default:
		p.Privileges = fmt.Sprintf("%s holds %s", cfg.User, strings.Join(privs, ", "))
	}
	return p
}

// isWritePrivilege is a privilege that lets a user write points (IoTDB
// 1.3+ WRITE_DATA, older INSERT_TIMESERIES, table model INSERT, ALL).
func isWritePrivilege(p string) bool {
	p = strings.ToUpper(p)
	return p == "WRITE_DATA" || p == "WRITE" || p == "INSERT_TIMESERIES" || p == "INSERT" || p == "ALL"
}

// missing is a database that does not exist.
func (p *ProbeResult) missing() []string {
	var out []string
	for _, d := range p.Databases {
		if !d.Exists {
			out = append(out, d.Name)
		}
	}
	return out
}

// CanWrite reports whether the run could write, as far as the probe can
// tell: a session opened, no database is missing that nothing would
// create, and the user's privileges (when they could be read) allow writes.
func (p *ProbeResult) CanWrite() bool {
	if p == nil {
		return true
	}
	return p.Err == nil && !p.WriteDenied && (p.CreateSchema || len(p.missing()) == 0)
}

// Lines is the probe's report, as a dry run prints it.
func (p *ProbeResult) Lines() []string {
	if p == nil {
		return nil
	}
	nodes := strings.Join(p.Nodes, ",")
	if p.Err != nil {
		return []string{fmt.Sprintf("IoTDB %s: cannot open a session as %s: %v", nodes, p.User, p.Err),
			"IoTDB: a run would fail at its start: check iotdb.nodes, iotdb.user and the password"}
	}
	out := []string{fmt.Sprintf("IoTDB %s: session opened as %s (timestamp precision %s)", nodes, p.User, p.Precision)}
	if p.ListErr != nil {
		out = append(out, fmt.Sprintf("  databases: not checked (SHOW DATABASES failed: %v)", p.ListErr))
	}
	for _, d := range p.Databases {
		switch {
		case d.Exists:
			out = append(out, fmt.Sprintf("  database %s: exists", d.Name))
		case p.CreateSchema:
			out = append(out, fmt.Sprintf("  database %s: does not exist yet; the run creates it (iotdb.create_schema: true)", d.Name))
		default:
			out = append(out, fmt.Sprintf("  database %s: does not exist, and iotdb.create_schema is false: create it, or set create_schema: true", d.Name))
		}
	}
	out = append(out, "  privileges: "+p.Privileges)
	if p.CanWrite() {
		out = append(out, "IoTDB: ready for this run's writes")
	} else {
		out = append(out, "IoTDB: this run's writes would be refused (see above)")
	}
	return out
}
