package iotdbsink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"
	"github.com/apache/iotdb-client-go/v2/rpc"

	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// Device templates (tree model, config device_template; docs/iotdb.md
// §3.6). ensureTemplate puts a mapping's template in place once per sink:
//
//  1. the database exists (CREATE DATABASE, "already exists" is fine);
//  2. SHOW NODES IN DEVICE TEMPLATE reads the template; an unknown one
//     (512) is created with CREATE DEVICE TEMPLATE from the measurements,
//     aligned as the mapping; one that exists must hold every measurement
//     with the mapping's type (extra measurements are harmless);
//  3. SHOW PATHS SET DEVICE TEMPLATE says where it is set; unless the
//     fixed beginning of the device path is among them, SET DEVICE
//     TEMPLATE sets it there.
//
// A refusal at any step (series created without the template under the
// path, another template set there, a template with other types) comes
// back as (code, message) and becomes a systemic Rejection: the engines
// stop with the remedy (systemic.go) instead of writing rows that would be
// refused one by one.

// ensureTemplate returns (0, "", nil) when the template is in place.
func (s *Sink) ensureTemplate(ctx context.Context, sc *mapping.Schema) (int32, string, error) {
	if s.schemas.templateReady(sc) {
		return 0, "", nil
	}
	s.tmplMu.Lock() // one sink puts one template in place at a time
	defer s.tmplMu.Unlock()
	if s.schemas.templateReady(sc) {
		return 0, "", nil
	}
	if code, msg, err := s.ensureDB(ctx, sc.Database); err != nil || msg != "" {
		return code, msg, err
	}
	var code int32
	var msg string
	err := s.retry(ctx, "createTemplate", func() error {
		return s.withSession(ctx, "createTemplate", func(sess *session) error {
			var err error
			code, msg, err = s.placeTemplate(ctx, sess, sc)
			return err
		})
	})
	if err != nil {
		var se *StatusError
		if ctx.Err() != nil || Retryable(err) || !errors.As(err, &se) {
			return 0, "", err
		}
		code, msg = se.Code, se.Message
		if code == client.MultipleError {
			code, msg = firstFailure(se)
		}
		msg = fmt.Sprintf("device template %s of table %s: %s", sc.Template, sc.SourceTable, msg)
	}
	if msg == "" {
		s.schemas.setTemplateReady(sc, true)
		s.log.Info().Str("template", sc.Template).Str("path", sc.TemplatePath).Str("table", sc.SourceTable).
			Int("measurements", len(sc.Measurements)).Msg("device template in place: devices under the path need no schema calls")
	}
	return code, msg, nil
}

// placeTemplate runs steps 2 and 3 on one session. A refusal of the
// mapping by what exists is (code, message); a status error from IoTDB is
// returned as the error.
func (s *Sink) placeTemplate(ctx context.Context, sess *session, sc *mapping.Schema) (int32, string, error) {
	timeout := s.cfg.WriteTimeout
	read := func() (map[string]client.TSDataType, error) {
		nodes := map[string]client.TSDataType{}
		err := sess.query(ctx, timeout, "SHOW NODES IN DEVICE TEMPLATE "+sc.Template, []string{"ChildNodes", "DataType"}, func(v []string) {
			if t, err := client.GetDataTypeByStr(strings.ToUpper(v[1])); err == nil {
				nodes[unquote(v[0])] = t
			}
		})
		return nodes, err
	}
	nodes, err := read()
	if err != nil && statusCode(err) == client.UndefinedTemplate {
		err = sess.exec(ctx, timeout, createTemplateSQL(sc))
		if err == nil || statusCode(err) == client.DuplicatedTemplate { // created meanwhile by another writer
			nodes, err = read()
		}
	}
	if err != nil {
		return 0, "", err
	}
	for i, m := range sc.Measurements {
		t, ok := nodes[unquote(m)]
		switch {
		case !ok:
			return client.TemplateIncompatible, fmt.Sprintf("device template %s exists without measurement %s, which the mapping of table %s writes as %s: add it (ALTER DEVICE TEMPLATE %s ADD (%s %s)) or name another template in device_template",
				sc.Template, m, sc.SourceTable, TypeName(sc.Types[i]), sc.Template, m, TypeName(sc.Types[i])), nil
		case t != sc.Types[i]:
			return client.TemplateIncompatible, fmt.Sprintf("device template %s has measurement %s as %s but the mapping of table %s writes %s: align measurements[].type with the template, or name another template in device_template",
				sc.Template, m, TypeName(t), sc.SourceTable, TypeName(sc.Types[i])), nil
		}
	}
	set := false
	err = sess.query(ctx, timeout, "SHOW PATHS SET DEVICE TEMPLATE "+sc.Template, []string{"Paths"}, func(v []string) {
		set = set || v[0] == sc.TemplatePath
	})
	if err != nil {
		return 0, "", err
	}
	if set {
		return 0, "", nil
	}
	err = sess.exec(ctx, timeout, "SET DEVICE TEMPLATE "+sc.Template+" TO "+sc.TemplatePath)
	var se *StatusError
	if err != nil && errors.As(err, &se) && !Retryable(err) {
		return se.Code, fmt.Sprintf("setting device template %s on %s for table %s: %s: the path must hold no series created without the template and no other template (drop them, or remove device_template from the mapping)",
			sc.Template, sc.TemplatePath, sc.SourceTable, se.Message), nil
	}
	return 0, "", err
}

func createTemplateSQL(sc *mapping.Schema) string {
	var b strings.Builder
	b.WriteString("CREATE DEVICE TEMPLATE ")
	b.WriteString(sc.Template)
	if sc.Aligned {
		b.WriteString(" ALIGNED")
	}
	b.WriteString(" (")
	for i, m := range sc.Measurements {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s ENCODING=%s COMPRESSOR=LZ4", m, TypeName(sc.Types[i]), encodingName(defaultEncoding(sc.Types[i])))
	}
	b.WriteByte(')')
	return b.String()
}

// activateTemplates activates the template on the devices of ch that use
// one (a server with auto-create off does not activate on write): one
// CREATE TIMESERIES USING DEVICE TEMPLATE ON per device, batched; "already
// activated" is fine. It reports whether any device was activated.
func (s *Sink) activateTemplates(ctx context.Context, ch chunk) (bool, error) {
	var stmts []string
	seen := map[string]bool{}
	for _, sg := range ch.segs {
		if sg.g.schema.Template == "" || seen[sg.g.device] {
			continue
		}
		seen[sg.g.device] = true
		stmts = append(stmts, "CREATE TIMESERIES USING DEVICE TEMPLATE ON "+sg.g.device)
	}
	any := false
	for lo := 0; lo < len(stmts); lo += schemaBatchStatements {
		batch := stmts[lo:min(len(stmts), lo+schemaBatchStatements)]
		err := s.retry(ctx, "activateTemplate", func() error {
			return s.withSession(ctx, "activateTemplate", func(sess *session) error {
				return sess.execBatch(ctx, s.cfg.WriteTimeout, batch)
			})
		})
		var se *StatusError
		switch {
		case err == nil:
			any = true
		case ctx.Err() != nil || Retryable(err) || !errors.As(err, &se):
			return any, err
		case se.Code == client.MultipleError:
			for _, sub := range se.Sub {
				any = any || sub == nil || sub.Code == client.SuccessStatus
			}
		}
	}
	return any, nil
}

// execBatch runs statements with one executeBatchStatement. A 302 answer
// carries one sub-status per statement (docs/iotdb.md §5.4).
func (s *session) execBatch(ctx context.Context, timeout time.Duration, stmts []string) error {
	return s.call(ctx, timeout, "executeBatchStatement", func(ctx context.Context) error {
		st, err := s.rpc.ExecuteBatchStatement(ctx, &rpc.TSExecuteBatchStatementReq{SessionId: s.id, Statements: stmts})
		if err != nil {
			return err
		}
		return checkStatus("executeBatchStatement", st)
	})
}
