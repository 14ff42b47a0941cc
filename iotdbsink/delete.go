package iotdbsink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/iotdb-client-go/v2/client"
	"github.com/apache/iotdb-client-go/v2/rpc"
)

// maxDeletePaths bounds the paths of one deleteData call.
const maxDeletePaths = 1000

// Delete removes points. Tree model: the deleteData RPC (a time range, here
// [T, T], over a list of series paths), one call per distinct timestamp
// covering every device and measurement deleted at that time; it needs no SQL
// rendering and batches well. Table model: one
// `DELETE FROM t WHERE time = T AND tag = '...' ...` per deletion; the table
// model deletes whole rows, so Deletion.Measurements is ignored. A 508
// (path does not exist) counts as success. Transient errors are retried;
// any other failure is returned, naming the devices.
func (s *Sink) Delete(ctx context.Context, dels []Deletion) error {
	if len(dels) == 0 {
		return nil
	}
	if s.pool == nil {
		return errors.New("iotdb sink: Delete before Open")
	}
	if s.table {
		for _, d := range dels {
			stmt, err := tableDeleteSQL(d)
			if err != nil {
				return err
			}
			if err := s.deleteCall(ctx, "delete", d.Device, func(sess *session) error {
				return sess.exec(ctx, s.cfg.WriteTimeout, stmt)
			}); err != nil {
				return err
			}
		}
		return nil
	}
	// Tree: gather the paths per timestamp, in first-appearance order.
	var times []int64
	paths := make(map[int64][]string)
	for _, d := range dels {
		if d.Schema == nil {
			return fmt.Errorf("deleting from %s: no schema", d.Device)
		}
		if _, ok := paths[d.Time]; !ok {
			times = append(times, d.Time)
		}
		add := func(i int) error {
			if i < 0 || i >= len(d.Schema.Measurements) {
				return fmt.Errorf("deleting from %s: measurement index %d out of range", d.Device, i)
			}
			paths[d.Time] = append(paths[d.Time], d.Device+"."+d.Schema.Measurements[i])
			return nil
		}
		if d.Measurements == nil {
			for i := range d.Schema.Measurements {
				_ = add(i)
			}
		}
		for _, i := range d.Measurements {
			if err := add(i); err != nil {
				return err
			}
		}
	}
	for _, t := range times {
		ps := paths[t]
		for len(ps) > 0 {
			n := min(len(ps), maxDeletePaths)
			part := ps[:n]
			ps = ps[n:]
			what := part[0]
			if n > 1 {
				what = fmt.Sprintf("%s and %d more", part[0], n-1)
			}
			if err := s.deleteCall(ctx, "deleteData", what, func(sess *session) error {
				return sess.call(ctx, s.cfg.WriteTimeout, "deleteData", func(ctx context.Context) error {
					st, err := sess.rpc.DeleteData(ctx, &rpc.TSDeleteDataReq{SessionId: sess.id, Paths: part, StartTime: t, EndTime: t})
					if err != nil {
						return err
					}
					return checkStatus("deleteData", st)
				})
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Sink) deleteCall(ctx context.Context, op, what string, fn func(*session) error) error {
	err := s.retry(ctx, op, func() error {
		err := s.withSession(ctx, op, fn)
		if statusCode(err) == client.PathNotExist {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting %s: %w", what, err)
	}
	return nil
}

// tableDeleteSQL renders a table-model row delete. The tag values are the
// Device key (tag values joined by "\x00", in the schema's tag order).
func tableDeleteSQL(d Deletion) (string, error) {
	sc := d.Schema
	if sc == nil || sc.TargetTable == "" {
		return "", fmt.Errorf("deleting %q: schema without target table", d.Device)
	}
	var tags []string
	for i, c := range sc.Categories {
		if c == client.TAG {
			tags = append(tags, sc.Measurements[i])
		}
	}
	var vals []string
	if len(tags) > 0 {
		vals = strings.Split(d.Device, "\x00")
	}
	if len(vals) != len(tags) {
		return "", fmt.Errorf("deleting from %s: device key has %d tag values, table has %d tags", sc.TargetTable, len(vals), len(tags))
	}
	var b strings.Builder
	b.WriteString("DELETE FROM ")
	b.WriteString(sqlIdent(sc.TargetTable))
	b.WriteString(" WHERE time = ")
	b.WriteString(strconv.FormatInt(d.Time, 10))
	for i, tag := range tags {
		b.WriteString(" AND ")
		b.WriteString(sqlIdent(tag))
		b.WriteString(" = ")
		b.WriteString(sqlString(vals[i]))
	}
	return b.String(), nil
}
