package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// readSecrets reads mysql.password_file and iotdb.password_file into the
// passwords. A problem names the field, its line and the file, never what
// the file holds.
func readSecrets(c *Config, d *decoder) {
	readSecret(c, d, "mysql", &c.MySQL.Password, c.MySQL.PasswordFile)
	readSecret(c, d, "iotdb", &c.IoTDB.Password, c.IoTDB.PasswordFile)
}

func readSecret(c *Config, d *decoder, section string, password *string, file string) {
	field := section + ".password_file"
	at, given := d.seen[field]
	if !given || d.bad[field] {
		return
	}
	if pw, both := d.seen[section+".password"]; both {
		d.ps.addf(at, field, "password and password_file exclude each other (password is at line %d): give one", pw.Line)
		return
	}
	if strings.TrimSpace(file) == "" {
		d.ps.addf(at, field, "empty: name the file that holds the password, or remove the key")
		return
	}
	path := file
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(c.Path), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		d.ps.addf(at, field, "cannot read %s: %v", path, err)
		return
	}
	// Secrets written with echo or a YAML block end in a newline that is
	// not part of the password.
	s := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if s == "" {
		d.ps.addf(at, field, "%s is empty", path)
		return
	}
	*password = s
}

// implicitTables adds a mysql.tables entry for every mapped table that has
// none: a mapping names its table, and tables[] is needed only for what
// only it says (where, partition, cursor). The entry is placed at the
// mapping's line, so messages about it point there.
func implicitTables(c *Config, d *decoder) {
	for i := range c.IoTDB.Mappings {
		m := &c.IoTDB.Mappings[i]
		if m.Table == "" {
			continue
		}
		if _, ok := c.Table(m.Table); ok {
			continue
		}
		path := fmt.Sprintf("mysql.tables[%d]", len(c.MySQL.Tables))
		pos := d.seen[fmt.Sprintf("iotdb.mappings[%d]", i)]
		if pos.File == "" {
			pos = m.Pos
		}
		d.seen[path] = pos
		c.MySQL.Tables = append(c.MySQL.Tables, Table{Name: m.Table, Pos: pos})
	}
}
