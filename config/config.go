package config

import (
	"net"
	"strconv"
	"strings"
)

// Values of the enum fields after Load (always lower case, except IoTDB
// type names, which are upper case).
const (
	ModelTree  = "tree"  // IoTDB.Model
	ModelTable = "table" // IoTDB.Model (IoTDB 2.x)

	OnUpdateOverwrite = "overwrite" // Mapping.OnUpdate: write the after-image
	OnUpdateIgnore    = "ignore"
	OnDeleteIgnore    = "ignore" // Mapping.OnDelete
	OnDeleteDelete    = "delete" // delete the point at (device, time) for the mapped measurements

	UnsignedError  = "error"  // Mapping.Unsigned: a BIGINT UNSIGNED above 2^63-1 is a dirty row
	UnsignedClip   = "clip"   // write 2^63-1
	UnsignedString = "string" // write the decimal text (the measurement must be STRING/TEXT)

	DecimalDouble = "double" // Mapping.Decimal
	DecimalString = "string" // exact text

	ZeroDateDirty = "dirty" // Mapping.ZeroDate
	ZeroDateNull  = "null"

	PrecisionAuto = "auto" // IoTDB.Precision: ask the server

	DirtySkip = "skip" // DirtyRows.Policy
	DirtyFail = "fail"
)

// Table returns the source table of that name (exact match).
func (c *Config) Table(name string) (*Table, bool) {
	for i := range c.MySQL.Tables {
		if c.MySQL.Tables[i].Name == name {
			return &c.MySQL.Tables[i], true
		}
	}
	return nil, false
}

// Mapping returns the mapping of that source table (exact match).
func (c *Config) Mapping(table string) (*Mapping, bool) {
	for i := range c.IoTDB.Mappings {
		if c.IoTDB.Mappings[i].Table == table {
			return &c.IoTDB.Mappings[i], true
		}
	}
	return nil, false
}

// PosOf returns where a field was written, e.g.
// PosOf("iotdb.mappings[0].measurements[2].type"); for a field that was
// not written, the position of its nearest enclosing node. Mapping compile
// uses it to point column errors at the right line.
func (c *Config) PosOf(path string) Pos {
	for {
		if p, ok := c.fields[path]; ok {
			return p
		}
		if path == "" {
			return Pos{File: c.Path}
		}
		path = parentPath(path)
	}
}

// parentPath strips the last ".key" or "[i]" from a field path.
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// IsAligned reports whether the device is written aligned (the default).
func (m *Mapping) IsAligned() bool {
	return m.Aligned == nil || *m.Aligned
}

// Template parses the device template (tree model). After a successful Load
// it cannot fail.
func (m *Mapping) Template() (DeviceTemplate, error) {
	return ParseDeviceTemplate(m.Device)
}

// Addr is "host:port" for net.Dial and the MySQL driver (IPv6 hosts bracketed).
func (m MySQL) Addr() string {
	return net.JoinHostPort(m.Host, strconv.Itoa(m.Port))
}
