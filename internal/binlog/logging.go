package binlog

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"unicode"

	"github.com/rs/zerolog"
)

// goMySQLComponent tags go-mysql's own log lines.
const goMySQLComponent = "go-mysql"

// goMySQLLogger is the logger to give go-mysql (BinlogSyncerConfig.Logger).
// base must be the caller's logger, not one already tagged with a
// component (the Streamer's own is: zerolog appends fields, so a second
// "component" would be a duplicate JSON key, which Elasticsearch and Loki
// reject). Its lines carry component=go-mysql, go-mysql's INFO at debug
// (see quietHandler).
func goMySQLLogger(base zerolog.Logger) *slog.Logger {
	return slog.New(quietHandler{zerolog.NewSlogHandler(base.With().Str("component", goMySQLComponent).Logger())})
}

// quietHandler is the slog handler given to go-mysql (wrapping the zerolog
// one). It:
//
//   - logs go-mysql's INFO at debug: connecting, rotating, closing, once per
//     (re)connection, is chatter next to our own lines; WARN and ERROR stay;
//   - drops secrets: go-mysql logs its whole BinlogSyncerConfig as the
//     attribute "config" when a syncer is created; that struct holds the
//     replication password (and funcs that JSON cannot encode), so the
//     attribute is dropped, as is any attribute whose key names a password;
//   - rewrites attribute keys to snake_case ("GTID set" -> gtid_set,
//     maxAttempts -> max_attempts): go-mysql's keys have spaces and capitals,
//     which log pipelines index badly or reject. A key that would repeat one
//     of the line's own fields (level, time, message, component, ...) or an
//     earlier attribute of the record gets a suffix, so a line never holds a
//     key twice.
type quietHandler struct{ slog.Handler }

// goMySQLLevel maps a go-mysql level to the one logged: INFO becomes DEBUG.
func goMySQLLevel(l slog.Level) slog.Level {
	if l >= slog.LevelInfo && l < slog.LevelWarn {
		return slog.LevelDebug
	}
	return l
}

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, goMySQLLevel(l))
}

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, goMySQLLevel(r.Level), r.Message, r.PC)
	seen := make(map[string]bool, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		if a, ok := cleanAttr(a); ok {
			a.Key = uniqueKey(a.Key, seen)
			out.AddAttrs(a)
		}
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	kept := make([]slog.Attr, 0, len(attrs))
	seen := make(map[string]bool, len(attrs))
	for _, a := range attrs {
		if a, ok := cleanAttr(a); ok {
			a.Key = uniqueKey(a.Key, seen)
			kept = append(kept, a)
		}
	}
	return quietHandler{h.Handler.WithAttrs(kept)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(snakeCase(name))}
}

// cleanAttr drops a secret attribute (ok false) and rewrites the keys of
// the others, inside groups too.
func cleanAttr(a slog.Attr) (_ slog.Attr, ok bool) {
	if secretKey(a.Key) {
		return a, false
	}
	a.Key = snakeCase(a.Key)
	a.Value = a.Value.Resolve() // a LogValuer may be a group
	if a.Value.Kind() == slog.KindGroup {
		group := a.Value.Group()
		kept := make([]slog.Attr, 0, len(group))
		seen := make(map[string]bool, len(group))
		for _, g := range group {
			if g, ok := cleanAttr(g); ok {
				if g.Key != "" {
					g.Key = uniqueIn(g.Key, seen)
				}
				kept = append(kept, g)
			}
		}
		a.Value = slog.GroupValue(kept...)
	}
	return a, true
}

// uniqueKey returns key, or key with a suffix when it is one of the fields
// every line has (or one already in seen); it records the result in seen.
// An empty key (an inlined group) is left alone.
func uniqueKey(key string, seen map[string]bool) string {
	if key == "" {
		return key
	}
	switch key {
	case zerolog.LevelFieldName, zerolog.TimestampFieldName, zerolog.MessageFieldName,
		zerolog.CallerFieldName, zerolog.ErrorStackFieldName, "component":
		key = "go_mysql_" + key
	}
	return uniqueIn(key, seen)
}

func uniqueIn(key string, seen map[string]bool) string {
	k := key
	for n := 2; seen[k]; n++ {
		k = key + "_" + strconv.Itoa(n)
	}
	seen[k] = true
	return k
}

func secretKey(k string) bool {
	k = strings.ToLower(k)
	return k == "config" || strings.Contains(k, "password") || strings.Contains(k, "passwd")
}

// snakeCase rewrites an attribute key to lower snake_case: a space or any
// other character that is not a letter or a digit becomes one underscore,
// and a capital that starts a word ("maxAttempts", "GTIDSet") gets one
// before it: "GTID set" -> gtid_set, "last read GTID" -> last_read_gtid,
// maxAttempts -> max_attempts, GTIDSet -> gtid_set. Keys already in that
// form are returned as they are, without allocating.
func snakeCase(k string) string {
	plain := true
	for i := 0; i < len(k); i++ {
		if c := k[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			plain = false
			break
		}
	}
	if plain {
		return k
	}
	rs := []rune(k)
	var b strings.Builder
	b.Grow(len(k) + 4)
	under := true // at the start, or just wrote '_': no '_' now
	sep := func() {
		if !under {
			b.WriteByte('_')
			under = true
		}
	}
	for i, r := range rs {
		switch {
		case unicode.IsUpper(r):
			if i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]) ||
				unicode.IsUpper(rs[i-1]) && i+1 < len(rs) && unicode.IsLower(rs[i+1])) {
				sep()
			}
			b.WriteRune(unicode.ToLower(r))
			under = false
		case !unicode.IsLetter(r) && !unicode.IsDigit(r): // space, '_', '.', '-', ...
			sep()
		default:
			b.WriteRune(r)
			under = false
		}
	}
	s := strings.TrimSuffix(b.String(), "_")
	if s == "" {
		return "attr"
	}
	return s
}
