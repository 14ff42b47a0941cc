package config

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// RedactedPassword replaces a non-empty password in every formatted form of
// the configuration. An empty password stays empty, so "no password set" is
// still visible.
const RedactedPassword = "***"

func redact(s string) string {
	if s == "" {
		return ""
	}
	return RedactedPassword
}

// Redacted returns a copy with passwords replaced by RedactedPassword, safe
// to print or log. The copy shares nothing mutable with c.
func (c *Config) Redacted() *Config {
	if c == nil {
		return nil
	}
	r := *c
	r.MySQL = c.MySQL.redacted()
	r.IoTDB = c.IoTDB.redacted()
	return &r
}

func (m MySQL) redacted() MySQL {
	m.Password = redact(m.Password)
	m.Tables = slices.Clone(m.Tables)
	return m
}

func (db IoTDB) redacted() IoTDB {
	db.Password = redact(db.Password)
	db.Nodes = slices.Clone(db.Nodes)
	db.Mappings = slices.Clone(db.Mappings)
	for i := range db.Mappings {
		m := &db.Mappings[i]
		m.Tags = slices.Clone(m.Tags)
		m.Measurements = slices.Clone(m.Measurements)
		if m.Aligned != nil {
			a := *m.Aligned
			m.Aligned = &a
		}
	}
	return db
}

// The plain* types have the fields but none of the methods, so formatting
// them does not recurse into the methods below.
type (
	plainConfig Config
	plainMySQL  MySQL
	plainIoTDB  IoTDB
)

// String renders the configuration as YAML with passwords redacted (for
// --print-config and debugging).
func (c Config) String() string {
	out, err := yaml.Marshal(plainConfig(*c.Redacted()))
	if err != nil {
		return fmt.Sprintf("config: %v", err)
	}
	return string(out)
}

// GoString keeps %#v from printing passwords.
func (c Config) GoString() string {
	return strings.Replace(fmt.Sprintf("%#v", plainConfig(*c.Redacted())), "config.plainConfig", "config.Config", 1)
}

// String is a one-line form with the password redacted.
func (m MySQL) String() string { return fmt.Sprintf("%+v", plainMySQL(m.redacted())) }

// GoString keeps %#v from printing the password.
func (m MySQL) GoString() string {
	return strings.Replace(fmt.Sprintf("%#v", plainMySQL(m.redacted())), "config.plainMySQL", "config.MySQL", 1)
}

// MarshalJSON redacts the password (zerolog's Interface and slog's JSON
// handler marshal values with encoding/json).
func (m MySQL) MarshalJSON() ([]byte, error) { return json.Marshal(plainMySQL(m.redacted())) }

// MarshalYAML redacts the password.
func (m MySQL) MarshalYAML() (any, error) { return plainMySQL(m.redacted()), nil }

// String is a one-line form with the password redacted.
func (db IoTDB) String() string { return fmt.Sprintf("%+v", plainIoTDB(db.redacted())) }

// GoString keeps %#v from printing the password.
func (db IoTDB) GoString() string {
	return strings.Replace(fmt.Sprintf("%#v", plainIoTDB(db.redacted())), "config.plainIoTDB", "config.IoTDB", 1)
}

// MarshalJSON redacts the password.
func (db IoTDB) MarshalJSON() ([]byte, error) { return json.Marshal(plainIoTDB(db.redacted())) }

// MarshalYAML redacts the password.
func (db IoTDB) MarshalYAML() (any, error) { return plainIoTDB(db.redacted()), nil }
