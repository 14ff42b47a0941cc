package iotdbsink

import (
	"fmt"
	"strings"

	"github.com/apache/iotdb-client-go/v2/client"
)

// Systemic refusals (docs/delivery.md §7).
//
// A Rejection is systemic when IoTDB refuses it for the series, the device
// or the database rather than for the row: every later row of that series
// would be refused the same way, so recording them as dirty rows would
// empty the table into the dirty-rows file. Both engines stop instead,
// without acknowledging the rows (Rejection.Err says what to do). The
// classes (docs/iotdb.md §3.1, §3.2, §3.4, §3.5):
//
//	missing   the database or series does not exist and is not created
//	          (auto-create off, iotdb.create_schema false): 500
//	          DATABASE_NOT_EXIST, 508 PATH_NOT_EXIST, 616 COLUMN_NOT_EXIST, or
//	          507 "Database not exists ..." / "Path [..] does not exist" /
//	          "Column c does not exists or fails to be created"
//	type      the series exists with another type than the mapping writes:
//	          614 DATA_TYPE_MISMATCH, 507 "... is not consistent ...", or the
//	          sink's own check ("series ... exists with type ...")
//	aligned   the device exists with the other alignment: 507/609
//	          "Timeseries under this device is [not] aligned"
//	template  the mapping's device template cannot be put in place or
//	          does not fit: 510..516 (template errors), or the sink's own
//	          check ("device template ... has measurement ... as ...")
//
// Everything else stays a refusal of the row (a dirty row): an illegal path
// (509: the device value of that row), a timestamp out of TTL (607) or
// refused by the precision check, a value the sink cannot encode (code 0).
const (
	codeDataTypeMismatch = 614
	codeColumnNotExist   = 616
)

type systemicClass int

const (
	notSystemic systemicClass = iota
	systemicMissing
	systemicType
	systemicAligned
	systemicTemplate
)

func systemicClassOf(code int32, msg string) systemicClass {
	if code == 0 {
		return notSystemic // the sink refused the point itself (invalid value)
	}
	m := strings.ToLower(msg)
	switch {
	case code >= client.CreateTemplateError && code <= client.TemplateIncompatible, code == client.TemplateNotActivated,
		strings.Contains(m, "device template"):
		return systemicTemplate
	case strings.Contains(m, "under this device is"):
		return systemicAligned
	case code == codeDataTypeMismatch,
		strings.Contains(m, "is not consistent"),
		strings.Contains(m, "exists with type"):
		return systemicType
	case code == client.DatabaseNotExist, code == client.PathNotExist, code == codeColumnNotExist,
		code == client.MetadataError && (strings.Contains(m, "not exist") || strings.Contains(m, "fails to be created")):
		return systemicMissing
	}
	return notSystemic
}

// remedy is what the operator does about a systemic refusal.
func (c systemicClass) remedy() string {
	switch c {
	case systemicMissing:
		return "create the database and series in IoTDB, or set iotdb.create_schema: true (or IoTDB's enable_auto_create_schema)"
	case systemicType:
		return "align the mapping's measurement type with the existing series (measurements[].type), or drop or rename the series in IoTDB"
	case systemicAligned:
		return "make the mapping's aligned setting match the existing device, or drop the device in IoTDB"
	case systemicTemplate:
		return "make the mapping's device_template fit what IoTDB holds (the message says what differs), or remove device_template from the mapping"
	}
	return "fix the series in IoTDB or the mapping"
}

// Err is the error an engine stops with on a systemic rejection: it names
// the table, the device, IoTDB's status and message, and the remedy.
func (r *Rejection) Err(table string) error {
	return fmt.Errorf("table %s: IoTDB refuses every row of device %s (status %d: %s): not dirty rows, a schema problem: %s, then run again (these rows were not acknowledged and are written then)",
		table, r.Device, r.Code, r.Message, systemicClassOf(r.Code, r.Message).remedy())
}
