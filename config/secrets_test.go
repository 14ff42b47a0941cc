package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTemp writes files (name -> content) into a fresh folder and returns it.
func writeTemp(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const noTablesConfig = `mysql:
  user: bridge
  database: factory
%s
iotdb:
  nodes: ["127.0.0.1:6667"]
%s
  mappings:
    - table: sensor_readings
      device: "root.factory.${device_id}"
      time: {column: created_at}
      measurements:
        - {column: temperature}
`

func withSections(mysql, iotdb string) string {
	s := strings.Replace(noTablesConfig, "%s", mysql, 1)
	return strings.Replace(s, "%s", iotdb, 1)
}

func TestPasswordFile(t *testing.T) {
	dir := writeTemp(t, map[string]string{
		"secrets/mysql": "s3cret-from-file\n", // as echo writes it: the newline is not the password's
		"iotdb.txt":     "iot pw\r\n",
		"config.yaml": withSections("  password_file: secrets/mysql",
			"  password_file: "+filepath.Join("${SECRETS_DIR}", "iotdb.txt")),
	})
	t.Setenv("SECRETS_DIR", dir)
	c, err := Load(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.MySQL.Password != "s3cret-from-file" {
		t.Errorf("mysql password %q, want the file's first line without its newline", c.MySQL.Password)
	}
	if c.IoTDB.Password != "iot pw" {
		t.Errorf("iotdb password %q (a password_file means no root default)", c.IoTDB.Password)
	}
	for _, out := range []string{c.String(), c.GoString(), c.MySQL.String(), c.IoTDB.String()} {
		if strings.Contains(out, "s3cret") || strings.Contains(out, "iot pw") {
			t.Errorf("a password read from a file is printed:\n%s", out)
		}
	}
}

func TestPasswordFileErrors(t *testing.T) {
	dir := writeTemp(t, map[string]string{"empty": "\n"})
	cases := map[string]struct{ mysql, iotdb, want string }{
		"both": {"  password: x\n  password_file: empty", "",
			"test.yaml:5: mysql.password_file: password and password_file exclude each other (password is at line 4): give one"},
		"missing": {"", "  password_file: " + filepath.Join(dir, "nope"),
			"test.yaml:7: iotdb.password_file: cannot read " + filepath.Join(dir, "nope") + ": no such file or directory"},
		"empty file": {"  password_file: " + filepath.Join(dir, "empty"), "",
			"test.yaml:4: mysql.password_file: " + filepath.Join(dir, "empty") + " is empty"},
		"empty path": {"  password_file: \"\"", "",
			"test.yaml:4: mysql.password_file: empty: name the file that holds the password, or remove the key"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := parseErr(t, withSections(tc.mysql, tc.iotdb)); got != tc.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestIoTDBRootPasswordDefault(t *testing.T) {
	cases := map[string]struct{ iotdb, want string }{
		"root, no password":        {"", "root"},
		"root written out":         {"  user: root", "root"},
		"explicit empty":           {"  password: \"\"", ""},
		"explicit other":           {"  password: other", "other"},
		"another user, no default": {"  user: bridge", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := mustParse(t, withSections("", tc.iotdb))
			if c.IoTDB.Password != tc.want {
				t.Errorf("iotdb.password %q, want %q", c.IoTDB.Password, tc.want)
			}
		})
	}
}

func TestMappedTableWithoutTablesEntry(t *testing.T) {
	text := `mysql:
  user: bridge
  database: factory
  tables:
    - name: readings_b
      where: "id > 10"
iotdb:
  nodes: ["127.0.0.1:6667"]
  mappings:
    - table: readings_a
      device: "root.factory.${device_id}"
      time: {column: created_at}
      measurements: [{column: temperature}]
    - table: readings_b
      device: "root.factory.${device_id}"
      time: {column: created_at}
      measurements: [{column: temperature}]
backfill:
  readers: 3
`
	c := mustParse(t, text)
	a, ok := c.Table("readings_a")
	if !ok {
		t.Fatalf("readings_a (mapped, not in mysql.tables) is not taken: %+v", c.MySQL.Tables)
	}
	if a.Partition.Count != 12 || a.Where != "" {
		t.Errorf("readings_a: %+v, want the defaults (count 4 x readers)", a)
	}
	if a.Pos.Line != 10 || c.PosOf("mysql.tables[1]").Line != 10 {
		t.Errorf("readings_a is placed at %v / %v, want the mapping's line 10", a.Pos, c.PosOf("mysql.tables[1]"))
	}
	if b, _ := c.Table("readings_b"); b.Where != "id > 10" {
		t.Errorf("readings_b lost its where: %+v", b)
	}
	if len(c.MySQL.Tables) != 2 {
		t.Errorf("tables %+v, want each once", c.MySQL.Tables)
	}
}

func TestLoadForDiscovery(t *testing.T) {
	dir := writeTemp(t, map[string]string{
		"config.yaml": `mysql:
  user: bridge
  database: factory
  tables:
    - name: planned_later
      where: "id > 10"
iotdb:
  nodes: ["127.0.0.1:6667"]
  mappings_dir: mappings
`,
		"mappings/.keep": "",
	})
	path := filepath.Join(dir, "config.yaml")
	c, err := LoadForDiscovery(path)
	if err != nil {
		t.Fatalf("a configuration without mappings must load for discovery: %v", err)
	}
	if c.IoTDB.MappingsDir != "mappings" || len(c.IoTDB.Mappings) != 0 {
		t.Errorf("loaded %+v", c.IoTDB)
	}
	// Load itself still wants the mappings.
	_, err = Load(path)
	if err == nil || !strings.Contains(err.Error(), "iotdb.mappings: at least one mapping is required") ||
		!strings.Contains(err.Error(), `table "planned_later" has no mapping`) {
		t.Errorf("Load: %v", err)
	}
	// The folder discover writes into need not exist yet; Load still wants it.
	fresh := writeTemp(t, map[string]string{"config.yaml": "mysql:\n  user: bridge\n  database: factory\niotdb:\n  nodes: [\"127.0.0.1:6667\"]\n  mappings_dir: not-yet\n"})
	if _, err := LoadForDiscovery(filepath.Join(fresh, "config.yaml")); err != nil {
		t.Errorf("LoadForDiscovery with a mappings_dir that does not exist yet: %v", err)
	}
	if _, err := Load(filepath.Join(fresh, "config.yaml")); err == nil || !strings.Contains(err.Error(), "iotdb.mappings_dir: cannot read folder") {
		t.Errorf("Load with a missing mappings_dir: %v", err)
	}
	// Every other rule holds for discovery too.
	bad := writeTemp(t, map[string]string{"config.yaml": "mysql:\n  user: bridge\n  database: factory\n  tls: maybe\niotdb:\n  nodes: [\"127.0.0.1:6667\"]\n"})
	if _, err := LoadForDiscovery(filepath.Join(bad, "config.yaml")); err == nil || !strings.Contains(err.Error(), "config.yaml:4: mysql.tls") {
		t.Errorf("LoadForDiscovery of a bad file: %v", err)
	}
}
