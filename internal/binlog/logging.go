package binlog

import (
	"context"
	"log/slog"
	"strings"
)

// quietHandler is the slog handler given to go-mysql. go-mysql logs its
// whole BinlogSyncerConfig as the attribute "config" when a syncer is
// created; that struct holds the replication password (and funcs that JSON
// cannot encode), so the attribute is dropped, as is any attribute whose key
// names a password.
type quietHandler struct{ slog.Handler }

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if !secretKey(a.Key) {
			out.AddAttrs(a)
		}
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	kept := attrs[:0:0]
	for _, a := range attrs {
		if !secretKey(a.Key) {
			kept = append(kept, a)
		}
	}
	return quietHandler{h.Handler.WithAttrs(kept)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name)}
}

func secretKey(k string) bool {
	k = strings.ToLower(k)
	return k == "config" || strings.Contains(k, "password") || strings.Contains(k, "passwd")
}
