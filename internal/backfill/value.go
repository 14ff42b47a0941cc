package backfill

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Kind is how a key column's values are compared, bound and stored.
type Kind string

// Key column kinds. Only KindInt, KindUint, KindTime and KindDate can be
// split into ranges; the others can only take part in keyset paging.
const (
	KindInt   Kind = "int"   // signed integer types and YEAR
	KindUint  Kind = "uint"  // unsigned integer types
	KindTime  Kind = "time"  // DATETIME, TIMESTAMP (text "2006-01-02 15:04:05.999999")
	KindDate  Kind = "date"  // DATE (text "2006-01-02")
	KindDec   Kind = "dec"   // DECIMAL (exact text)
	KindFloat Kind = "float" // FLOAT, DOUBLE
	KindStr   Kind = "str"   // character strings, ENUM, SET
	KindBytes Kind = "bytes" // binary strings and BIT (hex in Text)
)

// kindOf maps an information_schema DATA_TYPE to a Kind.
func kindOf(dataType string, unsigned bool) Kind {
	switch strings.ToLower(dataType) {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		if unsigned {
			return KindUint
		}
		return KindInt
	case "year":
		return KindInt
	case "datetime", "timestamp":
		return KindTime
	case "date":
		return KindDate
	case "decimal", "numeric":
		return KindDec
	case "float", "double", "real":
		return KindFloat
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit":
		return KindBytes
	default:
		return KindStr
	}
}

// splittable reports whether ranges can be computed on the kind.
func (k Kind) splittable() bool {
	return k == KindInt || k == KindUint || k == KindTime || k == KindDate
}

// Value is one key column value in a form that survives JSON (the state file)
// and binds to a prepared statement with the right type: integers bind as
// int64/uint64 (no float comparison of BIGINTs), times and decimals as text
// the server converts with the column's own rules.
type Value struct {
	Kind Kind   `json:"k"`
	Text string `json:"v"`
}

// String is the value as it appears in messages.
func (v Value) String() string {
	switch v.Kind {
	case KindInt, KindUint, KindDec, KindFloat:
		return v.Text
	case KindBytes:
		return "0x" + v.Text
	default:
		return strconv.Quote(v.Text)
	}
}

// arg is the prepared-statement argument for v.
func (v Value) arg() any {
	switch v.Kind {
	case KindInt:
		if n, err := strconv.ParseInt(v.Text, 10, 64); err == nil {
			return n
		}
	case KindUint:
		if n, err := strconv.ParseUint(v.Text, 10, 64); err == nil {
			return n
		}
	case KindFloat:
		if f, err := strconv.ParseFloat(v.Text, 64); err == nil {
			return f
		}
	case KindBytes:
		if b, err := hex.DecodeString(v.Text); err == nil {
			return b
		}
	}
	return v.Text
}

// literal is v as an SQL literal, for EXPLAIN (which is not prepared). Only
// used with splittable kinds whose text this package produced itself.
func (v Value) literal() string {
	switch v.Kind {
	case KindInt, KindUint:
		return v.Text
	default:
		return "'" + strings.ReplaceAll(strings.ReplaceAll(v.Text, `\`, `\\`), "'", "''") + "'"
	}
}

const (
	timeLayout = "2006-01-02 15:04:05.999999"
	dateLayout = "2006-01-02"
)

// valueOf converts a value delivered by database/sql (text or binary
// protocol, parseTime on or off) into a Value of kind k.
func valueOf(k Kind, v any) (Value, error) {
	if v == nil {
		return Value{}, fmt.Errorf("NULL key value")
	}
	out := Value{Kind: k}
	switch x := v.(type) {
	case int64:
		out.Text = strconv.FormatInt(x, 10)
	case int32:
		out.Text = strconv.FormatInt(int64(x), 10)
	case uint64:
		out.Text = strconv.FormatUint(x, 10)
	case float64:
		out.Text = strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		out.Text = strconv.FormatFloat(float64(x), 'g', -1, 32)
	case time.Time:
		if k == KindDate {
			out.Text = x.Format(dateLayout)
		} else {
			out.Text = x.Format(timeLayout)
		}
	case []byte:
		if k == KindBytes {
			out.Text = hex.EncodeToString(x)
		} else {
			out.Text = string(x)
		}
	case string:
		if k == KindBytes {
			out.Text = hex.EncodeToString([]byte(x))
		} else {
			out.Text = x
		}
	default:
		return Value{}, fmt.Errorf("unsupported key value type %T", v)
	}
	if k == KindTime {
		// Normalise so the same instant always has the same text (drop a
		// trailing ".000" the server may send for DATETIME(3)).
		if t, err := time.Parse(timeLayout, out.Text); err == nil {
			out.Text = t.Format(timeLayout)
		}
	}
	return out, nil
}

// ordinal maps a splittable value to an integer on which ranges are
// computed: the integer itself, microseconds since 0001-01-01 for times
// (wall clock read as UTC, zone-less like DATETIME) and days for dates, both
// counted from 1970 (int64 microseconds cover years 0000..9999).
func ordinal(v Value) (*big.Int, error) {
	switch v.Kind {
	case KindInt, KindUint:
		n, ok := new(big.Int).SetString(v.Text, 10)
		if !ok {
			return nil, fmt.Errorf("bad integer key %q", v.Text)
		}
		return n, nil
	case KindTime:
		t, err := time.Parse(timeLayout, v.Text)
		if err != nil {
			return nil, fmt.Errorf("bad datetime key %q: %w", v.Text, err)
		}
		return big.NewInt(t.UnixMicro()), nil
	case KindDate:
		t, err := time.Parse(dateLayout, v.Text)
		if err != nil {
			return nil, fmt.Errorf("bad date key %q: %w", v.Text, err)
		}
		return big.NewInt(t.Unix() / 86400), nil
	}
	return nil, fmt.Errorf("key kind %s cannot be split into ranges", v.Kind)
}

// fromOrdinal is the inverse of ordinal for kind k; prec is the DATETIME
// fractional precision, so boundaries are values the column can hold.
func fromOrdinal(k Kind, n *big.Int, prec int) Value {
	switch k {
	case KindTime:
		us := n.Int64()
		if prec < 6 {
			unit := int64(1)
			for i := prec; i < 6; i++ {
				unit *= 10
			}
			us -= us % unit
		}
		return Value{Kind: k, Text: time.UnixMicro(us).UTC().Format(timeLayout)}
	case KindDate:
		return Value{Kind: k, Text: time.Unix(n.Int64()*86400, 0).UTC().Format(dateLayout)}
	default:
		return Value{Kind: k, Text: n.String()}
	}
}

// Key is a keyset cursor: one Value per ordering column.
type Key []Value

// String is the key as it appears in messages: "(3, \"a\")" or "17".
func (k Key) String() string {
	if len(k) == 1 {
		return k[0].String()
	}
	parts := make([]string, len(k))
	for i, v := range k {
		parts[i] = v.String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
