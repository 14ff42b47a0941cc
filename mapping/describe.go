package mapping

import (
	"github.com/apache/iotdb-client-go/v2/client"
)

// TimeUse says whether and how a column can be a mapping's time column.
type TimeUse uint8

const (
	TimeNo      TimeUse = iota // not a time column
	TimeWall                   // DATE or DATETIME: a wall clock, read in time.zone
	TimeInstant                // TIMESTAMP: an instant (stored in UTC)
	TimeEpoch                  // an integer epoch: needs time.unit
)

// ColumnInfo is what the converter makes of one source column, decided by
// the rules Compile applies (classify, the default type, deviceable): the
// facts a generated mapping rests on.
type ColumnInfo struct {
	// Family names the MySQL type family ("integer", "DATETIME", "text",
	// ...), as Compile's messages name it.
	Family string
	// Refused is why the column cannot be mapped at all (a type the bridge
	// does not map, a character set other than UTF-8); nil otherwise.
	Refused error
	// Type is the IoTDB type of a measurement of this column without a
	// declared type, under the default policies (bigint_unsigned: error,
	// decimal: double).
	Type client.TSDataType
	// Time says whether the column can be the time column.
	Time TimeUse
	// Device reports whether values of the column can name a device node or
	// a table-model tag.
	Device bool
	// Text is set for the text families (CHAR, VARCHAR, *TEXT, ENUM, SET),
	// whose values are names rather than readings more often than not.
	Text bool
	// BigUnsigned is set for BIGINT UNSIGNED: values above 2^63-1 make dirty
	// rows unless the mapping says bigint_unsigned: clip or string.
	BigUnsigned bool
	// Rounded is set for DECIMAL: the default DOUBLE rounds; type: STRING
	// keeps the exact digits.
	Rounded bool
}

// Describe returns the converter's view of c.
func Describe(c *Column) ColumnInfo {
	cc, err := newColConv(c, nil, 1e3)
	if err != nil {
		fam, _, cerr := classify(c)
		info := ColumnInfo{Refused: err}
		if cerr == nil {
			info.Family = fam.String()
		}
		return info
	}
	info := ColumnInfo{
		Family:      cc.fam.String(),
		Type:        cc.defaultType(false, false),
		Device:      cc.deviceable(),
		Text:        cc.fam == famText || cc.fam == famEnum || cc.fam == famSet,
		BigUnsigned: cc.fam == famInt && cc.width == 64 && cc.unsigned,
		Rounded:     cc.fam == famDecimal,
	}
	switch cc.fam {
	case famDate, famDateTime:
		info.Time = TimeWall
	case famTimestamp:
		info.Time = TimeInstant
	case famInt:
		if !cc.tinyBool && cc.width >= 32 {
			info.Time = TimeEpoch
		}
	}
	return info
}
