package mapping

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// canonicalJSON rewrites a JSON document into one canonical text so that the
// SQL path (the server's rendering: `{"a": 1.0, "b": [1, 2]}`) and the binlog
// path (go-mysql's re-encoding of binary JSON: `{"a":1,"b":[1,2]}`, with
// json.Marshal number and HTML escapes, or MySQL-like text with
// RenderJSONAsMySQLText) give the identical string:
//
//   - object member order is kept as given (both paths list members in
//     MySQL's storage order: by key length, then bytes);
//   - separators are MySQL's: ", " between items and ": " after keys;
//   - numbers are parsed as float64 and printed the way encoding/json prints
//     a float64 (1.0 -> 1, 1e15 -> 1000000000000000, 1e21 -> 1e+21,
//     1.10 -> 1.1), because the binlog path has already lost the spelling
//     of doubles (and MySQL's int/double distinction); integers beyond 2^53
//     keep their exact digits;
//   - strings are re-escaped minimally: \" \\ \b \f \n \r \t, other control
//     characters as \u00xx, everything else (including <, >, & and non-ASCII)
//     literally.
//
// An empty document (binlog: []byte{} for an empty JSON value) is "null", as
// MySQL reads it. Text that is not valid JSON is returned unchanged (it can
// only come from a non-validated column, and both paths carry the same bytes).
func canonicalJSON(in []byte) string {
	if len(bytes.TrimSpace(in)) == 0 {
		return "null"
	}
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	var out strings.Builder
	out.Grow(len(in) + len(in)/8)
	if err := writeCanonical(dec, &out); err != nil {
		return string(in)
	}
	if _, err := dec.Token(); err != io.EOF {
		return string(in) // trailing garbage
	}
	return out.String()
}

// writeCanonical copies one JSON value from dec to out.
func writeCanonical(dec *json.Decoder, out *strings.Builder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		closing := json.Delim('}')
		if t == '[' {
			closing = ']'
		}
		out.WriteByte(byte(t))
		first := true
		for dec.More() {
			if !first {
				out.WriteString(", ")
			}
			first = false
			if t == '{' {
				key, err := dec.Token()
				if err != nil {
					return err
				}
				ks, ok := key.(string)
				if !ok {
					return io.ErrUnexpectedEOF
				}
				writeJSONString(out, ks)
				out.WriteString(": ")
			}
			if err := writeCanonical(dec, out); err != nil {
				return err
			}
		}
		end, err := dec.Token()
		if err != nil {
			return err
		}
		if end != closing {
			return io.ErrUnexpectedEOF
		}
		out.WriteByte(byte(closing))
	case string:
		writeJSONString(out, t)
	case json.Number:
		out.WriteString(canonicalNumber(string(t)))
	case bool:
		if t {
			out.WriteString("true")
		} else {
			out.WriteString("false")
		}
	case nil:
		out.WriteString("null")
	}
	return nil
}

func canonicalNumber(s string) string {
	digits := strings.TrimPrefix(s, "-")
	isInt := digits != ""
	for i := 0; i < len(digits); i++ {
		if !isDigit(digits[i]) {
			isInt = false
			break
		}
	}
	if isInt && len(digits) >= 16 {
		// An integer beyond 2^53 keeps its exact digits. A double of that size
		// prints as the same digits below (shortest round-trip, 'f' format),
		// so both spellings of one value still agree.
		if u, err := strconv.ParseUint(digits, 10, 64); err == nil && u > 1<<53 {
			return s
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s // out of float64 range: keep the spelling
	}
	// encoding/json's float format (ES6 style): 'f' unless tiny or huge.
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b := strconv.AppendFloat(make([]byte, 0, 24), f, format, -1, 64)
	if format == 'e' {
		// 1e-07 -> 1e-7
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return string(b)
}

func writeJSONString(out *strings.Builder, s string) {
	const hexdigits = "0123456789abcdef"
	out.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			if c < utf8.RuneSelf {
				out.WriteByte(c)
				i++
				continue
			}
			r, size := utf8.DecodeRuneInString(s[i:])
			out.WriteRune(r) // invalid bytes become U+FFFD, as json.Decoder already did
			i += size
			continue
		}
		switch c {
		case '"':
			out.WriteString(`\"`)
		case '\\':
			out.WriteString(`\\`)
		case '\b':
			out.WriteString(`\b`)
		case '\f':
			out.WriteString(`\f`)
		case '\n':
			out.WriteString(`\n`)
		case '\r':
			out.WriteString(`\r`)
		case '\t':
			out.WriteString(`\t`)
		default:
			out.WriteString(`\u00`)
			out.WriteByte(hexdigits[c>>4])
			out.WriteByte(hexdigits[c&0xF])
		}
		i++
	}
	out.WriteByte('"')
}
