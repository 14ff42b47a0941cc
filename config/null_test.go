package config

import (
	"bufio"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestNullWordValues: a key whose allowed values include the word null
// takes an unquoted YAML null (null, Null, NULL, ~) as that word, the way
// config.example.yaml writes it, instead of as "not set".
func TestNullWordValues(t *testing.T) {
	for _, spelling := range []string{"null", "Null", "NULL", "~", `"null"`, "'null'", "!!null null"} {
		text := strings.Replace(minimal, "      time: {column: created_at}\n",
			"      time: {column: created_at}\n      zero_date: "+spelling+"\n", 1)
		c := mustParse(t, text)
		if got := c.IoTDB.Mappings[0].ZeroDate; got != ZeroDateNull {
			t.Errorf("zero_date: %s loaded as %q, want %q", spelling, got, ZeroDateNull)
		}
		if p := c.PosOf("iotdb.mappings[0].zero_date"); p.Line != 12 {
			t.Errorf("zero_date: %s: position %s, want test.yaml:12", spelling, p)
		}
	}
	// An empty value is "not set", as for every other key.
	c := mustParse(t, strings.Replace(minimal, "      time: {column: created_at}\n",
		"      time: {column: created_at}\n      zero_date:\n", 1))
	if got := c.IoTDB.Mappings[0].ZeroDate; got != ZeroDateDirty {
		t.Errorf("zero_date with no value loaded as %q, want the default %q", got, ZeroDateDirty)
	}
	// The same in a mappings_dir file.
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/m.yaml", []byte("table: sensor_readings\ndevice: root.factory.${site}.${device_id}\n"+
		"time: {column: created_at}\nmeasurements: [{column: temperature}]\nzero_date: ~\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	main := strings.Replace(minimal[:strings.Index(minimal, "  mappings:")], "iotdb:\n", "iotdb:\n  mappings_dir: .\n", 1)
	c, err := Parse([]byte(main), dir+"/main.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.IoTDB.Mappings[0].ZeroDate; got != ZeroDateNull {
		t.Errorf("zero_date: ~ in a mapping file loaded as %q, want %q", got, ZeroDateNull)
	}
}

// TestExampleNullKeys finds every key of config.example.yaml whose comment
// lists null among its values and checks that its field takes an unquoted
// null as the word (nullIsWord), and that the example loads with
// each of them written as a bare null.
func TestExampleNullKeys(t *testing.T) {
	t.Setenv("MYSQL_PASSWORD", "example-secret")
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// "key: value   # a | b | null" (null as one of the |-separated values).
	re := regexp.MustCompile(`^(\s*)([a-z_]+):\s*[^#]*#.*(\|\s*(null|~)\b|\b(null|~)\s*\|)`)
	type field struct {
		owner reflect.Type
		reflect.StructField
	}
	fields := map[string][]field{}
	var walk func(reflect.Type)
	seenT := map[reflect.Type]bool{}
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seenT[t] {
			return
		}
		seenT[t] = true
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name != "" && name != "-" {
				fields[name] = append(fields[name], field{t, f})
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[Config]())

	var keys []string
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	for i, line := range lines {
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key := m[2]
		keys = append(keys, key)
		fs := fields[key]
		if len(fs) == 0 {
			t.Errorf("config.example.yaml:%d: key %s lists null but no field has that yaml name", i+1, key)
		}
		for _, f := range fs {
			if !nullIsWord(f.owner, f.Name) {
				t.Errorf("config.example.yaml:%d: key %s lists null as a value, but nullIsWord does not list %s.%s: an unquoted null would be taken as not set", i+1, key, f.owner.Name(), f.Name)
			}
		}
		// The example with this key written as a bare null loads it as "null".
		edited := append([]string(nil), lines...)
		edited[i] = m[1] + key + ": null"
		c, err := Parse([]byte(strings.Join(edited, "\n")), "../config.example.yaml")
		if err != nil {
			t.Errorf("example with %s: null: %v", key, err)
			continue
		}
		if got := c.IoTDB.Mappings[0].ZeroDate; key == "zero_date" && got != "null" {
			t.Errorf("example with %s: null loaded as %q", key, got)
		}
	}
	if len(keys) == 0 {
		t.Fatal("no key of config.example.yaml lists null: the pattern is stale")
	}
}
